"""Fault injection state and per-request decisions (server-semantics doc 11 for what each fault
imitates). Pure: the server asks :meth:`Faults.decide` for every data request.

Rules can be set everywhere, per replica (index) or per partition (app_id, index). For one
request the added delays of all matching scopes add up; for each fraction the largest matching
value applies. One uniform draw picks the outcome, so every fraction is exact on its own:
``close`` (connection cut, request not executed), ``drop`` (not executed, never answered, like
``replica.deny_client_request = timeout*all``), ``busy`` (frame ERR_BUSY, not executed).
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, fields

SERVE, BUSY, DROP, CLOSE = "serve", "busy", "drop", "close"
FRACTIONS = ("close_fraction", "drop_fraction", "busy_fraction")


class FaultError(ValueError):
    """A fault setting out of range (names the setting)."""


@dataclass
class FaultRule:
    delay_ms: float = 0.0
    busy_fraction: float = 0.0
    drop_fraction: float = 0.0
    close_fraction: float = 0.0

    def update(self, **values) -> None:
        for name, v in values.items():
            if v is None:
                continue
            if name not in FIELD_NAMES:
                raise FaultError(f"unknown fault setting {name!r} (known: {', '.join(FIELD_NAMES)})")
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise FaultError(f"{name} must be a number, not {v!r}") from None
            if name == "delay_ms" and not 0 <= v <= 3_600_000:
                raise FaultError(f"delay_ms must be within 0..3600000, not {v}")
            if name != "delay_ms" and not 0.0 <= v <= 1.0:
                raise FaultError(f"{name} must be a fraction within 0..1, not {v}")
            setattr(self, name, v)
        if self.busy_fraction + self.drop_fraction + self.close_fraction > 1.0 + 1e-9:
            raise FaultError("busy_fraction + drop_fraction + close_fraction must not exceed 1")

    def is_noop(self) -> bool:
        return not (self.delay_ms or self.busy_fraction or self.drop_fraction or self.close_fraction)


FIELD_NAMES = tuple(f.name for f in fields(FaultRule))


class Faults:
    def __init__(self, rng: random.Random | None = None, clock=time.monotonic) -> None:
        self._rng = rng or random.Random()
        self._clock = clock
        self.everywhere = FaultRule()
        self.by_replica: dict[int, FaultRule] = {}
        self.by_partition: dict[tuple[int, int], FaultRule] = {}
        self.stalled_until: dict[int, float] = {}
        self.active = False  # fast path: no rule set at all

    def set(self, replica: int | None = None, partition: tuple[int, int] | None = None, **values) -> None:
        if replica is not None and partition is not None:
            raise FaultError("a fault rule applies to a replica or to a partition, not both")
        if replica is not None:
            rule = self.by_replica.setdefault(replica, FaultRule())
        elif partition is not None:
            rule = self.by_partition.setdefault(tuple(partition), FaultRule())
        else:
            rule = self.everywhere
        trial = FaultRule(**asdict(rule))
        trial.update(**values)  # validate before changing anything
        rule.update(**values)
        self._refresh()

    def clear(self) -> None:
        self.everywhere = FaultRule()
        self.by_replica.clear()
        self.by_partition.clear()
        self.stalled_until.clear()
        self._refresh()

    def _refresh(self) -> None:
        self.by_replica = {k: r for k, r in self.by_replica.items() if not r.is_noop()}
        self.by_partition = {k: r for k, r in self.by_partition.items() if not r.is_noop()}
        self.active = bool(not self.everywhere.is_noop() or self.by_replica or self.by_partition)

    def stall(self, replicas, seconds: float) -> None:
        if not 0 <= seconds <= 3600:
            raise FaultError(f"stall seconds must be within 0..3600, not {seconds}")
        until = self._clock() + seconds
        for r in replicas:
            self.stalled_until[r] = until

    def stall_remaining(self, replica: int) -> float:
        until = self.stalled_until.get(replica)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self.stalled_until[replica]
            return 0.0
        return left

    def decide(self, replica: int, gpid: tuple[int, int] | None) -> tuple[str, float]:
        """``(outcome, reply delay in seconds)`` for one request."""
        rules = [self.everywhere]
        r = self.by_replica.get(replica)
        if r is not None:
            rules.append(r)
        if gpid is not None:
            p = self.by_partition.get(gpid)
            if p is not None:
                rules.append(p)
        delay = sum(x.delay_ms for x in rules) / 1000.0
        u = self._rng.random()
        edge = 0.0
        for name, outcome in zip(FRACTIONS, (CLOSE, DROP, BUSY)):
            edge += max(getattr(x, name) for x in rules)
            if u < edge:
                return outcome, delay
        return SERVE, delay

    def describe(self) -> dict:
        return {
            "everywhere": asdict(self.everywhere),
            "by_replica": {str(k): asdict(v) for k, v in self.by_replica.items()},
            "by_partition": {f"{k[0]}.{k[1]}": asdict(v) for k, v in self.by_partition.items()},
            "stalled": {str(k): round(self.stall_remaining(k), 3) for k in list(self.stalled_until)},
        }
