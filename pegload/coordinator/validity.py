"""Judging a run's own numbers: can they be trusted, and if not, what limited the run?

Every latency a worker records includes the worker's own delays. When the client falls behind
its schedule, runs out of free greenlets, releases ops late, has its event loop blocked or its
CPU saturated, the figures describe pegload rather than Pegasus. When a worker dies or freezes,
or the target itself goes away, the run is incomplete. Each rule below is a named reason with
the figure that tripped it and its limit; the verdict says who limited the run (``client``,
``target`` or ``run``: a worker or bookkeeping failure).

Reasons and limits (and why):

- ``rate`` (open loop): ops sent on time (slot in the phase, sent before its planned end) over
  the planned length, against the schedule's slots: more than 1% short means the client did not
  offer the load it was asked to.
- ``interval_rate`` (open loop): the same per interval (each full interval of the planned span):
  more than 5% (and 10 ops) short in any interval, beyond the ops in flight at its end (an op is
  counted when its reply comes: rate x service p50); a phase can reach its total by catching up
  after a stall, which the phase figure alone would hide.
- ``overrun`` (open loop): more than 1% of the measured ops were sent after the planned end
  (draining a backlog the client built up), or the phase ran more than 10% longer than planned
  beyond the client timeout (a last reply may take up to the timeout).
- ``dropped`` (open loop): more than 1% of the scheduled ops were never started.
- ``greenlets`` (open loop): more than 1% of the measured ops waited for a free greenlet after
  their slot (``behind`` in the self-check): raise ``concurrency``.
- ``lateness_tail`` (open loop): the pacing lateness tail is a large part of the response tail it
  pollutes: lateness p99.9 above half of response p99.9 (and above 1 ms; judged from 1,000
  samples), or lateness max above half of response max (and above 10 ms). Half: the tail would
  be up to twice as good without the client's delays, as much as the gate's own p99 limit allows.
- ``loop_lag``: a worker's event loop was blocked for > 100 ms (gevent's ``max_blocking_time``).
- ``cpu``: a worker averaged > 90% of a core over a phase (Locust warns at the same level).
- ``bookkeeping``: ops sent != ops recorded: a pegload fault; totals are not exact.
- ``worker_lost``: a worker died, froze or fell silent (heartbeat): the run is incomplete; the
  ops it was assigned and never sent are counted (``unsent``).
- ``target_lost``: the target stopped answering (embedded onebox process gone, or nearly every op
  of an interval failed to connect): the server, not the client, ended the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pegload.report.model import Validity

CPU_LIMIT = 0.90
LOOP_LAG_LIMIT_MS = 100.0
RATE_SHORTFALL_LIMIT = 0.01
INTERVAL_SHORTFALL_LIMIT = 0.05
INTERVAL_SHORTFALL_MIN_OPS = 10
OVERRUN_LIMIT = 0.01
OVERRUN_TIME_LIMIT = 0.10
SHORTFALL_LIMIT = 0.01  # dropped
BEHIND_LIMIT = 0.01
LATENESS_P999_SHARE = 0.50
LATENESS_P999_FLOOR_US = 1_000
LATENESS_P999_MIN_SAMPLES = 1_000  # below this a p99.9 is the maximum: the max rule judges it
LATENESS_MAX_SHARE = 0.50
LATENESS_MAX_FLOOR_US = 10_000

CLIENT, TARGET, RUN = "client", "target", "run"  # who limited the run


@dataclass(frozen=True)
class Reason:
    """One named reason a run is not valid, with its figure."""

    code: str
    text: str
    culprit: str = CLIENT
    phase: str | None = None
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    worker: int | None = None
    # a caution, not a reason: only these latency stats of the phase are untrustworthy (e.g.
    # ("p999", "max") when the client's delays fill the tail above p99); the run stays VALID and
    # the gate and SLOs do not judge these stats
    scope: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {"reason": self.code, "culprit": self.culprit, "phase": self.phase, "worker": self.worker,
               "value": self.value, "limit": self.limit, "unit": self.unit, "text": self.text}
        if self.scope:
            out["stats"] = list(self.scope)
        return out


@dataclass(frozen=True)
class IntervalCount:
    """One closed interval of a phase: seconds from the measured start, ops recorded, and the
    ops the schedule planned in it (``PhasePlan.expected_ops``)."""

    t0: float
    t1: float
    count: int
    expected: float


@dataclass
class PhaseCheck:
    """What the coordinator saw of one phase, for judging it."""

    name: str
    open_loop: bool = False
    target_rate: float | None = None
    planned_ops: int | None = None
    planned_s: float | None = None  # PhasePlan.planned_s
    planned_slots: int | None = None  # PhasePlan.measured_slots (global)
    measured_s: float | None = None
    timeout_s: float = 0.0  # the client timeout: the last replies may take this long after the plan
    stopped_early: bool = False
    sent: int = 0  # ops the finished workers say they issued (PhaseDone)
    recorded: int = 0  # ops in the finished workers' histograms
    dropped: int = 0  # open loop: scheduled, never started
    late_sent: int = 0  # open loop: measured ops sent after the planned end (drain)
    on_time: int | None = None  # open loop: measured ops sent before the planned end, all workers
    unsent: int = 0  # assigned to lost workers and never sent
    lateness_us: dict[str, int] = field(default_factory=dict)  # p99, p999, max (all ops merged)
    response_us: dict[str, int] = field(default_factory=dict)  # p999, max (all ops merged)
    service_p50_us: int = 0  # all ops merged: how long an op is in flight, typically
    intervals: list[IntervalCount] = field(default_factory=list)
    samples: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # worker -> selfcheck
    verify_examples: list[str] = field(default_factory=list)  # first verification failures seen


def _merge_counts(into: dict[str, Any], more: dict[str, Any]) -> None:
    for op, causes in (more or {}).items():
        mine = into.setdefault(op, {})
        for cause, n in causes.items():
            mine[cause] = mine.get(cause, 0) + int(n)


def worker_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One worker's self-check over a phase: wall-weighted CPU mean, maxima, GC totals, greenlet
    shortage (``behind``) and the client's retries and reconnections."""
    wall = sum(s.get("wall_s", 0.0) for s in samples)
    cpu_time = sum(s.get("cpu", 0.0) * s.get("wall_s", 0.0) for s in samples)
    retries: dict[str, dict[str, int]] = {}
    for s in samples:
        _merge_counts(retries, s.get("retries") or {})
    timers = sorted({s["timer"] for s in samples if s.get("timer")})
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
        "behind": sum(s.get("behind", 0) for s in samples),
        "behind_wait_us": sum(s.get("behind_wait_us", 0) for s in samples),
        "retries": retries,
        "reconnects": sum(s.get("reconnects", 0) for s in samples),
        "timer": ", ".join(timers) or None,
    }


