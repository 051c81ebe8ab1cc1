"""The end-of-run table and the live progress line."""
from pegload.metrics import IntervalRecorder, RunAccumulator
from pegload.report import RunStatus, Validity
from pegload.report.summary import build_summary
from pegload.report.synthetic import SyntheticPhase, synthetic_run
from pegload.report.terminal import compact_us, progress_line, render_table, summary_table


def test_render_table_aligns_text_left_and_numbers_right():
    text = render_table(["op", "count"], [["get", "1,000"], ["multi_get", "5"]])
    assert text.splitlines() == ["op         count", "---------  -----", "get        1,000", "multi_get      5"]


def test_summary_table_per_phase_and_op():
    phases = [SyntheticPhase("run", {"get": list(range(1, 1001)) + [(1500, 1500, 0, "ERR_TIMEOUT")] * 10,
                                     "set": [700] * 95 + [(700, 700, 0, "miss")] * 5},
                             duration_s=2.0, mode="open", target_rate=555)]
    run = synthetic_run(phases, workers=2, validity=Validity(False, ("worker 0 CPU 96% > 90%",)),
                        status=RunStatus(exit_code=130, interrupted=True))
    lines = summary_table(build_summary(run)).splitlines()
    assert lines[0] == "phase run (run, open loop at 555 ops/s, 2.0 s); response time from intended start"
    assert lines[1].split() == ["op", "count", "ops/s", "p50", "p99", "p99.9", "max", "errors", "retries", "misses"]
    get = next(line for line in lines if line.startswith("get "))
    assert get.split() == ["get", "1,010", "505", "505", "µs", "1", "ms", "1.5", "ms", "1.5", "ms",
                           "10", "(0.99%)", "0", "0"]
    assert next(line for line in lines if line.startswith("set ")).split()[-1] == "5"
    assert next(line for line in lines if line.startswith("all ")).split()[1] == "1,110"
    assert "run interrupted" in lines
    assert lines[-2:] == ["NOT VALID: the client, not the server, limited this run:", "  - worker 0 CPU 96% > 90%"]


def test_progress_line_shows_the_latest_interval_and_cumulative_errors():
    acc = RunAccumulator(1.0, workers=[0])
    assert progress_line(acc, 0.4, 60) == "0s/1:00 waiting for the first interval"
    rec = IntervalRecorder(0)
    for v in range(1, 1001):
        rec.op("run", "get").record(v, v, 0)
    for _ in range(100):
        rec.op("run", "set").record(2500, 2500, 0, "ERR_BUSY")
    acc.add(rec.snapshot_and_reset(0.0, 1.0))
    line = progress_line(acc, 12.3, 60, phase="run", now=1.5)
    assert line == ("run 12s/1:00 1,100 ops/s | get 1,000/s p50 500µs p99 990µs | "
                    "set 100/s p50 2.5ms p99 2.5ms | errors 100")
    assert "+1 ops" in progress_line(acc, 12.3, max_ops=1, now=1.5)


def test_progress_line_does_not_repeat_stale_figures():
    """A worker that froze holds intervals open: the line says so rather than show old figures."""
    acc = RunAccumulator(1.0, workers=[0])
    rec = IntervalRecorder(0)
    rec.op("run", "get").record(300, 300, 0)
    acc.add(rec.snapshot_and_reset(0.0, 1.0))
    assert "ops/s" in progress_line(acc, 2.0, phase="run", now=2.4)
    line = progress_line(acc, 4.0, phase="run", now=4.0)
    assert line == "run 4s no complete interval for 3.0 s (waiting for a worker) | errors 0"


def test_compact_units():
    assert [compact_us(v) for v in (None, 412, 1900, 2_300_000)] == ["-", "412µs", "1.9ms", "2.3s"]
