"""Open-loop pacing and its accounting on a simulated clock: lateness from the slot (timer
oversleep, waiting for a free greenlet), the behind counters, coordinated-omission-corrected
response time, warm-up, drain and late_sent, stop. The clock is injected (``now_ns``/``wait``), so
the figures are exact and independent of the machine's speed."""
import heapq
import textwrap

import gevent
from gevent.event import Event

from pegload.metrics import IntervalRecorder, IntervalSnapshot, OpTotals
from pegload.runner.ops import Failures
from pegload.runner.phase import PhaseClock, PhaseRunner
from pegload.runner.selfcheck import SelfCheck
from pegload.scenario import load_scenario_text
from pegload.workload import WorkerWorkload
from pegload.workload.pacing import worker_schedule

MS = 1_000_000


class SimClock:
    """Discrete-event time for greenlets: ``now()`` is simulated; ``sleep`` and the slot wait block
    the calling greenlet until the driver moves time to its wake-up. The driver moves time only
    when every greenlet is blocked (``gevent.idle``): deterministic, whatever the machine does."""

    def __init__(self, oversleep_ns: int = 0) -> None:
        self.t = 10**12
        self.oversleep_ns = oversleep_ns
        self._heap: list = []
        self._seq = 0

    def now(self) -> int:
        return self.t

    def _at(self, t: int, fire) -> None:
        heapq.heappush(self._heap, (t, self._seq, fire))
        self._seq += 1

    def _block_until(self, t: int) -> None:
        ev = Event()
        self._at(t, ev.set)
        ev.wait()

    def sleep_ns(self, ns: int) -> None:
        self._block_until(self.t + ns)

    def call_at(self, t: int, fn) -> None:
        self._at(t, fn)

    def waiter(self, stop):
        def wait(due_ns: int) -> bool:
            self._block_until(due_ns + self.oversleep_ns)  # a timer that always fires this late
            return stop.is_set()
        return wait

    def run(self, fn):
        g = gevent.spawn(fn)
        while not g.dead:
            gevent.idle()
            if self._heap and not g.dead:
                t, _, fire = heapq.heappop(self._heap)
                self.t = max(self.t, t)
                fire()
        return g.get()


class SimTable:
    """get/set taking ``service_ns`` of simulated time (``slow`` overrides it for chosen calls,
    by call number); records each call's simulated start (= the op's send time)."""

    def __init__(self, sim: SimClock, service_ns: int, slow: dict[int, int] | None = None) -> None:
        self.sim, self.service_ns, self.slow = sim, service_ns, slow or {}
        self.calls: list[int] = []

    def _serve(self) -> None:
        n = len(self.calls)
        self.calls.append(self.sim.now())
        self.sim.sleep_ns(self.slow.get(n, self.service_ns))

    def get(self, hk, sk):
        self._serve()
        return b"v" * 10

    def set(self, hk, sk, value, ttl=0):
        self._serve()


def scenario(phase: str, concurrency: int, timeout_ms: int = 1000):
    return load_scenario_text(textwrap.dedent(f"""\
        workers: 1
        concurrency: {concurrency}
        timeout_ms: {timeout_ms}
        data: {{hash_keys: 100, sort_keys: 10}}
        phases:
          - {phase}
        """), "unit.yaml")


