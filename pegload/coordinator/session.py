"""One run of a scenario against one target: spawn, barrier, phases, merge, judge.

``RunSession(scenario, target, ...).execute()`` returns a finished :class:`RunResult` (also after
Ctrl-C or a crashed worker: everything measured so far is in it), or raises :class:`RunFailed`
when nothing could be measured (unreachable cluster, missing table, workers that never started).

The coordinator runs in one thread without gevent: a ``selectors`` loop over the workers'
sockets with short waits, during which it merges intervals, redraws the progress line and
checks for Ctrl-C, dead or silent workers (heartbeats: named within 2 s), a lost target and
phases that overrun.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pegload.coordinator.events import EventRunner
from pegload.coordinator.interrupts import Interrupts
from pegload.coordinator.phases import PhasePlan, phase_plans
from pegload.coordinator.progress import Progress
from pegload.coordinator.server_metrics import ServerPoller, summarize
from pegload.coordinator.target import OpenTarget, TargetError, fingerprint, open_target, unreachable
from pegload.coordinator.validity import IntervalCount, PhaseCheck, failure_reasons, judge_run
from pegload.coordinator.workers import Event, LocalLauncher, WorkerPool, WorkerStartError
from pegload.metrics import IntervalSnapshot, LatencyHistogram, RunAccumulator
from pegload.report import PhaseInfo, RunResult, RunStatus
from pegload.runner.protocol import (
    HEARTBEAT_SILENCE_S,
    INTERVAL_S,
    InitFailed,
    Interval,
    PhaseDone,
    Plan,
    Ready,
    Shutdown,
    StartPhase,
    StopPhase,
    WorkerFailed,
)
from pegload.scenario import Scenario, Target, scenario_hash

EXIT_OK = 0
EXIT_SLO_BREACH = 1
EXIT_BAD_INPUT = 2  # bad scenario, unreachable cluster, missing table: nothing was measured
EXIT_RUN_FAILED = 3  # a worker crashed or the target was lost (the report holds what was measured)
EXIT_INTERRUPTED = 130  # Ctrl-C (the report holds what was measured)

# StartPhase goes out this long before the common start instant, so that every worker has it
# (and has built its generators) before the start.
START_MARGIN_S = 0.3
# After StopPhase (or a phase's planned end), how long workers get to finish ops in flight and
# drain an open-loop backlog, beyond the client timeout, before they are killed.
STOP_GRACE_S = 10.0
# An interval this much short of the schedule right after a scenario event is the event's dip
EVENT_DIP_SHARE = 0.05


class RunFailed(Exception):
    """Nothing could be measured; ``exit_code`` says why (2: target/scenario, 3: workers)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class _PhaseState:
    plan: PhasePlan
    start_at: float
    done: dict[int, PhaseDone] = field(default_factory=dict)
    recorded: dict[int, int] = field(default_factory=dict)  # worker -> ops in its snapshots
    samples: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    stop_sent_at: float | None = None
    end: float | None = None


