"""Running one phase inside a worker: greenlets, pacing, recording and the interval clock.

Three latencies per op (µs), all from ``time.perf_counter_ns()``:

- **service**: from just before the request is handed to the client to the reply;
- **response**: from the op's *intended* start to the reply. In open loop the intended start is
  its slot in the schedule, so an op that waited (behind a stalled server, for a free greenlet)
  carries that wait: coordinated omission is corrected at the source. In closed loop the
  intended start is the send, so response == service;
- **lateness** (open loop): from the op's slot to its send, whatever kept it: the timer's
  oversleep, a busy event loop, or waiting for a free greenlet. response = lateness + service.
  The part spent waiting for a free greenlet is split out in the self-check: ``behind`` counts
  measured ops taken after their slot (every greenlet was busy when it was due) and
  ``behind_wait_us`` their total wait. Closed loop: 0.

Open loop: each greenlet takes the next slot of its worker's share of the global schedule
(``pegload.workload.pacing``), waits for its time (``pegload.runner.timer``), sends. A slot is
never moved because an earlier op was slow. When the phase's planned end has passed with a
backlog, greenlets keep draining it for up to ``2 x timeout + 1 s``; slots still not started then
are counted as ``dropped``, and measured ops sent after the planned end as ``late_sent``.

The clock (``now_ns``) and the slot wait (``wait``) are injectable, so tests run the pacing and
its accounting on a simulated clock.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import gevent
from gevent.event import Event
from gevent.pool import Group

from pegload.client.errors import PegasusError
from pegload.metrics import IntervalRecorder, OpRecorder
from pegload.runner.ops import EXECUTORS, SELF_COMPLETING, Failures
from pegload.runner.selfcheck import SelfCheck
from pegload.runner.timer import SlotWaiter
from pegload.workload import OpenLoopSchedule, WorkerWorkload, split_count

_perf_ns = time.perf_counter_ns
_NEVER_NS = 1 << 126  # the end of a phase without a duration


class PhaseClock:
    """Maps this process's perf_counter (or ``now_ns``) to the coordinator's wall-clock start
    instant."""

    def __init__(self, start_at: float, now_ns: Callable[[], int] = _perf_ns,
                 wall_now: Callable[[], float] = time.time) -> None:
        self.start_at = start_at
        self.t0_ns = now_ns() + int((start_at - wall_now()) * 1e9)

    def wall(self, perf_ns: int) -> float:
        return self.start_at + (perf_ns - self.t0_ns) / 1e9


class _OpKind:
    """What the hot path needs per op name: its executor, whether the caller reports the op to
    the workload (``complete``: writes whose executor does not do it itself), its recorder (and
    the recorder's closed-loop method, bound once), and how many measured ops were sent."""

    __slots__ = ("execute", "caller_completes", "rec", "record_closed", "sent")

    def __init__(self, execute: Callable, caller_completes: bool, rec: OpRecorder) -> None:
        self.execute, self.caller_completes, self.rec, self.sent = execute, caller_completes, rec, 0
        self.record_closed = rec.record_closed


class PhaseRunner:
    """One phase in this worker. ``run()`` blocks the calling greenlet until the phase is over
    and returns ``(sent per op, dropped, stopped_early)``; intervals go out through ``send``.
    After ``run()``: ``slots`` (measured slots this worker was assigned in open loop, its op
    budget in a closed-loop op-count phase, else 0), ``late_sent`` (measured ops sent after the
    planned end) and ``arrivals`` (the open-loop arrival process, "" in closed loop)."""

    def __init__(self, *, name: str, table: Any, ww: WorkerWorkload,
                 next_op_factory: Callable[[int], Callable[[], Any]],
                 schedule: OpenLoopSchedule | None, measured_ops: int | None, concurrency: int,
                 duration_s: float | None, warmup_s: float, timeout_s: float, clock: PhaseClock,
                 recorder: IntervalRecorder, selfcheck: SelfCheck, interval_s: float,
                 send_interval: Callable[[bytes, dict[str, Any]], None], failures: Failures,
                 now_ns: Callable[[], int] = _perf_ns, wait: Callable[[int], bool] | None = None) -> None:
        self.name = name
        self.table = table
        self.ww = ww
        self.next_op_factory = next_op_factory
        self.schedule = schedule
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.clock = clock
        self.recorder = recorder
        self.selfcheck = selfcheck
        self.interval_s = interval_s
        self.send_interval = send_interval
        self.failures = failures
        self.now_ns = now_ns
        self.measure_from_ns = clock.t0_ns + int(warmup_s * 1e9)
        self.end_ns = (self.measure_from_ns + int(duration_s * 1e9)) if duration_s is not None else None
        # open loop: the schedule owner's planned end (an op-count phase's too), and how long a
        # backlog may be drained past it
        plan = schedule.plan if schedule is not None else None
        planned_s = plan.planned_s if plan is not None else None
        self.planned_end_ns = (clock.t0_ns + int((plan.warmup_s + planned_s) * 1e9)) \
            if plan is not None and planned_s is not None else self.end_ns
        self.drain_until_ns = (self.planned_end_ns + int((2 * timeout_s + 1.0) * 1e9)) \
            if self.planned_end_ns is not None else None
        self.arrivals = plan.arrivals if plan is not None else ""
        if schedule is not None:
            self.slots = schedule.measured_slots or 0
        else:
            self.slots = measured_ops or 0
        self.late_sent = 0
        # closed loop op-count phase: each greenlet gets a fixed share of the worker's ops (as
        # YCSB splits operationcount per thread), so the same seed replays the same ops on any
        # target; a shared counter would hand ops to whichever greenlet is free first
        self.budgets = split_count(measured_ops, concurrency) if schedule is None and measured_ops is not None \
            else None
        self.stop = Event()  # for waits; the closed loop polls the plain flag (cheaper per op)
        self.wait = wait if wait is not None else SlotWaiter()  # (due_ns) -> stopped?; .stop() wakes all
        self._stopping = False
        self.measured_slots_taken = 0
        self._kinds: dict[str, _OpKind] = {}
        self._finished = Event()
        self._last_ns: int | None = None

    # -- public -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stopping = True
        self.stop.set()
        wake = getattr(self.wait, "stop", None)
        if wake is not None:
            wake()

    def run(self) -> tuple[dict[str, int], int, bool]:
        delay = (self.clock.t0_ns - self.now_ns()) / 1e9
        if delay > 0 and self.stop.wait(delay):  # the common start barrier
            return {}, 0, True
        ticker = gevent.spawn(self._tick)
        group = Group()
        loop = self._open_loop if self.schedule is not None else self._closed_loop
        for g in range(self.concurrency):
            group.spawn(loop, self.next_op_factory(g), g)
        group.join(raise_error=True)  # an unexpected exception (a pegload bug) ends the worker
        self._finished.set()
        ticker.join()
        self._flush(self.now_ns())
        sent = {name: k.sent for name, k in self._kinds.items() if k.sent}
        return sent, self._dropped(), self.stop.is_set()

    # -- loops ------------------------------------------------------------------------------
    # The loops are the per-op hot path: locals instead of attribute lookups, one dict lookup
    # per op (_OpKind), two clock reads per op (before the send, after the reply; the reply's
    # is the next op's "now"; complete() runs after it, so bookkeeping is not service time).
    # The closed loop has _execute inlined and records with record_closed (response = service,
    # lateness 0); the open loop, which waits for its slots anyway, calls _execute.
    def _closed_loop(self, next_op: Callable[[], Any], greenlet: int) -> None:
        measure_from = self.measure_from_ns
        end_ns = self.end_ns if self.end_ns is not None else _NEVER_NS
        budget = self.budgets[greenlet] if self.budgets is not None else None
        kinds, new_kind, table, ww, failures = self._kinds, self._kind, self.table, self.ww, self.failures
        complete = ww.complete
        _perf_ns = self.now_ns
        now = _perf_ns()
        while not self._stopping:
            if now >= end_ns:
                return
            measured = now >= measure_from
            if measured and budget is not None:
                if budget <= 0:
                    return
                budget -= 1
            op = next_op()
            if op is None:  # the load phase's data set is written
                return
            kind = kinds.get(op.name) or new_kind(op.name)
            if measured:
                kind.sent += 1
            t_send = _perf_ns()
            try:
                outcome, nbytes, bad = kind.execute(table, op, ww, failures)
                applied = True
            except PegasusError as e:
                outcome, nbytes, bad, applied = e.name, 0, 0, None  # unknown whether a write landed
            now = _perf_ns()
            if kind.caller_completes:
                complete(op, applied)
            if measured:
                kind.record_closed((now - t_send) // 1000, outcome, nbytes)
                if bad:
                    kind.rec.verification_error(bad)

    def _open_loop(self, next_op: Callable[[], Any], greenlet: int) -> None:
        stop, schedule, t0, execute, wait = self.stop, self.schedule, self.clock.t0_ns, self._execute, self.wait
        now_ns, record_behind = self.now_ns, self.selfcheck.record_behind
        drain_until = self.drain_until_ns
        while not stop.is_set():
            slot = schedule.next()
            if slot is None:
                return
            intended = t0 + slot[0]
            taken = now_ns()
            if taken < intended:
                if wait(intended):
                    return
            else:
                if drain_until is not None and taken > drain_until:
                    return
                if slot[1] and taken > intended:  # due while every greenlet was busy
                    record_behind(taken - intended)
            op = next_op()
            if op is None:
                return
            if slot[1]:
                self.measured_slots_taken += 1
            execute(op, slot[1], intended)

    def _kind(self, name: str) -> _OpKind:
        caller_completes = self.ww.needs_complete(name) and name not in SELF_COMPLETING
        kind = self._kinds[name] = _OpKind(EXECUTORS[name], caller_completes, self.recorder.op(self.name, name))
        return kind

    def _execute(self, op: Any, measured: bool, intended_ns: int) -> int:
        """Send one open-loop op, record it if measured; returns the reply's timestamp."""
        kind = self._kinds.get(op.name) or self._kind(op.name)
        t_send = self.now_ns()
        if measured:
            kind.sent += 1
            if self.planned_end_ns is not None and t_send >= self.planned_end_ns:
                self.late_sent += 1  # drain work, reported apart from the phase's throughput
        try:
            outcome, nbytes, bad = kind.execute(self.table, op, self.ww, self.failures)
            applied = True
        except PegasusError as e:
            outcome, nbytes, bad, applied = e.name, 0, 0, None  # unknown whether a write landed
        t_done = self.now_ns()
        if kind.caller_completes:
            self.ww.complete(op, applied)
        if measured:
            kind.rec.record((t_done - intended_ns) // 1000, (t_done - t_send) // 1000,
                            (t_send - intended_ns) // 1000, outcome, nbytes)
            if bad:
                kind.rec.verification_error(bad)
        return t_done

    # -- intervals --------------------------------------------------------------------------
    def _tick(self) -> None:
        """Snapshot every ``interval_s`` on the grid anchored at the measured start."""
        wait_ns = self.measure_from_ns - self.now_ns()
        if wait_ns > 0 and self._finished.wait(wait_ns / 1e9):
            return
        self.selfcheck.take()  # forget the warm-up
        self._last_ns = self.measure_from_ns
        step = int(self.interval_s * 1e9)
        k = 1
        while True:
            boundary = self.measure_from_ns + k * step
            if self._finished.wait(max(boundary - self.now_ns(), 0) / 1e9):
                return
            self._flush(boundary)
            k += 1

    def _flush(self, until_ns: int) -> None:
        """Send what was recorded since the last snapshot, with the worker's self-check."""
        since = self._last_ns if self._last_ns is not None else self.measure_from_ns
        if until_ns <= since:
            return
        snap = self.recorder.snapshot_and_reset(self.clock.wall(since), self.clock.wall(until_ns))
        self._last_ns = until_ns
        self.send_interval(snap.to_bytes(), self.selfcheck.take())

    def _dropped(self) -> int:
        if self.schedule is None or self.stop.is_set():
            return 0
        planned = self.schedule.measured_slots
        return max(planned - self.measured_slots_taken, 0) if planned is not None else 0
