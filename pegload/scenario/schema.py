"""The validated scenario: frozen dataclasses with every default resolved.

``Scenario.to_dict()`` gives the effective scenario in the same shape as the YAML file (durations
in seconds), so it can be stored in ``summary.json`` and loaded again as a scenario.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import EventSpec, ServerMetricsSettings
from .ops import OPS, OpInfo
from .thresholds import Threshold

DISTRIBUTIONS = ("uniform", "zipfian", "latest", "hotspot", "sequential")
MODES = ("closed", "open")
# open-loop arrival processes (pegload.workload.schedule): evenly spaced slots or a Poisson process
ARRIVALS = ("uniform", "poisson")


@dataclass(frozen=True)
class KeyChoice:
    """How an op picks its keys. ``theta`` is used by zipfian and latest; ``hot_fraction`` (share
    of the keys that are hot) and ``hot_ops`` (share of the ops that go to them) by hotspot."""

    distribution: str = "uniform"
    theta: float = 0.99
    hot_fraction: float = 0.2
    hot_ops: float = 0.8

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"distribution": self.distribution}
        if self.distribution in ("zipfian", "latest"):
            out["theta"] = self.theta
        if self.distribution == "hotspot":
            out["hot_fraction"] = self.hot_fraction
            out["hot_ops"] = self.hot_ops
        return out


@dataclass(frozen=True)
class ValueSize:
    """Value sizes in bytes: ``fixed`` (sizes=(n,)), ``uniform`` (sizes=(lo, hi), inclusive) or
    ``weighted`` (sizes with matching weights)."""

    kind: str
    sizes: tuple[int, ...]
    weights: tuple[float, ...] = ()

    @property
    def min_size(self) -> int:
        return min(self.sizes)

    @property
    def max_size(self) -> int:
        return max(self.sizes)

    def to_dict(self) -> Any:
        if self.kind == "fixed":
            return self.sizes[0]
        if self.kind == "uniform":
            return {"uniform": list(self.sizes)}
        return {"weighted": [[s, w] for s, w in zip(self.sizes, self.weights)]}


@dataclass(frozen=True)
class OneboxSettings:
    """An embedded onebox started for the run."""

    partitions: int = 8
    replicas: int = 3
    table: str = "temp"
    delay_ms: float = 0.0
    failure_detection_s: float = 10.0  # until the meta declares a killed replica server dead

    def to_dict(self) -> dict:
        out = {"partitions": self.partitions, "replicas": self.replicas, "table": self.table,
               "delay_ms": self.delay_ms}
        if self.failure_detection_s != 10.0:
            out["failure_detection"] = self.failure_detection_s
        return out


@dataclass(frozen=True)
class Target:
    """Where the load goes: an embedded onebox (``onebox`` set) or a cluster (``meta`` + ``table``).
    ``labels`` are the scenario's labels merged with the target's own (recorded in the run's
    fingerprint)."""

    name: str
    onebox: OneboxSettings | None = None
    meta: tuple[str, ...] = ()
    table: str = ""
    labels: dict = field(default_factory=dict)

    @property
    def is_onebox(self) -> bool:
        return self.onebox is not None

    @property
    def table_name(self) -> str:
        return self.onebox.table if self.onebox is not None else self.table

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.onebox is not None:
            out["onebox"] = self.onebox.to_dict()
        else:
            out["meta"] = list(self.meta)
            out["table"] = self.table
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class DataLayout:
    hash_keys: int = 1000
    sort_keys: int = 10  # per hash key
    value_size: ValueSize = ValueSize("fixed", (100,))
    ttl: int = 0  # seconds, 0 = no TTL

    @property
    def records(self) -> int:
        return self.hash_keys * self.sort_keys

    def to_dict(self) -> dict:
        return {"hash_keys": self.hash_keys, "sort_keys": self.sort_keys,
                "value_size": self.value_size.to_dict(), "ttl": self.ttl}


@dataclass(frozen=True)
class LoadPhase:
    """Writes the data set before the phases: every record once, ``batch`` sort keys per call
    (multi_set; 1 = set), closed loop unless ``rate`` (ops/s) is given."""

    enabled: bool = True
    batch: int = 10
    rate: float | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"enabled": self.enabled, "batch": self.batch}
        if self.rate is not None:
            out["rate"] = self.rate
        return out


@dataclass(frozen=True)
class Ramp:
    """Linear rate ramp from ``start_rate`` to the phase rate over ``duration_s`` from the phase
    start (warm-up included)."""

    start_rate: float
    duration_s: float

    def to_dict(self) -> dict:
        return {"from": self.start_rate, "over": self.duration_s}


@dataclass(frozen=True)
class OpSpec:
    """One entry of a phase mix. ``keys`` is the effective key choice (op's own, else the phase's,
    else uniform); None for table-wide ops. ``params`` holds every parameter of the op (see
    ``pegload.scenario.ops``) with defaults filled in; ``ttl`` is resolved against data.ttl."""

    name: str
    weight: float
    keys: KeyChoice | None
    params: dict

    @property
    def info(self) -> OpInfo:
        return OPS[self.name]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"weight": self.weight}
        if self.keys is not None:
            out["keys"] = self.keys.to_dict()
        out.update(self.params)
        return out


@dataclass(frozen=True)
class Phase:
    """A measured phase. Exactly one of ``duration_s`` / ``ops`` is set. The warm-up runs first
    and is not counted. Open loop (``mode == "open"``) paces ``rate`` ops/s in total over all
    workers; closed loop runs as fast as the greenlets go."""

    name: str
    mix: tuple[OpSpec, ...]
    duration_s: float | None = None
    ops: int | None = None
    warmup_s: float = 0.0
    mode: str = "closed"
    rate: float | None = None
    ramp: Ramp | None = None
    thresholds: tuple[Threshold, ...] = ()
    arrivals: str = "uniform"  # open loop: "uniform" (evenly spaced slots) or "poisson"

    @property
    def open_loop(self) -> bool:
        return self.mode == "open"

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(op.name for op in self.mix)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.duration_s is not None:
            out["duration"] = self.duration_s
        if self.ops is not None:
            out["ops"] = self.ops
        out["warmup"] = self.warmup_s
        out["mode"] = self.mode
        if self.rate is not None:
            out["rate"] = self.rate
        if self.ramp is not None:
            out["ramp"] = self.ramp.to_dict()
        if self.arrivals != "uniform":  # the default stays out, so earlier scenarios keep their hash
            out["arrivals"] = self.arrivals
        out["mix"] = {op.name: op.to_dict() for op in self.mix}
        if self.thresholds:
            out["thresholds"] = [t.text for t in self.thresholds]
        return out


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with every default resolved (``workers`` included)."""

    name: str
    source: str  # the file it was loaded from
    targets: tuple[Target, ...]
    phases: tuple[Phase, ...]
    description: str = ""
    labels: dict = field(default_factory=dict)
    seed: int = 1
    workers: int = 1
    concurrency: int = 8
    timeout_ms: int = 1000
    data: DataLayout = DataLayout()
    load: LoadPhase = LoadPhase()
    verify: bool = False
    thresholds: tuple[Threshold, ...] = ()
    events: tuple[EventSpec, ...] = ()
    server_metrics: ServerMetricsSettings = ServerMetricsSettings()

    @property
    def target(self) -> Target:
        """The first (usually only) target."""
        return self.targets[0]

    def to_dict(self) -> dict:
        """The effective scenario, JSON-safe, in the YAML file's shape (loadable again)."""
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if len(self.targets) == 1:
            out["target"] = self.targets[0].to_dict()
        else:
            out["targets"] = [t.to_dict() for t in self.targets]
        if self.labels:
            out["labels"] = dict(self.labels)
        out.update(seed=self.seed, workers=self.workers, concurrency=self.concurrency, timeout_ms=self.timeout_ms,
                   data=self.data.to_dict(), load=self.load.to_dict(), verify=self.verify,
                   phases=[p.to_dict() for p in self.phases])
        if self.thresholds:
            out["thresholds"] = [t.text for t in self.thresholds]
        if self.events:
            out["events"] = [e.to_dict() for e in self.events]
        out["server_metrics"] = self.server_metrics.to_dict()
        return out