def run(sim: SimClock, table: SimTable, sc, stop_at_ns: int | None = None):
    ww = WorkerWorkload(sc, 0)
    pw = ww.phase(0)
    p = pw.phase
    intervals = []
    selfcheck = SelfCheck(timer="sim")
    clock = PhaseClock(0.0, now_ns=sim.now, wall_now=lambda: 0.0)  # t0 = now: no start barrier wait
    runner = PhaseRunner(
        name=p.name, table=table, ww=ww, next_op_factory=lambda g: pw.generator(g).next_op,
        schedule=worker_schedule(sc, 0, 0, 1), measured_ops=pw.measured_ops, concurrency=sc.concurrency,
        duration_s=p.duration_s, warmup_s=p.warmup_s, timeout_s=sc.timeout_ms / 1000, clock=clock,
        recorder=IntervalRecorder(0), selfcheck=selfcheck, interval_s=3600.0,
        send_interval=lambda blob, check: intervals.append((IntervalSnapshot.from_bytes(blob), check)),
        failures=Failures(), now_ns=sim.now)
    runner.wait = sim.waiter(runner.stop)
    if stop_at_ns is not None:
        sim.call_at(clock.t0_ns + stop_at_ns, runner.request_stop)
    sent, dropped, stopped = sim.run(runner.run)
    totals = OpTotals()
    checks = [c for _, c in intervals]
    for snap, _ in intervals:
        for e in snap.ops.values():
            totals.add_counters(e.count, e.outcomes, e.nbytes, e.verify_errors, e.below, e.above)
            for h, blob in zip(totals.hists, e.hists):
                if blob:
                    h.add_encoded(blob)
    return runner, clock.t0_ns, sent, dropped, stopped, totals, checks


def reference_single_greenlet(slots_ns, service_ns, oversleep_ns):
    """An independent model of one greenlet: (send time, lateness, behind wait or None) per slot."""
    out, free = [], 0
    for s in slots_ns:
        if free < s:
            send, behind = s + oversleep_ns, None
        else:
            send, behind = free, (free - s if free > s else None)
        out.append((send, send - s, behind))
        free = send + service_ns(send)
    return out


def test_on_time_ops_are_late_by_the_timer_oversleep_only():
    sim = SimClock(oversleep_ns=70_000)
    sc = scenario("{duration: 1s, rate: 500, mix: {get: 1}}", concurrency=4)
    runner, t0, sent, dropped, _, totals, checks = run(sim, SimTable(sim, 1 * MS), sc)
    assert sent == {"get": 500} and dropped == 0 and runner.late_sent == 0
    lateness = totals.hist("lateness")
    # every op but the one due at the very start waited on the timer
    assert lateness.total == 500 and lateness.percentiles([1.0, 100.0]) == {1.0: 70, 100.0: 70}
    assert sum(c["behind"] for c in checks) == 0 and checks[-1]["timer"] == "sim"
    assert runner.slots == 500 and runner.arrivals == "uniform"


def test_lateness_includes_waiting_for_a_free_greenlet_and_behind_splits_it_out():
    # 1 greenlet, 200 ops/s for 1.5 s, 0.4 ms per op, 20 µs oversleep; the op sent at 0.3 s takes
    # 0.5 s: the slots due meanwhile are taken late, one after the other, until it catches up
    sim = SimClock(oversleep_ns=20_000)
    sc = scenario("{duration: 1.5s, rate: 200, mix: {get: 1}}", concurrency=1)
    table = SimTable(sim, 400_000, slow={60: 500 * MS})
    runner, t0, sent, dropped, _, totals, checks = run(sim, table, sc)
    assert sent == {"get": 300} and dropped == 0
    plan = worker_schedule(sc, 0, 0, 1).plan
    slots = [int(plan.time_of(i) * 1e9) for i in range(300)]
    ref = reference_single_greenlet(slots, lambda send: 500 * MS if send == slots[60] + 20_000 else 400_000, 20_000)
    assert [t0 + send for send, _, _ in ref] == table.calls
    behind = [b for _, _, b in ref if b is not None]
    assert sum(c["behind"] for c in checks) == len(behind) > 100
    assert sum(c["behind_wait_us"] for c in checks) == sum(behind) // 1000
    response, service, lateness = totals.hist("response"), totals.hist("service"), totals.hist("lateness")
    # lateness carries the wait for the busy greenlet (from the slot), so response = lateness + service
    assert lateness.max() >= 490_000 and lateness.percentiles([50.0])[50.0] == 20
    assert response.percentiles([99.0])[99.0] >= 400_000 and service.percentiles([99.0])[99.0] < 1_000
    assert service.max() >= 499_000
    assert abs(response.mean() - (lateness.mean() + service.mean())) < 5