class RunSession:
    """Runs ``scenario`` against ``target``; see the module docstring."""

    def __init__(self, scenario: Scenario, target: Target, *, progress: Progress | None = None,
                 interrupts: Interrupts | None = None, log_dir: Path | None = None,
                 worker_env: dict[str, str] | None = None, launcher: LocalLauncher | None = None,
                 opened: OpenTarget | None = None) -> None:
        self.scenario = scenario
        # a target opened by the caller (pegload capacity: one onebox for all its steps) is used
        # as is and left open; otherwise the session opens the target and closes it at the end
        self.given_target = opened
        self.launcher = launcher  # where workers run (None: here); see coordinator.workers
        self.target = target
        self.progress = progress or Progress(quiet=True)
        self.interrupts = interrupts or Interrupts()
        # worker and onebox logs; the caller owns the folder (ScenarioRun keeps what matters)
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="pegload-logs-"))
        self.worker_env = worker_env
        self.acc = RunAccumulator(interval_s=INTERVAL_S, workers=range(scenario.workers))
        self.crashed: dict[int, str] = {}
        self.crash_info: dict[int, dict[str, Any]] = {}  # worker -> phase, detected_at, detected_after_s
        self.target_lost: str | None = None
        self.opened: OpenTarget | None = None
        self.killed: dict[int, str | None] = {}  # workers the coordinator killed, and why (None: Ctrl-C twice)
        self.phases: list[_PhaseState] = []
        self.learned: dict[str, Any] = {}
        self.started_at = 0.0
        self.poller: ServerPoller | None = None  # the servers' /metrics (coordinator.server_metrics)
        self.events = EventRunner(scenario.events)  # the scenario's fault timeline

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> RunResult:
        """Run every phase; see the module docstring. Raises :class:`RunFailed`."""
        self.started_at = time.time()
        try:
            opened = self.given_target or open_target(self.target, self.log_dir)
        except TargetError as exc:
            raise RunFailed(str(exc), EXIT_BAD_INPUT) from None
        self.opened = opened
        try:
            self.progress.say(f"pegload: {self.scenario.name} against {opened.describe()}, "
                              f"{self.scenario.workers} worker(s) x {self.scenario.concurrency} greenlets")
            pool = WorkerPool(self.scenario.workers, log_dir=self.log_dir, extra_env=self.worker_env,
                              launcher=self.launcher)
            try:
                try:
                    pool.start()
                except WorkerStartError as exc:
                    raise RunFailed(f"workers did not start: {exc}", EXIT_RUN_FAILED) from None
                self._plan_and_wait_ready(pool, opened)
                self._start_observers(opened)
                for plan in phase_plans(self.scenario):
                    if self.crashed or self.interrupts.requested or self.target_lost:
                        break
                    self._run_phase(pool, plan)
                pool.broadcast(Shutdown())
            finally:
                self.progress.done()
                self._stop_observers()  # before the onebox stops: the last read is of a live server
                pool.close()
        finally:
            if self.given_target is None:
                opened.close()
        return self._result(opened)

    def _start_observers(self, opened: OpenTarget) -> None:
        """The server-metrics poller and the event runner: threads, so the loop never waits."""
        if self.scenario.server_metrics.capture == "auto":
            self.poller = ServerPoller(opened.meta_addrs, list(self.learned.get("replica_servers", ())),
                                       self.learned.get("app_id"), self.scenario.server_metrics.interval_s)
            self.poller.start()
        onebox = opened.onebox
        self.events = EventRunner(self.scenario.events, onebox.control_client if onebox is not None else None)
        self.events.start()

    def _stop_observers(self) -> None:
        self.events.stop()
        if self.poller is not None:
            self.poller.stop()

    def _plan_and_wait_ready(self, pool: WorkerPool, opened: OpenTarget) -> None:
        s = self.scenario
        plan = Plan.of(s, opened.meta_addrs, opened.table)  # the validated scenario, as is
        for wid in range(s.workers):
            pool.send(wid, plan)
        ready: dict[int, Ready] = {}
        # init() tries every meta server within the client timeout; workers also import gevent
        deadline = time.monotonic() + 30.0 + 3 * s.timeout_ms / 1000.0
        while len(ready) < s.workers:
            if self.interrupts.requested:
                raise RunFailed("interrupted before the load started; nothing to report", EXIT_INTERRUPTED)
            if time.monotonic() > deadline:
                late = sorted(set(range(s.workers)) - set(ready))
                raise RunFailed(f"worker(s) {late} did not connect to {opened.describe()} in time",
                                EXIT_RUN_FAILED)
            for ev in pool.poll(0.1):
                if ev.lost is not None:
                    tail = pool.workers[ev.worker_id].log_tail()
                    raise RunFailed(f"{ev.lost} before the load started" + (f":\n{tail}" if tail else ""),
                                    EXIT_RUN_FAILED)
                if isinstance(ev.message, InitFailed):
                    raise RunFailed(f"cannot run against {opened.describe()}: {ev.message.reason}",
                                    EXIT_BAD_INPUT)
                if isinstance(ev.message, Ready):
                    ready[ev.worker_id] = ev.message
                elif isinstance(ev.message, WorkerFailed):
                    raise RunFailed(f"worker {ev.worker_id} failed before the load started: "
                                    f"{ev.message.reason}", EXIT_RUN_FAILED)
        self.learned = dict(ready[0].fingerprint)

    def _run_phase(self, pool: WorkerPool, plan: PhasePlan) -> None:
        start_at = time.time() + START_MARGIN_S
        state = _PhaseState(plan, start_at)
        self.phases.append(state)
        self.acc.begin_phase(plan.name, start_at + plan.warmup_s)
        shape = (f"open loop at {plan.rate:,.0f} ops/s" if plan.open_loop and plan.rate else "closed loop")
        length = (f"{plan.duration_s:g} s" if plan.duration_s is not None else f"{plan.ops:,} ops")
        warm = f" after {plan.warmup_s:g} s warm-up" if plan.warmup_s else ""
        self.progress.say(f"phase {plan.name}: {shape}, {length}{warm}")
        pool.broadcast(StartPhase(plan.index, start_at))
        pool.heard_from_all()
        if self.poller is not None:
            self.poller.mark(f"start:{plan.name}", at=start_at + plan.warmup_s)
        self.events.phase_started(plan.name, start_at + plan.warmup_s)
        planned = plan.planned_s
        overrun_at = (start_at + plan.warmup_s + planned + STOP_GRACE_S + self.scenario.timeout_ms / 1000.0
                      if planned is not None else None)
        while set(pool.alive) - set(state.done):
            for ev in pool.poll(0.1) + pool.silent(HEARTBEAT_SILENCE_S):
                self._handle(pool, state, ev)
            self._watch_target()
            now = time.time()
            if state.stop_sent_at is None:
                reason = ("interrupted" if self.interrupts.requested else
                          "a worker crashed" if self.crashed else
                          "the target was lost" if self.target_lost else
                          "overran its schedule" if overrun_at is not None and now > overrun_at else "")
                if reason:
                    state.stop_sent_at = now
                    pool.broadcast(StopPhase(reason))
            elif self.interrupts.forced or now > state.stop_sent_at + STOP_GRACE_S:
                for wid in set(pool.alive) - set(state.done) - set(self.killed):
                    # a second Ctrl-C is the user's wish; a worker deaf to StopPhase is a fault
                    self.killed[wid] = None if self.interrupts.forced else (
                        f"{pool.workers[wid].name} did not stop within {STOP_GRACE_S:g} s of being asked; killed")
                    pool.workers[wid].proc.kill()
            elapsed = now - start_at
            self.progress.tick(self.acc, plan.name, max(elapsed, 0.0),
                               plan.warmup_s + planned if planned is not None else None,
                               warming_up=0 <= elapsed < plan.warmup_s)
        self.acc.end_phase(plan.name)
        state.end = time.time()
        self.events.phase_ended(plan.name)
        if self.poller is not None:
            self.poller.mark(f"end:{plan.name}")

    def _handle(self, pool: WorkerPool, state: _PhaseState, ev: Event) -> None:
        wid, msg = ev.worker_id, ev.message
        if ev.lost is not None:
            reason = self.killed.get(wid, ev.lost)
            if reason is not None and wid not in self.crashed:
                self._crash(pool, state, wid, reason)
            self.acc.worker_gone(wid)
            return
        if isinstance(msg, Interval):
            try:
                snap = IntervalSnapshot.from_bytes(msg.blob)
            except ValueError as exc:  # a pegload bug in that worker: treat it as a crash
                if wid not in self.crashed:
                    self._crash(pool, state, wid, f"{pool.workers[wid].name} sent a malformed interval: {exc}")
                return
            state.recorded[wid] = state.recorded.get(wid, 0) + sum(e.count for e in snap.ops.values())
            self.acc.add(snap)
            state.samples.setdefault(wid, []).append(msg.selfcheck)
        elif isinstance(msg, PhaseDone):
            state.done[wid] = msg
        elif isinstance(msg, WorkerFailed):
            self._crash(pool, state, wid, f"{pool.workers[wid].name} failed: {msg.reason}")

    def _crash(self, pool: WorkerPool, state: _PhaseState, wid: int, reason: str) -> None:
        """Name a lost worker at once (the progress line and the report say when it was seen)."""
        w = pool.workers[wid]
        now = time.time()
        self.crashed[wid] = reason
        self.crash_info[wid] = {"phase": state.plan.name, "detected_at": round(w.lost_at or now, 3),
                                "silent_s": round(time.monotonic() - w.last_heard, 3) if w.last_heard else None}
        self.progress.warn(f"pegload: {reason} (phase {state.plan.name}, "
                           f"{max(now - state.start_at - state.plan.warmup_s, 0.0):.1f} s into it)")

    def _watch_target(self) -> None:
        if self.target_lost is None and self.opened is not None:
            lost = self.opened.lost()
            latest = self.acc.latest()
            if lost is None and latest is not None:
                errors: dict[str, int] = {}
                for o in latest.ops.values():
                    for name, n in o.errors.items():
                        errors[name] = errors.get(name, 0) + n
                lost = unreachable(errors, latest.count)
            if lost:
                self.target_lost = lost
                self.progress.warn(f"pegload: the target was lost: {lost}")

    # -- the result ------------------------------------------------------------------------
    def _result(self, opened: OpenTarget) -> RunResult:
        self.acc.finish()
        infos, checks, unsent = [], [], {}
        for st in self.phases:
            p = st.plan
            span = self.acc.phase_spans.get(p.name)
            start = st.start_at + p.warmup_s
            end = span[1] if span else st.end
            dropped = sum(d.dropped for d in st.done.values())
            stopped = st.stop_sent_at is not None or any(d.stopped_early for d in st.done.values())
            late_sent = sum(d.late_sent for w, d in st.done.items() if w not in self.crashed)
            unsent[p.name] = self._unsent(st)
            arrivals = next((d.arrivals for d in st.done.values() if d.arrivals), None)
            infos.append(PhaseInfo(p.name, p.kind, start, end, p.mode, p.rate, p.duration_s, p.ops,
                                   p.warmup_s, p.ramp, dropped, stopped, planned_s=p.planned_s,
                                   late_sent=late_sent, unsent=unsent[p.name] or 0, arrivals=arrivals))
            checks.append(self._check(st, start, end, dropped, stopped, late_sent, unsent[p.name] or 0))
        crashed = tuple({"worker_id": w, "reason": r, **self.crash_info.get(w, {})}
                        for w, r in sorted(self.crashed.items()))
        failures = failure_reasons(list(crashed), self.target_lost, {k: v for k, v in unsent.items() if v})
        validity, self_check = judge_run(checks, failures)
        if crashed:
            status = RunStatus(EXIT_RUN_FAILED, self.interrupts.requested, crashed,
                               f"{len(crashed)} worker(s) lost")
        elif self.target_lost:
            status = RunStatus(EXIT_RUN_FAILED, self.interrupts.requested, (), f"target lost: {self.target_lost}")
        elif self.interrupts.requested:
            status = RunStatus(EXIT_INTERRUPTED, True, (), f"interrupted by {self.interrupts.signal_name}")
        else:
            status = RunStatus(EXIT_OK)
        s = self.scenario
        started = self.phases[0].start_at if self.phases else self.started_at
        measured = [(i.name, i.start, i.end) for i in infos if i.kind != "load" and i.start is not None]
        server = summarize(self.poller, measured, started, s.server_metrics.capture)
        return RunResult(self.acc, scenario=s.to_dict(), scenario_name=s.name, scenario_hash=scenario_hash(s),
                         target=fingerprint(opened, self.learned), phases=infos, started_at=started,
                         ended_at=time.time(), workers=s.workers, concurrency=s.concurrency, seed=s.seed,
                         validity=validity, status=status, self_check=self_check, server=server,
                         events=self.events.records)

    def _without_event_dips(self, phase: str, start: float, intervals: list[IntervalCount]) -> list[IntervalCount]:
        """The phase's intervals less those a scenario event emptied: from the interval the event
        ran in, while replies keep coming short of the schedule. A fault the scenario injected is
        the target's doing, not the client's (the events section of the report shows it)."""
        exempt: set[int] = set()
        for rec in self.events.records:
            if rec["phase"] != phase or rec.get("started_at") is None:
                continue
            t_ev = rec["started_at"] - start
            for i, iv in enumerate(intervals):
                if iv.t1 <= t_ev:
                    continue
                if iv.t0 > t_ev and iv.count >= (1 - EVENT_DIP_SHARE) * iv.expected:
                    break
                exempt.add(i)
        return [iv for i, iv in enumerate(intervals) if i not in exempt]

    def _unsent(self, st: _PhaseState) -> int | None:
        """Ops assigned to workers lost in this phase that they never sent (or sent and lost
        with them): the phase's planned measured ops, less the finished workers' shares
        (``PhaseDone.slots``), less what the lost workers recorded. None without a lost worker
        or without a planned count (a closed-loop duration phase assigns no ops)."""
        p = st.plan
        lost = [w for w, info in self.crash_info.items() if info.get("phase") == p.name]
        planned = p.measured_slots if p.open_loop else p.ops
        if not lost or planned is None:
            return None
        finished = sum(d.slots for w, d in st.done.items() if w not in self.crashed)
        recorded = sum(st.recorded.get(w, 0) for w in lost)
        return max(planned - finished - recorded, 0)

    def _check(self, st: _PhaseState, start: float, end: float | None, dropped: int, stopped: bool,
               late_sent: int, unsent: int) -> PhaseCheck:
        p = st.plan
        # exactness is checked for workers that finished the phase; a crashed worker's last
        # interval may be lost with it
        finished = [w for w in st.done if w not in self.crashed]
        sent = sum(sum(st.done[w].sent.values()) for w in finished)
        lateness: dict[str, int] = {}
        response: dict[str, int] = {}
        service_p50 = 0
        intervals: list[IntervalCount] = []
        planned_slots = None
        if p.open_loop:
            late, resp, serv = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
            for op in self.acc.ops(p.name):
                late.add(self.acc.totals(p.name, op).hist("lateness"))
                resp.add(self.acc.totals(p.name, op).hist("response"))
                serv.add(self.acc.totals(p.name, op).hist("service"))
            service_p50 = serv.percentiles([50.0])[50.0] if serv.total else 0
            if late.total:
                v = late.percentiles([99.0, 99.9, 100.0])
                lateness = {"p99": v[99.0], "p999": v[99.9], "max": v[100.0]}
            if resp.total:
                v = resp.percentiles([99.0, 99.9, 100.0])
                response = {"p99": v[99.0], "p999": v[99.9], "max": v[100.0]}
            planned_slots = p.measured_slots
            for iv in self.acc.series():
                if iv.phase == p.name:
                    t0, t1 = iv.t_start - start, iv.t_end - start
                    intervals.append(IntervalCount(t0, t1, iv.count, p.expected_ops(t0, t1)))
            intervals = self._without_event_dips(p.name, start, intervals)
        return PhaseCheck(
            name=p.name, open_loop=p.open_loop, target_rate=p.rate, planned_ops=p.ops,
            planned_s=p.planned_s, planned_slots=planned_slots,
            measured_s=(end - start) if end is not None else None, stopped_early=stopped,
            timeout_s=self.scenario.timeout_ms / 1000.0, sent=sent,
            recorded=sum(st.recorded.get(w, 0) for w in finished),
            dropped=dropped, late_sent=late_sent, on_time=sent - late_sent if p.open_loop else None,
            unsent=unsent, lateness_us=lateness, response_us=response, service_p50_us=service_p50,
            intervals=intervals,
            samples=st.samples,
            verify_examples=[e for w in sorted(st.done) for e in st.done[w].verify_examples],
        )
