"""The worker side: OpRecorder hot path, snapshots and their bytes."""
import pytest

from pegload.metrics import HIGHEST_US, KINDS, MISS, OK, IntervalRecorder, IntervalSnapshot, LatencyHistogram


def test_record_counts_outcomes_bytes_and_the_three_kinds():
    rec = IntervalRecorder(worker_id=7)
    get = rec.op("run", "get")
    assert rec.op("run", "get") is get  # cached: the runner keeps it
    get.record(500, 450, 50, OK, nbytes=100)
    get.record(700, 600, 100, MISS, nbytes=10)
    get.record(1_000_000, 1_000_000, 0, "ERR_TIMEOUT")
    get.verification_error()
    snap = rec.snapshot_and_reset(10.0, 11.0)
    e = snap.ops[("run", "get")]
    assert snap.worker_id == 7 and (snap.t_start, snap.t_end) == (10.0, 11.0)
    assert e.count == 3 and e.nbytes == 110 and e.verify_errors == 1
    assert e.outcomes == {OK: 1, MISS: 1, "ERR_TIMEOUT": 1}
    response, service, lateness = (LatencyHistogram.decode(b) for b in e.hists)
    assert response.percentiles([0, 50, 100]) == {0: 500, 50: 700, 100: 1_000_447}
    assert service.percentiles([0, 50]) == {0: 450, 50: 600}
    assert lateness.percentiles([0, 100]) == {0: 0, 100: 100}


def test_clamping_is_counted_per_kind():
    rec = IntervalRecorder()
    op = rec.op("run", "set")
    op.record(-1, HIGHEST_US * 2, 5)
    op.record(10, 10, -30)
    e = rec.snapshot_and_reset(0, 1).ops[("run", "set")]
    assert e.below == (1, 0, 1) and e.above == (0, 1, 0)
    response, service, lateness = (LatencyHistogram.decode(b) for b in e.hists)
    assert response.total == service.total == lateness.total == 2  # clamped, not dropped
    assert response.min() == 0 and lateness.min() == 0
    assert service.max() >= HIGHEST_US


def test_fast_path_records_exactly_what_the_slow_path_records():
    values = [0, 1, 2047, 2048, 2049, 65_535, 123_456_789, HIGHEST_US, HIGHEST_US + 1, -7]
    rec = IntervalRecorder()
    op = rec.op("p", "get")
    slow = LatencyHistogram()
    for v in values:
        op.record(v, v, v)
        slow.record(v)
    e = rec.snapshot_and_reset(0, 1).ops[("p", "get")]
    for blob in e.hists:
        fast = LatencyHistogram.decode(blob)
        assert list(fast.counts) == list(slow.counts)


def test_snapshot_resets_and_omits_idle_ops():
    rec = IntervalRecorder()
    rec.op("run", "get").record(100, 100, 0)
    rec.op("run", "set")  # known but idle
    first = rec.snapshot_and_reset(0, 1)
    assert list(first.ops) == [("run", "get")]
    second = rec.snapshot_and_reset(1, 2)
    assert second.ops == {}
    rec.op("run", "get").record(300, 300, 0)
    third = rec.snapshot_and_reset(2, 3).ops[("run", "get")]
    assert third.count == 1 and LatencyHistogram.decode(third.hists[0]).percentiles([50]) == {50: 300}


def test_bytes_round_trip_is_exact():
    rec = IntervalRecorder(worker_id=2)
    for phase, op in (("load", "set"), ("run", "get"), ("run", "multi_get")):
        r = rec.op(phase, op)
        for i in range(50):
            r.record(100 + i, 90 + i, i % 3, OK if i % 10 else "ERR_BUSY", nbytes=i)
    snap = rec.snapshot_and_reset(1_700_000_000.25, 1_700_000_001.25)
    back = IntervalSnapshot.from_bytes(snap.to_bytes())
    assert back == snap
    assert set(back.ops) == {("load", "set"), ("run", "get"), ("run", "multi_get")}


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"XXXX" + b[4:], "bad magic"),
    (lambda b: b[:12], "malformed header"),
    (lambda b: b + b"\x00\x01", "bytes left after the histograms"),
])
def test_from_bytes_names_what_is_wrong(mutate, message):
    rec = IntervalRecorder()
    rec.op("run", "get").record(1, 1, 1)
    data = rec.snapshot_and_reset(0, 1).to_bytes()
    with pytest.raises(ValueError, match=message):
        IntervalSnapshot.from_bytes(mutate(data))


