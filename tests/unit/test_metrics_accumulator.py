"""The coordinator side: RunAccumulator merges (adds, never averages) and keeps the series."""
from pegload.metrics import MISS, OK, IntervalRecorder, LatencyHistogram, RunAccumulator


def snap(worker, t0, t1, samples, phase="run", op="get", outcome=OK):
    rec = IntervalRecorder(worker)
    r = rec.op(phase, op)
    for v in samples:
        r.record(v, v, 0, outcome)
    return rec.snapshot_and_reset(t0, t1)


def test_merge_equals_one_histogram_of_all_samples_never_an_average():
    fast = list(range(100, 1100))  # worker 0: p99 ~1090
    slow = list(range(10_000, 10_100))  # worker 1: p99 ~10100
    acc = RunAccumulator(1.0, workers=[0, 1])
    acc.add(snap(0, 100.0, 101.0, fast))
    acc.add(snap(1, 100.0, 101.0, slow).to_bytes())  # bytes are accepted too
    total = acc.totals("run", "get")
    everything = LatencyHistogram()
    for v in fast + slow:
        everything.record(v)
    ps = [50, 90, 99, 99.9, 100]
    merged = total.hist("response").percentiles(ps)
    assert merged == everything.percentiles(ps)
    assert total.count == 1100
    # the 1089th of 1100 samples is the slow worker's 10,088 µs (reported as its 8 µs slot's top);
    # averaging the two workers' p99s would have said ~5.5 ms
    assert merged[99] == 10_095
    assert acc.worker_ops == {0: 1000, 1: 100}


def test_counters_add_up_exactly():
    acc = RunAccumulator(1.0, workers=[0, 1])
    acc.add(snap(0, 0.0, 1.0, [10] * 5))
    acc.add(snap(1, 0.0, 1.0, [20] * 3, outcome=MISS))
    acc.add(snap(0, 1.0, 2.0, [30] * 2, outcome="ERR_TIMEOUT"))
    acc.add(snap(1, 1.0, 2.0, [40] * 4))
    t = acc.totals("run", "get")
    assert (t.count, t.ok, t.misses, t.error_count) == (14, 9, 3, 2)
    assert t.errors == {"ERR_TIMEOUT": 2}


def test_an_interval_closes_when_every_live_worker_has_reported_it():
    acc = RunAccumulator(1.0, workers=[0, 1])
    acc.begin_phase("run", 50.0)
    acc.add(snap(0, 50.0, 51.0, [100]))
    assert acc.intervals == [] and acc.open_intervals == 1  # waiting for worker 1
    acc.add(snap(1, 50.0, 51.01, [200]))
    assert len(acc.intervals) == 1
    s = acc.latest()
    assert (s.phase, s.index, s.count) == ("run", 0, 2)
    assert s.ops["get"].kinds["response"].p50 == 100
    acc.add(snap(0, 51.0, 52.0, [300]))
    acc.worker_gone(1)  # crashed: no longer waited for
    assert [i.index for i in acc.series()] == [0, 1]
    assert acc.totals("run", "get").count == 3


def test_a_late_snapshot_reopens_its_interval_and_nothing_is_lost():
    acc = RunAccumulator(1.0, workers=[0])
    acc.begin_phase("run", 0.0)
    acc.add(snap(0, 0.0, 1.0, [100, 100]))
    acc.add(snap(0, 1.0, 2.0, [500]))
    assert len(acc.intervals) == 2
    late = snap(7, 0.0, 1.0, [900, 900, 900])  # an unknown worker reporting the first second late
    acc.add(late)
    acc.finish()
    first = [s for s in acc.series() if s.index == 0]
    assert len(first) == 1 and first[0].count == 5
    assert first[0].ops["get"].kinds["response"].max == 900
    assert acc.totals("run", "get").count == 6


def test_phases_have_their_own_grid_and_the_series_is_in_time_order():
    acc = RunAccumulator(1.0, workers=[0])
    acc.begin_phase("load", 0.0)
    acc.add(snap(0, 0.0, 1.0, [10], phase="load", op="set"))
    acc.add(snap(0, 1.0, 1.4, [10], phase="load", op="set"))  # partial last interval
    acc.end_phase("load")
    acc.begin_phase("run", 1.9)
    acc.add(snap(0, 1.9, 2.9, [20, 20]))
    acc.finish()
    series = acc.series()
    assert [(s.phase, s.index) for s in series] == [("load", 0), ("load", 1), ("run", 0)]
    assert round(series[1].duration, 3) == 0.4
    assert acc.phases() == ["load", "run"]
    assert acc.ops("load") == ["set"] and acc.ops("run") == ["get"]
    assert acc.phase_spans["load"] == [0.0, 1.4]


def test_empty_snapshots_only_advance_coverage():
    acc = RunAccumulator(1.0, workers=[0, 1])
    acc.add(snap(0, 0.0, 1.0, [5]))
    acc.add(IntervalRecorder(1).snapshot_and_reset(0.0, 1.0))  # worker 1 was idle
    assert len(acc.intervals) == 1 and acc.snapshots == 2
