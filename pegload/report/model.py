"""The run model the coordinator hands to the report writer: measurements plus metadata.

The coordinator builds one :class:`RunResult` at the end of a run (also after Ctrl-C or a crashed
worker) and calls :func:`pegload.report.write_report`. Everything in the report is derived from
it through :func:`pegload.report.summary.build_summary`; compare and check read only the
resulting ``summary.json``.
"""
from __future__ import annotations

import os
import platform
import socket
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from pegload import __version__
from pegload.metrics import RunAccumulator


@dataclass(frozen=True)
class PhaseInfo:
    """One phase as the coordinator ran it. ``start``/``end`` are wall-clock seconds of the
    measured part (after any warm-up); ``planned_*`` and ``mode``/``target_rate`` describe the
    load shape for comparability checks. ``planned_s`` is the schedule's length (open loop: the
    throughput's denominator); ``late_sent`` the ops sent after it (the drain), ``unsent`` the ops
    assigned to lost workers and never sent."""

    name: str
    kind: str = "run"  # "load" (writes the data set, reported on its own) or "run"
    start: float | None = None
    end: float | None = None
    mode: str = "closed"  # "closed" (as fast as the greenlets go) or "open" (target rate)
    target_rate: float | None = None  # total ops/s in open loop
    planned_duration_s: float | None = None
    planned_ops: int | None = None
    warmup_s: float = 0.0
    ramp: dict[str, Any] | None = None
    dropped: int = 0  # open loop: scheduled ops never started before the phase ended
    stopped_early: bool = False
    planned_s: float | None = None
    late_sent: int = 0
    unsent: int = 0
    arrivals: str | None = None

    def shape(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode,
                "target_rate": self.target_rate, "duration_s": self.planned_duration_s,
                "ops": self.planned_ops, "warmup_s": self.warmup_s, "ramp": self.ramp}


@dataclass(frozen=True)
class TargetFingerprint:
    """What the load ran against, recorded so comparisons can say which cluster was which."""

    kind: str = "onebox"  # "onebox" (embedded) or "cluster"
    meta: tuple[str, ...] = ()
    table: str = ""
    app_id: int | None = None
    partition_count: int | None = None
    replica_servers: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None  # the target's name in a multi-target scenario
    server_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. onebox settings (delay_ms)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["meta"], data["replica_servers"] = list(self.meta), list(self.replica_servers)
        return data

    @property
    def display_name(self) -> str:
        return target_display_name(self.to_dict())


def target_display_name(target: dict[str, Any]) -> str:
    """How a target is named in tables and pages (summary.json ``target`` dict or a
    :class:`TargetFingerprint`): its name in the scenario, else ``onebox/<table>`` or
    ``<metas>/<table>``. The one place this is decided."""
    if target.get("name"):
        return str(target["name"])
    if target.get("kind") == "onebox":
        return f"onebox/{target.get('table') or 'temp'}"
    return f"{','.join(target.get('meta') or ()) or '?'}/{target.get('table')}"


@dataclass(frozen=True)
class Validity:
    """Whether the numbers can be trusted, and if not why (client CPU saturated, schedule not
    kept, ...). Decided by the coordinator's self-check."""

    valid: bool = True
    reasons: tuple[str, ...] = ()  # one sentence each, with its figure and limit
    details: tuple[dict[str, Any], ...] = ()  # the same reasons as data: reason, culprit, phase, value, limit
    limited_by: str | None = None  # "client", "target" or "run" (a lost worker); None when valid
    # findings that leave the run VALID but make some latency stats of a phase untrustworthy
    # (``stats``: e.g. ["p999", "max"]); the gate and SLOs do not judge those stats
    cautions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunStatus:
    exit_code: int = 0
    interrupted: bool = False  # Ctrl-C
    crashed_workers: tuple[dict[str, Any], ...] = ()  # [{"worker_id": 1, "reason": "..."}]
    error: str | None = None  # a fatal error that ended the run early

    @property
    def state(self) -> str:
        if self.crashed_workers:
            return "crashed"
        if self.interrupted:
            return "interrupted"
        if self.error:
            return "failed"
        return "completed"


@dataclass
class RunResult:
    """Everything one run produced. The exact constructor the coordinator calls::

        RunResult(accumulator, scenario=scenario.to_dict(), scenario_name="readheavy",
                  scenario_hash=pegload.scenario.scenario_hash(scenario),
                  target=TargetFingerprint(...), phases=[PhaseInfo(...), ...],
                  started_at=t0, ended_at=t1, workers=2, concurrency=16, seed=42,
                  validity=Validity(False, ("worker 1 CPU 97% > 90%",)),
                  status=RunStatus(exit_code=0), self_check={...})

    ``accumulator`` must be finished (:meth:`RunAccumulator.finish`); this is done here if not.
    """

    accumulator: RunAccumulator
    scenario: dict[str, Any]
    scenario_name: str
    scenario_hash: str  # pegload.scenario.scenario_hash: identifies the load, not the target
    target: TargetFingerprint
    phases: list[PhaseInfo]
    started_at: float
    ended_at: float
    workers: int = 1
    concurrency: int = 1
    seed: int | None = None
    validity: Validity = field(default_factory=Validity)
    status: RunStatus = field(default_factory=RunStatus)
    self_check: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] | None = None  # default: collect_environment()
    run_id: str | None = None  # default: "<scenario_name>-<UTC start time>"
    # a distributed run's agents (pegload.distributed.report) and each one's own intervals
    agents: list[dict[str, Any]] = field(default_factory=list)
    agent_intervals: dict[int, list[Any]] = field(default_factory=dict)
    # the servers' own view (coordinator.server_metrics.summarize) and the scenario's events as
    # run (coordinator.events.EventRunner records); see docs/server-metrics.md
    server: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.accumulator.open_intervals:
            self.accumulator.finish()
        if self.environment is None:
            self.environment = collect_environment()
        if self.run_id is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started_at))
            self.run_id = f"{self.scenario_name}-{stamp}"

    def load_shape(self) -> dict[str, Any]:
        return {"workers": self.workers, "concurrency": self.concurrency,
                "phases": [p.shape() for p in self.phases]}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect_environment() -> dict[str, Any]:
    """Where the load generator ran: enough to explain why two runs differ."""
    return {
        "pegload_version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "gevent": _version("gevent"),
        "hdrhistogram": _version("hdrhistogram"),
    }