def retry_totals(workers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Retries per op and cause, and reconnections, added over a phase's workers."""
    retries: dict[str, dict[str, int]] = {}
    for ws in workers.values():
        _merge_counts(retries, ws.get("retries") or {})
    return {"retries": retries, "retry_count": sum(sum(c.values()) for c in retries.values()),
            "reconnects": sum(ws.get("reconnects", 0) for ws in workers.values())}


def _ms(us: float) -> str:
    return f"{us / 1000:.1f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"


def judge_phase(check: PhaseCheck) -> tuple[list[Reason], dict[str, Any]]:
    """(reasons the phase is not valid, its self-check section for the report)."""
    reasons: list[Reason] = []
    name = check.name
    where = f"phase {name!r}"
    workers = {w: worker_summary(s) for w, s in sorted(check.samples.items())}
    for w, ws in workers.items():
        if ws["intervals"] and ws["cpu_mean"] > CPU_LIMIT:
            reasons.append(Reason("cpu", f"{where}: worker {w} used {ws['cpu_mean']:.0%} of a core on average "
                                  f"(limit {CPU_LIMIT:.0%}); its greenlets waited for the CPU, so latencies "
                                  "include client queueing: add workers or lower --concurrency/--rate",
                                  phase=name, value=ws["cpu_mean"], limit=CPU_LIMIT, unit="core", worker=w))
        if ws["loop_lag_max_ms"] > LOOP_LAG_LIMIT_MS:
            reasons.append(Reason("loop_lag", f"{where}: worker {w}'s event loop was blocked for "
                                  f"{ws['loop_lag_max_ms']:.0f} ms (limit {LOOP_LAG_LIMIT_MS:.0f} ms; GC max "
                                  f"pause {ws['gc_pause_max_ms']:.0f} ms)", phase=name,
                                  value=ws["loop_lag_max_ms"], limit=LOOP_LAG_LIMIT_MS, unit="ms", worker=w))
    figures: dict[str, Any] = {}
    behind = sum(ws["behind"] for ws in workers.values())
    behind_wait = sum(ws["behind_wait_us"] for ws in workers.values())
    if check.open_loop and not check.stopped_early:
        reasons.extend(_judge_schedule(check, figures))
    if check.open_loop:
        measured = max(check.recorded, 1)
        figures["behind"] = {"ops": behind, "share": round(behind / measured, 6), "wait_us": behind_wait,
                             "mean_wait_us": round(behind_wait / behind, 1) if behind else 0.0}
        if behind / measured > BEHIND_LIMIT:
            reasons.append(Reason("greenlets", f"{where}: {behind:,} of {check.recorded:,} ops "
                                  f"({behind / measured:.1%}, limit {BEHIND_LIMIT:.0%}) waited for a free greenlet "
                                  f"after their slot (mean wait {_ms(behind_wait / max(behind, 1))}): too few "
                                  "greenlets for this rate and latency, raise concurrency",
                                  phase=name, value=behind / measured, limit=BEHIND_LIMIT, unit="share"))
        reasons.extend(_judge_lateness(check, figures))
        scheduled = check.sent + check.dropped
        if scheduled and check.dropped / scheduled > SHORTFALL_LIMIT and not check.stopped_early:
            reasons.append(Reason("dropped", f"{where}: {check.dropped:,} of {scheduled:,} scheduled ops never "
                                  f"started ({check.dropped / scheduled:.1%}, limit {SHORTFALL_LIMIT:.0%}): the "
                                  "schedule was not kept", phase=name, value=check.dropped / scheduled,
                                  limit=SHORTFALL_LIMIT, unit="share"))
    if check.sent != check.recorded:
        reasons.append(Reason("bookkeeping", f"{where}: workers sent {check.sent:,} ops but {check.recorded:,} "
                              "were recorded (pegload bookkeeping fault: totals are not exact)", culprit=RUN,
                              phase=name, value=check.recorded, limit=check.sent, unit="ops"))
    section: dict[str, Any] = {
        "workers": {str(w): ws for w, ws in workers.items()},
        "ops_sent": check.sent, "ops_recorded": check.recorded, "dropped": check.dropped,
        "late_sent": check.late_sent, "unsent": check.unsent,
        "lateness_us": dict(check.lateness_us), "response_us": dict(check.response_us),
        **retry_totals({str(w): ws for w, ws in workers.items()}),
        "figures": figures,
    }
    if check.verify_examples:
        section["verification_examples"] = list(check.verify_examples)
    return reasons, section


def _judge_schedule(check: PhaseCheck, figures: dict[str, Any]) -> list[Reason]:
    """Achieved vs target rate (phase and intervals) and overrun, from ops sent on time."""
    out: list[Reason] = []
    where = f"phase {check.name!r}"
    planned, slots = check.planned_s, check.planned_slots
    if planned and slots and check.on_time is not None:
        target, achieved = slots / planned, check.on_time / planned
        short = 1.0 - check.on_time / slots
        figures["rate"] = {"target_ops_s": round(target, 3), "achieved_ops_s": round(achieved, 3),
                           "on_time": check.on_time, "planned_slots": slots, "planned_s": round(planned, 6),
                           "shortfall": round(short, 6)}
        if short > RATE_SHORTFALL_LIMIT:
            out.append(Reason("rate", f"{where}: achieved {achieved:,.0f} of {target:,.0f} ops/s on time "
                              f"({short:.1%} short, limit {RATE_SHORTFALL_LIMIT:.0%}): the client could not "
                              "offer the planned load", phase=check.name, value=round(short, 6),
                              limit=RATE_SHORTFALL_LIMIT, unit="share"))
    if check.intervals:
        worst = None
        for iv in check.intervals:
            if planned is not None and iv.t1 > planned + 1e-6:
                continue  # the drain after the planned end is not part of the schedule
            missing = iv.expected - iv.count
            in_flight = iv.expected / max(iv.t1 - iv.t0, 1e-9) * check.service_p50_us / 1e6
            allowed = max(INTERVAL_SHORTFALL_LIMIT * iv.expected, INTERVAL_SHORTFALL_MIN_OPS) + in_flight
            if iv.expected and missing > allowed:
                if worst is None or missing / iv.expected > worst[1]:
                    worst = (iv, missing / iv.expected)
        if worst is not None:
            iv, share = worst
            figures["worst_interval"] = {"t0": round(iv.t0, 3), "t1": round(iv.t1, 3), "count": iv.count,
                                         "expected": round(iv.expected, 1), "shortfall": round(share, 4)}
            out.append(Reason("interval_rate", f"{where}: {iv.count:,} ops in the interval {iv.t0:.0f}-{iv.t1:.0f} s "
                              f"where the schedule planned {iv.expected:,.0f} ({share:.0%} short, limit "
                              f"{INTERVAL_SHORTFALL_LIMIT:.0%})", phase=check.name, value=round(share, 4),
                              limit=INTERVAL_SHORTFALL_LIMIT, unit="share"))
    if planned and check.measured_s is not None:
        over = check.measured_s - planned
        figures["overrun_s"] = round(over, 3)
        if over > OVERRUN_TIME_LIMIT * planned + check.timeout_s:
            out.append(Reason("overrun", f"{where}: took {check.measured_s:.1f} s of a planned {planned:.1f} s "
                              f"({over / planned:.0%} longer, limit {OVERRUN_TIME_LIMIT:.0%} + the "
                              f"{check.timeout_s:g} s timeout): the schedule was not kept", phase=check.name,
                              value=round(over / planned, 4), limit=OVERRUN_TIME_LIMIT, unit="share"))
    measured = check.recorded
    if measured and check.late_sent / measured > OVERRUN_LIMIT:
        share = check.late_sent / measured
        took = f" (took {check.measured_s:.1f} s of a planned {planned:.1f} s)" if check.measured_s and planned else ""
        out.append(Reason("overrun", f"{where}: {check.late_sent:,} ops ({share:.1%}, limit {OVERRUN_LIMIT:.0%}) were "
                          f"sent after the planned end{took}: the schedule overran", phase=check.name,
                          value=round(share, 6), limit=OVERRUN_LIMIT, unit="share"))
    return out


def _judge_lateness(check: PhaseCheck, figures: dict[str, Any]) -> list[Reason]:
    """The client's own delays (lateness, slot to send) against the response tail they are part
    of. Where they reach p99 the run is NOT VALID; where they fill only the tail above p99 (a
    scheduler hiccup or a GC pause every second is 0.1% of ops at 1,000 ops/s per worker), p99
    and below are still the target's, so that tail gets a caution scoped to p99.9 and max."""
    late, resp = check.lateness_us, check.response_us
    out: list[Reason] = []
    where = f"phase {check.name!r}"
    if not late or not resp:
        return out
    figures["lateness_tail"] = {"lateness_p99_us": late.get("p99"), "response_p99_us": resp.get("p99"),
                                "lateness_p999_us": late.get("p999"), "response_p999_us": resp.get("p999"),
                                "lateness_max_us": late.get("max"), "response_max_us": resp.get("max")}
    l99, r99 = late.get("p99", 0), resp.get("p99", 0)
    if r99 and l99 > LATENESS_P999_FLOOR_US and l99 > LATENESS_P999_SHARE * r99:
        out.append(Reason("lateness_tail", f"{where}: pacing lateness p99 {_ms(l99)} is {l99 / r99:.0%} of response "
                          f"p99 {_ms(r99)} (limit {LATENESS_P999_SHARE:.0%}, above {_ms(LATENESS_P999_FLOOR_US)}): "
                          "the client's own delays are in the latency it reports", phase=check.name,
                          value=round(l99 / r99, 4), limit=LATENESS_P999_SHARE, unit="share"))
        return out
    scope: list[str] = []
    said: list[str] = []
    lp, rp = late.get("p999", 0), resp.get("p999", 0)
    enough = check.recorded >= LATENESS_P999_MIN_SAMPLES
    if enough and lp > LATENESS_P999_FLOOR_US and rp and lp > LATENESS_P999_SHARE * rp:
        scope += ["p999", "max"]
        said.append(f"lateness p99.9 {_ms(lp)} is {lp / rp:.0%} of response p99.9 {_ms(rp)}")
    lm, rm = late.get("max", 0), resp.get("max", 0)
    if lm > LATENESS_MAX_FLOOR_US and rm and lm > LATENESS_MAX_SHARE * rm:
        scope += [] if "max" in scope else ["max"]
        said.append(f"lateness max {_ms(lm)} is {lm / rm:.0%} of response max {_ms(rm)}")
    if scope:
        shown = " and ".join("p99.9" if s == "p999" else s for s in scope)
        out.append(Reason("lateness_tail", f"{where}: {'; '.join(said)} (limit {LATENESS_P999_SHARE:.0%}): the "
                          f"client's own delays fill the response {shown}, which are not judged; p99 and below "
                          f"are the target's (lateness p99 {_ms(l99)} of response p99 {_ms(r99)})",
                          phase=check.name, value=round(lp / rp, 4) if "p999" in scope and rp else
                          round(lm / rm, 4), limit=LATENESS_P999_SHARE, unit="share", scope=tuple(scope)))
    return out


def failure_reasons(crashed: list[dict[str, Any]], target_lost: str | None,
                    unsent: dict[str, int]) -> list[Reason]:
    """Reasons for lost workers (with the ops they never sent) and a lost target."""
    out = []
    for c in crashed:
        out.append(Reason("worker_lost", f"worker {c['worker_id']} lost: {c['reason']}", culprit=RUN,
                          phase=c.get("phase"), worker=c["worker_id"], value=c.get("detected_after_s"), unit="s"))
    for phase, n in unsent.items():
        if n:
            out.append(Reason("unsent", f"phase {phase!r}: {n:,} ops assigned to lost worker(s) were never sent "
                              "(or were lost with them)", culprit=RUN, phase=phase, value=n, unit="ops"))
    if target_lost:
        out.append(Reason("target_lost", f"the target was lost: {target_lost}", culprit=TARGET))
    return out


def judge_run(checks: list[PhaseCheck], failures: list[Reason] = ()) -> tuple[Validity, dict[str, Any]]:
    """The run's verdict and the ``self_check`` section of its report."""
    reasons: list[Reason] = list(failures)
    phases: dict[str, Any] = {}
    for check in checks:
        r, section = judge_phase(check)
        reasons.extend(r)
        phases[check.name] = section
    limits = {"cpu": CPU_LIMIT, "loop_lag_ms": LOOP_LAG_LIMIT_MS, "rate_shortfall": RATE_SHORTFALL_LIMIT,
              "interval_shortfall": INTERVAL_SHORTFALL_LIMIT, "overrun": OVERRUN_LIMIT,
              "overrun_time": OVERRUN_TIME_LIMIT,
              "schedule_shortfall": SHORTFALL_LIMIT, "behind": BEHIND_LIMIT,
              "lateness_p999_share": LATENESS_P999_SHARE, "lateness_max_share": LATENESS_MAX_SHARE}
    cautions = [r for r in reasons if r.scope]
    reasons = [r for r in reasons if not r.scope]
    culprits = {r.culprit for r in reasons}
    limited_by = TARGET if TARGET in culprits else RUN if RUN in culprits else CLIENT if reasons else None
    validity = Validity(not reasons, tuple(r.text for r in reasons), tuple(r.to_dict() for r in reasons), limited_by,
                        tuple(c.to_dict() for c in cautions))
    return validity, {"limits": limits, "phases": phases}
