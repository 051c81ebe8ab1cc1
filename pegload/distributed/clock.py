"""Clock offset between the coordinator and an agent's host: NTP's estimate from ping exchanges.

One exchange: the coordinator stamps ``t0`` and sends a ping; the agent stamps ``t1`` when it
reads it and ``t2`` when it answers; the coordinator stamps ``t3`` on the answer. All four are
wall-clock seconds (``time.time()``) on their own hosts. Then::

    offset = ((t1 - t0) + (t2 - t3)) / 2      agent clock minus coordinator clock
    rtt    = (t3 - t0) - (t2 - t1)            time on the wire, both ways
    |true offset - offset| <= rtt / 2         whatever the split between the two directions

Of several exchanges the one with the smallest round trip has the tightest bound; its offset is
the estimate. Pure functions: no sockets here.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# How many exchanges the coordinator makes with each agent before the run starts.
SAMPLES = 8
# An offset whose uncertainty exceeds this fraction of the report's interval can move ops across
# an interval boundary and shift the agent's share of the common start by as much: the run is
# NOT VALID. 1% of a 1 s interval is 10 ms, far above what NTP keeps on a LAN (well under 1 ms).
MAX_UNCERTAINTY_FRACTION = 0.01


@dataclass(frozen=True)
class Exchange:
    t0: float  # coordinator: ping sent
    t1: float  # agent: ping received
    t2: float  # agent: pong sent
    t3: float  # coordinator: pong received

    @property
    def offset(self) -> float:
        return ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2.0

    @property
    def rtt(self) -> float:
        return max((self.t3 - self.t0) - (self.t2 - self.t1), 0.0)


@dataclass(frozen=True)
class ClockOffset:
    """The min-RTT estimate: ``offset_s`` (agent minus coordinator), within ``bound_s``."""

    offset_s: float
    bound_s: float
    rtt_s: float
    samples: int

    def to_agent(self, t: float) -> float:
        """A coordinator wall-clock instant, read on the agent's clock."""
        return t + self.offset_s

    def to_coordinator(self, t: float) -> float:
        return t - self.offset_s

    def as_dict(self) -> dict[str, float | int]:
        return {"offset_us": round(self.offset_s * 1e6), "bound_us": round(self.bound_s * 1e6),
                "rtt_us": round(self.rtt_s * 1e6), "samples": self.samples}


def estimate(exchanges: Iterable[Exchange]) -> ClockOffset:
    """The offset of the exchange with the smallest round trip. Raises ``ValueError`` if empty."""
    xs = list(exchanges)
    if not xs:
        raise ValueError("clock offset: no ping exchange completed")
    best = min(xs, key=lambda x: x.rtt)
    return ClockOffset(best.offset, best.rtt / 2.0, best.rtt, len(xs))


def uncertainty_limit_s(interval_s: float) -> float:
    """The largest offset uncertainty a run with ``interval_s`` intervals accepts."""
    return MAX_UNCERTAINTY_FRACTION * interval_s


def uncertainty_reason(agent: str, clock: ClockOffset, interval_s: float) -> str | None:
    """A NOT VALID reason when ``clock``'s bound is too wide for the run's intervals, else None."""
    limit = uncertainty_limit_s(interval_s)
    if clock.bound_s <= limit:
        return None
    return (f"{agent}: clock offset uncertain by up to {clock.bound_s * 1e3:.1f} ms "
            f"(round trip {clock.rtt_s * 1e3:.1f} ms), more than {limit * 1e3:g} ms "
            f"({MAX_UNCERTAINTY_FRACTION:.0%} of the {interval_s:g} s interval)")