def test_kinds_are_in_the_documented_order():
    assert KINDS == ("response", "service", "lateness")


def test_floats_are_accepted_and_junk_is_rejected_without_a_trace():
    rec = IntervalRecorder()
    op = rec.op("run", "get")
    op.record(5.0, 5000.7, -1.5)  # other numbers take the slow path: truncated or clamped
    op.record(7, 7.9, float("inf"))
    for junk in [(None, 1, 1), (1, "x", 1), (-3, 2.0, float("nan")), (10**30, -5, None)]:
        with pytest.raises(TypeError, match=r"record\(run/get\): latencies must be numbers of microseconds"):
            op.record(*junk)
    assert op.count == 2 and op.outcomes == {OK: 2}
    e = rec.snapshot_and_reset(0, 1).ops[("run", "get")]
    assert e.below == (0, 0, 1) and e.above == (0, 0, 1)  # only the accepted samples' clamps
    response, service, lateness = (LatencyHistogram.decode(b) for b in e.hists)
    assert response.total == service.total == lateness.total == 2
    assert response.percentiles([0, 100]) == {0: 5, 100: 7}
    assert service.percentiles([0]) == {0: 7} and service.max() == 5003  # 5000 in a 4 µs slot
    assert lateness.percentiles([0, 100]) == {0: 0, 100: HIGHEST_US + 809_983}  # 1 h's slot top


def test_record_closed_is_record_with_the_service_time_as_response_and_no_lateness():
    samples = [(0, OK, 0), (300, OK, 40), (2047, MISS, 0), (2048, OK, 8), (987_654, "ERR_TIMEOUT", 0),
               (HIGHEST_US, OK, 1), (HIGHEST_US + 5, OK, 0), (-4, MISS, 0), (12.7, OK, 3), (5000.0, OK, 0)]
    closed, general = IntervalRecorder(), IntervalRecorder()
    a, b = closed.op("run", "get"), general.op("run", "get")
    for service, outcome, nbytes in samples:
        a.record_closed(service, outcome, nbytes)
        b.record(service, service, 0, outcome, nbytes)
    a.record(900, 800, 70)  # both kinds of call may meet in one interval
    b.record(900, 800, 70)
    assert a.count == b.count == 11 and a.outcomes == b.outcomes == {OK: 8, MISS: 2, "ERR_TIMEOUT": 1}
    x, y = closed.snapshot_and_reset(0, 1).ops[("run", "get")], general.snapshot_and_reset(0, 1).ops[("run", "get")]
    assert (x.count, x.outcomes, x.nbytes, x.below, x.above) == (y.count, y.outcomes, y.nbytes, y.below, y.above)
    assert x.below == (1, 1, 0) and x.above == (1, 1, 0)
    for blob_x, blob_y in zip(x.hists, y.hists):
        hx, hy = LatencyHistogram.decode(blob_x), LatencyHistogram.decode(blob_y)
        assert hx.total == hy.total == 11 and list(hx.counts) == list(hy.counts)
    lateness = LatencyHistogram.decode(x.hists[2])
    assert lateness.percentiles([0, 90]) == {0: 0, 90: 0} and lateness.max() == 70


def test_record_closed_rejects_junk_without_a_trace():
    rec = IntervalRecorder()
    op = rec.op("run", "get")
    op.record_closed(10)
    for junk in (None, "x", float("nan")):
        with pytest.raises(TypeError, match="latencies must be numbers"):
            op.record_closed(junk)
    assert op.count == 1 and op.outcomes == {OK: 1}
    e = rec.snapshot_and_reset(0, 1).ops[("run", "get")]
    assert [LatencyHistogram.decode(b).total for b in e.hists] == [1, 1, 1]
    assert rec.snapshot_and_reset(1, 2).ops == {}  # reset: the bulk lateness zeros too
