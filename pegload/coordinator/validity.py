"""Judging a run's own numbers: was the client, not the server, the bottleneck?

Every latency a worker records includes the worker's own delays. When a worker's CPU is nearly
saturated, when its event loop was blocked, when the pacer could not release ops on time, or when
an open-loop schedule could not be kept, the figures describe pegload rather than Pegasus. These
rules turn the workers' self-check samples (``pegload.runner.selfcheck``) and the merged pacing
lateness into a verdict with reasons a user can act on.

Thresholds (and why):

- CPU > 90% of a core, averaged over a phase: Locust warns at the same level; above it greenlets
  wait for the interpreter and that wait is counted as Pegasus latency.
- Event-loop lag > 100 ms at any probe: gevent's own ``max_blocking_time`` default; something
  (GC, a blocking call) froze every greenlet of the worker.
- Pacing lateness p99 > 10 ms (open loop): an op was released by the pacer more than ten gevent
  timer ticks late, i.e. the worker could not keep its schedule.
- Open-loop schedule shortfall > 1% (ops scheduled in the phase but never started) or an
  ops-count phase that took > 10% longer than its schedule.
- Ops sent != ops recorded: a bookkeeping fault in pegload itself; the totals cannot be trusted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pegload.report.model import Validity

CPU_LIMIT = 0.90
LOOP_LAG_LIMIT_MS = 100.0
LATENESS_P99_LIMIT_US = 10_000
SHORTFALL_LIMIT = 0.01
OVERRUN_LIMIT = 0.10


@dataclass
class PhaseCheck:
    """What the coordinator saw of one phase, for judging it."""

    name: str
    open_loop: bool = False
    target_rate: float | None = None
    planned_ops: int | None = None
    planned_s: float | None = None  # the plan's measured length (PhasePlan.planned_s, the schedule owner's)
    measured_s: float | None = None
    stopped_early: bool = False
    sent: int = 0  # ops the workers say they issued (PhaseDone)
    recorded: int = 0  # ops in the merged histograms
    dropped: int = 0  # open loop: scheduled, never started
    lateness_p99_us: int | None = None
    samples: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # worker -> selfcheck
    verify_examples: list[str] = field(default_factory=list)  # first verification failures seen


def worker_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One worker's self-check over a phase: wall-weighted CPU mean, maxima, GC totals."""
    wall = sum(s.get("wall_s", 0.0) for s in samples)
    cpu_time = sum(s.get("cpu", 0.0) * s.get("wall_s", 0.0) for s in samples)
    return {
        "intervals": len(samples),
        "cpu_mean": round(cpu_time / wall, 4) if wall else 0.0,
        "cpu_max": max((s.get("cpu", 0.0) for s in samples), default=0.0),
        "loop_lag_max_ms": max((s.get("loop_lag_max_ms", 0.0) for s in samples), default=0.0),
        "loop_lag_mean_ms": round(sum(s.get("loop_lag_mean_ms", 0.0) for s in samples) / len(samples), 3)
        if samples else 0.0,
        "gc_pause_total_ms": round(sum(s.get("gc_pause_total_ms", 0.0) for s in samples), 3),
        "gc_pause_max_ms": max((s.get("gc_pause_max_ms", 0.0) for s in samples), default=0.0),
        "gc_collections": sum(s.get("gc_collections", 0) for s in samples),
    }


def judge_phase(check: PhaseCheck) -> tuple[list[str], dict[str, Any]]:
    """(reasons the phase is not valid, its self-check section for the report)."""
    reasons: list[str] = []
    where = f"phase {check.name!r}"
    workers = {w: worker_summary(s) for w, s in sorted(check.samples.items())}
    for w, ws in workers.items():
        if ws["intervals"] and ws["cpu_mean"] > CPU_LIMIT:
            reasons.append(f"{where}: worker {w} used {ws['cpu_mean']:.0%} of a core on average "
                           f"(limit {CPU_LIMIT:.0%}); its greenlets waited for the CPU, so latencies "
                           "include client queueing: add workers or lower --concurrency/--rate")
        if ws["loop_lag_max_ms"] > LOOP_LAG_LIMIT_MS:
            reasons.append(f"{where}: worker {w}'s event loop was blocked for {ws['loop_lag_max_ms']:.0f} ms "
                           f"(limit {LOOP_LAG_LIMIT_MS:.0f} ms; GC max pause {ws['gc_pause_max_ms']:.0f} ms)")
    if check.open_loop:
        if check.lateness_p99_us is not None and check.lateness_p99_us > LATENESS_P99_LIMIT_US:
            reasons.append(f"{where}: pacing lateness p99 {check.lateness_p99_us / 1000:.1f} ms "
                           f"(limit {LATENESS_P99_LIMIT_US / 1000:.0f} ms): workers released ops late, "
                           "the schedule was not kept")
        scheduled = check.sent + check.dropped
        if scheduled and check.dropped / scheduled > SHORTFALL_LIMIT and not check.stopped_early:
            reasons.append(f"{where}: {check.dropped:,} of {scheduled:,} scheduled ops never started "
                           f"({check.dropped / scheduled:.1%}): the schedule was not kept "
                           "(too few greenlets for the latency, or the client was saturated)")
        if check.planned_ops and check.planned_s and check.measured_s and not check.stopped_early:
            planned_s = check.planned_s
            if check.measured_s > planned_s * (1 + OVERRUN_LIMIT) + 0.5:
                reasons.append(f"{where}: {check.planned_ops:,} ops scheduled over {planned_s:.1f} s "
                               f"took {check.measured_s:.1f} s: the schedule was not kept")
    if check.sent != check.recorded:
        reasons.append(f"{where}: workers sent {check.sent:,} ops but {check.recorded:,} were recorded "
                       "(pegload bookkeeping fault: totals are not exact)")
    section = {"workers": {str(w): ws for w, ws in workers.items()},
               "ops_sent": check.sent, "ops_recorded": check.recorded, "dropped": check.dropped,
               "lateness_p99_us": check.lateness_p99_us}
    if check.verify_examples:
        section["verification_examples"] = list(check.verify_examples)
    return reasons, section


def judge_run(checks: list[PhaseCheck]) -> tuple[Validity, dict[str, Any]]:
    """The run's verdict and the ``self_check`` section of its report."""
    reasons: list[str] = []
    phases: dict[str, Any] = {}
    for check in checks:
        r, section = judge_phase(check)
        reasons.extend(r)
        phases[check.name] = section
    limits = {"cpu": CPU_LIMIT, "loop_lag_ms": LOOP_LAG_LIMIT_MS,
              "lateness_p99_us": LATENESS_P99_LIMIT_US, "schedule_shortfall": SHORTFALL_LIMIT}
    return Validity(not reasons, tuple(reasons)), {"limits": limits, "phases": phases}
