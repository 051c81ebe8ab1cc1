"""PhaseRunner in-process (gevent, no sockets): exact op counts, errors counted, crash, verified
closed loop. Everything that depends on time (warm-up, pacing, lateness, behind, drain, stop) is
in test_runner_pacing.py, on a simulated clock."""
import textwrap
import time

import gevent
import pytest

from pegload.client.errors import RequestTimeout
from pegload.metrics import IntervalRecorder, IntervalSnapshot, OpTotals
from pegload.runner.ops import Failures
from pegload.runner.phase import PhaseClock, PhaseRunner
from pegload.runner.selfcheck import SelfCheck
from pegload.scenario import load_scenario_text
from pegload.workload import WorkerWorkload


class SleepyTable:
    """get/set that take ``delay`` seconds (a gevent sleep), longer while ``stalled_until``."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.stall_from = self.stall_until = 0.0
        self.fail = None

    def _wait(self):
        now = time.monotonic()
        if self.stall_from <= now < self.stall_until:
            gevent.sleep(self.stall_until - now)
        elif self.delay:
            gevent.sleep(self.delay)
        if self.fail is not None:
            raise self.fail

    def get(self, hk, sk):
        self._wait()
        return b"v" * 10

    def set(self, hk, sk, value, ttl=0):
        self._wait()


def make_scenario(phase: str, workers: int = 1, concurrency: int = 4):
    return load_scenario_text(textwrap.dedent(f"""\
        workers: {workers}
        concurrency: {concurrency}
        data: {{hash_keys: 100, sort_keys: 10}}
        phases:
          - {phase}
        """), "unit.yaml")


def run_phase(table, sc, worker=0, start_in=0.05, stop_after=None):
    ww = WorkerWorkload(sc, worker)
    pw = ww.phase(0)
    p = pw.phase
    intervals = []
    recorder = IntervalRecorder(worker)
    clock = PhaseClock(time.time() + start_in)
    runner = PhaseRunner(
        name=p.name, table=table, ww=ww, next_op_factory=lambda g: pw.generator(g).next_op,
        schedule=pw.schedule, measured_ops=pw.measured_ops, concurrency=sc.concurrency,
        duration_s=p.duration_s, warmup_s=p.warmup_s, timeout_s=sc.timeout_ms / 1000,
        clock=clock, recorder=recorder, selfcheck=SelfCheck(),
        interval_s=0.25, send_interval=lambda blob, check: intervals.append((IntervalSnapshot.from_bytes(blob), check)),
        failures=Failures())
    if stop_after is not None:
        gevent.spawn_later(stop_after, runner.request_stop)
    sent, dropped, stopped = runner.run()
    totals = {}
    for snap, _ in intervals:
        for (_, op), e in snap.ops.items():
            t = totals.setdefault(op, OpTotals())
            t.add_counters(e.count, e.outcomes, e.nbytes, e.verify_errors, e.below, e.above)
            for h, blob in zip(t.hists, e.hists):
                if blob:
                    h.add_encoded(blob)
    run_phase.start_at = clock.start_at
    return sent, dropped, stopped, totals, intervals


def test_closed_loop_op_count_is_exact_and_split_among_workers():
    sc = make_scenario("{ops: 301, mix: {get: 3, set: 1}}", workers=2)
    counts = []
    for worker in (0, 1):
        sent, dropped, stopped, totals, _ = run_phase(SleepyTable(0.001), sc, worker)
        assert sum(sent.values()) == sum(t.count for t in totals.values())
        assert {op: t.count for op, t in totals.items()} == sent
        assert dropped == 0 and not stopped
        counts.append(sum(sent.values()))
    assert counts == [151, 150]


def test_closed_loop_response_equals_service_and_no_lateness():
    sc = make_scenario("{ops: 50, mix: {get: 1}}", concurrency=2)
    _, _, _, totals, _ = run_phase(SleepyTable(0.002), sc)
    t = totals["get"]
    assert list(t.hist("response").counts) == list(t.hist("service").counts)
    assert t.hist("lateness").max() == 0


def test_pegasus_errors_are_counted_by_name_not_fatal():
    sc = make_scenario("{ops: 20, mix: {get: 1}}", concurrency=2)
    table = SleepyTable()
    table.fail = RequestTimeout("no reply in time")
    sent, _, _, totals, _ = run_phase(table, sc)
    assert totals["get"].outcomes == {"ERR_TIMEOUT": 20} and sent == {"get": 20}


def test_other_exceptions_end_the_phase_loudly():
    sc = make_scenario("{ops: 20, mix: {get: 1}}", concurrency=2)
    table = SleepyTable()
    table.fail = ZeroDivisionError("a bug")
    with pytest.raises(ZeroDivisionError):
        run_phase(table, sc)


class DictSleepyTable(SleepyTable):
    """SleepyTable that keeps what is written, so verification can check the reads."""

    def __init__(self, delay=0.0):
        super().__init__(delay)
        self.data = {}

    def get(self, hk, sk):
        self._wait()
        return self.data.get((hk, sk))

    def set(self, hk, sk, value, ttl=0):
        self._wait()
        self.data[(hk, sk)] = value

    def multi_set(self, hk, values, ttl=0):
        self._wait()
        for sk, v in values.items():
            self.data[(hk, sk)] = v


def test_closed_loop_records_one_zero_lateness_sample_per_op():
    sc = make_scenario("{ops: 40, mix: {get: 1}}", concurrency=2)
    _, _, _, totals, _ = run_phase(SleepyTable(0.001), sc)
    t = totals["get"]
    assert t.count == 40 and t.hist("lateness").total == t.hist("response").total == 40
    assert t.hist("lateness").percentiles([100.0]) == {100.0: 0}


def test_closed_loop_writes_are_completed_and_verified_reads_pass():
    sc = load_scenario_text(textwrap.dedent("""\
        workers: 1
        concurrency: 4
        verify: true
        data: {hash_keys: 20, sort_keys: 5, value_size: 32}
        phases:
          - {ops: 400, mix: {get: 1, set: 1}}
        """), "unit.yaml")
    table = DictSleepyTable(0.0005)
    ww = WorkerWorkload(sc, 0)
    load = ww.load_generator()
    while (op := load.next_op()) is not None:
        table.multi_set(op.hash_key, op.values)
        ww.complete(op, True)
    pw = ww.phase(0)
    intervals = []
    runner = PhaseRunner(
        name="run", table=table, ww=ww, next_op_factory=lambda g: pw.generator(g).next_op,
        schedule=None, measured_ops=pw.measured_ops, concurrency=4, duration_s=None, warmup_s=0.0,
        timeout_s=1.0, clock=PhaseClock(time.time() + 0.02), recorder=IntervalRecorder(0),
        selfcheck=SelfCheck(), interval_s=0.25,
        send_interval=lambda blob, check: intervals.append(IntervalSnapshot.from_bytes(blob)), failures=Failures())
    sent, _, _ = runner.run()
    assert sum(sent.values()) == 400 and sent["set"] > 100
    assert sum(e.verify_errors for snap in intervals for e in snap.ops.values()) == 0
    # every write was reported back: no key is left with a write in flight
    assert all(ww.verify.begin_write(key) is not None for key in table.data)