def test_ops_sent_after_the_planned_end_are_late_sent_and_the_backlog_drains():
    # 4 greenlets x 3 ms per op = 1,333 ops/s for a 2,000 ops/s schedule of 1 s: a third of the
    # slots are sent after the planned end, all within the drain allowance (2 x 1 s + 1 s)
    sim = SimClock()
    sc = scenario("{duration: 1s, rate: 2000, mix: {get: 1}}", concurrency=4)
    table = SimTable(sim, 3 * MS)
    runner, t0, sent, dropped, _, totals, checks = run(sim, table, sc)
    assert sent == {"get": 2000} and dropped == 0
    after_end = sum(1 for t in table.calls if t >= t0 + 1000 * MS)
    assert runner.late_sent == after_end and 600 < after_end < 700
    assert sum(c["behind"] for c in checks) > 1900
    assert totals.hist("lateness").max() >= 490_000


def test_backlog_beyond_the_drain_limit_is_dropped():
    # 1 greenlet, 50 ms per op, 200 ops/s for 0.5 s: 100 slots; the drain lasts 2 x 100 ms + 1 s
    # past the planned end (1.7 s from the start): sends at 0, 50, ..., 1,700 ms
    sim = SimClock()
    sc = scenario("{duration: 0.5s, rate: 200, mix: {get: 1}}", concurrency=1, timeout_ms=100)
    table = SimTable(sim, 50 * MS)
    runner, t0, sent, dropped, _, _, _ = run(sim, table, sc)
    assert sent == {"get": 35} and dropped == 65
    assert runner.late_sent == 25  # sent at 500 ms or later


def test_op_count_phase_with_ramp_drains_against_the_plans_end():
    sim = SimClock()
    sc = scenario("{ops: 300, rate: 1000, ramp: {from: 100, over: 0.5s}, mix: {get: 1}}", concurrency=2)
    runner, t0, sent, dropped, _, _, _ = run(sim, SimTable(sim, 100_000), sc)
    plan = worker_schedule(sc, 0, 0, 1).plan
    assert sent == {"get": 300} and dropped == 0 and runner.late_sent == 0
    assert runner.planned_end_ns == t0 + int(plan.planned_s * 1e9)


def test_warm_up_slots_are_sent_but_not_measured():
    sim = SimClock()
    sc = scenario("{duration: 0.3s, warmup: 0.2s, rate: 1000, mix: {get: 1}}", concurrency=2)
    table = SimTable(sim, 100_000)
    runner, t0, sent, _, _, totals, _ = run(sim, table, sc)
    assert len(table.calls) == 500 and sent == {"get": 300} and totals.count == 300
    assert runner.slots == 300


def test_poisson_phase_sends_its_planned_slots():
    sim = SimClock(oversleep_ns=10_000)
    sc = scenario("{duration: 1s, rate: 800, arrivals: poisson, mix: {get: 1}}", concurrency=4)
    table = SimTable(sim, 200_000)
    runner, t0, sent, dropped, _, totals, _ = run(sim, table, sc)
    plan = worker_schedule(sc, 0, 0, 1).plan
    assert sent["get"] == plan.measured_slots == runner.slots and dropped == 0
    assert runner.arrivals == "poisson"
    assert table.calls[:5] == [t0 + int(plan.time_of(i) * 1e9) + 10_000 for i in range(5)]


def test_stop_request_ends_the_phase_early_without_counting_drops():
    sim = SimClock()
    sc = scenario("{duration: 30s, rate: 100, mix: {get: 1}}", concurrency=2)
    table = SimTable(sim, MS)
    runner, t0, sent, dropped, stopped, totals, _ = run(sim, table, sc, stop_at_ns=400 * MS)
    assert stopped and dropped == 0
    assert sent["get"] == totals.count == 40  # slots at 0, 10, ..., 390 ms
