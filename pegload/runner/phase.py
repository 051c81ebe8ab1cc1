"""Running one phase inside a worker: greenlets, pacing, recording and the interval clock.

Three latencies per op (µs), all from ``time.perf_counter_ns()``:

- **service**: from just before the request is handed to the client to the reply;
- **response**: from the op's *intended* start to the reply. In open loop the intended start is
  its slot in the schedule, so an op that waited (behind a stalled server, for a free greenlet)
  carries that wait: coordinated omission is corrected at the source. In closed loop the
  intended start is the send, so response == service;
- **lateness**: how late the client itself released the op: the time from the slot (or from
  taking it, if the greenlet was already behind) to the send. This isolates the client's timer
  and scheduler delays (~1 ms gevent granularity) from the server's latency, and is what the
  validity check judges; waiting for a free greenlet is not lateness but shows in response.

Open loop: each greenlet takes the next slot of its worker's share of the global schedule
(``pegload.workload.pacing``), waits for its time, sends. A slot is never moved because an
earlier op was slow. When a duration phase ends with a backlog, greenlets keep draining it for
up to ``2 x timeout + 1 s``; slots still not started then are counted as ``dropped``.
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
from pegload.workload import OpenLoopSchedule, WorkerWorkload, split_count

_perf_ns = time.perf_counter_ns
_NEVER_NS = 1 << 126  # the end of a phase without a duration


class PhaseClock:
    """Maps this process's perf_counter to the coordinator's wall-clock start instant."""

    def __init__(self, start_at: float) -> None:
        self.start_at = start_at
        self.t0_ns = _perf_ns() + int((start_at - time.time()) * 1e9)

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
    and returns ``(sent per op, dropped, stopped_early)``; intervals go out through ``send``."""

    def __init__(self, *, name: str, table: Any, ww: WorkerWorkload,
                 next_op_factory: Callable[[int], Callable[[], Any]],
                 schedule: OpenLoopSchedule | None, measured_ops: int | None, concurrency: int,
                 duration_s: float | None, warmup_s: float, timeout_s: float, clock: PhaseClock,
                 recorder: IntervalRecorder, selfcheck: SelfCheck, interval_s: float,
                 send_interval: Callable[[bytes, dict[str, Any]], None], failures: Failures) -> None:
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
        self.measure_from_ns = clock.t0_ns + int(warmup_s * 1e9)
        self.end_ns = (self.measure_from_ns + int(duration_s * 1e9)) if duration_s is not None else None
        # open loop: how long a backlog may be drained past the planned end
        self.drain_until_ns = (self.end_ns + int((2 * timeout_s + 1.0) * 1e9)) if self.end_ns else None
        # closed loop op-count phase: each greenlet gets a fixed share of the worker's ops (as
        # YCSB splits operationcount per thread), so the same seed replays the same ops on any
        # target; a shared counter would hand ops to whichever greenlet is free first
        self.budgets = split_count(measured_ops, concurrency) if schedule is None and measured_ops is not None \
            else None
        self.stop = Event()  # for waits; the closed loop polls the plain flag (cheaper per op)
        self._stopping = False
        self.measured_slots_taken = 0
        self._kinds: dict[str, _OpKind] = {}
        self._finished = Event()
        self._last_ns: int | None = None

    # -- public -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stopping = True
        self.stop.set()

    def run(self) -> tuple[dict[str, int], int, bool]:
        delay = (self.clock.t0_ns - _perf_ns()) / 1e9
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
        self._flush(_perf_ns())
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
        stop, schedule, t0, execute = self.stop, self.schedule, self.clock.t0_ns, self._execute
        drain_until = self.drain_until_ns
        while not stop.is_set():
            slot = schedule.next()
            if slot is None:
                return
            intended = t0 + slot[0]
            taken = _perf_ns()
            if taken < intended:
                if stop.wait((intended - taken) / 1e9):
                    return
                released_from = intended  # waited for its time: any delay is the client's
            else:
                released_from = taken  # already behind: the wait was for a free greenlet
                if drain_until is not None and taken > drain_until:
                    return
            op = next_op()
            if op is None:
                return
            if slot[1]:
                self.measured_slots_taken += 1
            execute(op, slot[1], intended, released_from)

    def _kind(self, name: str) -> _OpKind:
        caller_completes = self.ww.needs_complete(name) and name not in SELF_COMPLETING
        kind = self._kinds[name] = _OpKind(EXECUTORS[name], caller_completes, self.recorder.op(self.name, name))
        return kind

    def _execute(self, op: Any, measured: bool, intended_ns: int, released_from_ns: int) -> int:
        """Send one open-loop op, record it if measured; returns the reply's timestamp."""
        kind = self._kinds.get(op.name) or self._kind(op.name)
        if measured:
            kind.sent += 1
        t_send = _perf_ns()
        try:
            outcome, nbytes, bad = kind.execute(self.table, op, self.ww, self.failures)
            applied = True
        except PegasusError as e:
            outcome, nbytes, bad, applied = e.name, 0, 0, None  # unknown whether a write landed
        t_done = _perf_ns()
        if kind.caller_completes:
            self.ww.complete(op, applied)
        if measured:
            kind.rec.record((t_done - intended_ns) // 1000, (t_done - t_send) // 1000,
                            (t_send - released_from_ns) // 1000, outcome, nbytes)
            if bad:
                kind.rec.verification_error(bad)
        return t_done

    # -- intervals --------------------------------------------------------------------------
    def _tick(self) -> None:
        """Snapshot every ``interval_s`` on the grid anchored at the measured start."""
        wait_ns = self.measure_from_ns - _perf_ns()
        if wait_ns > 0 and self._finished.wait(wait_ns / 1e9):
            return
        self.selfcheck.take()  # forget the warm-up
        self._last_ns = self.measure_from_ns
        step = int(self.interval_s * 1e9)
        k = 1
        while True:
            boundary = self.measure_from_ns + k * step
            if self._finished.wait(max(boundary - _perf_ns(), 0) / 1e9):
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
