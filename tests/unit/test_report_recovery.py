"""Recovery figures of events, on hand-made interval series with known answers."""
import json
from types import SimpleNamespace

from pegload.metrics import LatencyHistogram
from pegload.metrics.accumulator import IntervalOpStats, IntervalStats, kind_stats
from pegload.report.model import PhaseInfo
from pegload.report.recovery import event_summaries
from pegload.report.slo import evaluate_summary
from pegload.scenario import parse_threshold

T0 = 1_000.0  # the phase's measured start (epoch s)


def interval(i, p99_us, n=100, errors=0):
    h = LatencyHistogram()
    h.record(1000, n - max(n // 50, 1))  # the bulk at 1 ms; the top 2% at p99_us
    h.record(p99_us, max(n // 50, 1))
    op = IntervalOpStats(n, n - errors, 0, {"ERR_TIMEOUT": errors} if errors else {}, 0, {"response": kind_stats(h)})
    return IntervalStats("run", i, T0 + i, T0 + i + 1, {"get": op})


def acc_of(p99s, errors=None):
    errors = errors or {}
    ivs = [interval(i, v, errors=errors.get(i, 0)) for i, v in enumerate(p99s)]
    return SimpleNamespace(series=lambda: ivs)


def record(i, at, phase="run"):
    return {"index": i, "phase": phase, "at_s": at, "kind": "onebox", "action": "stall", "label": "stall",
            "planned_at": T0 + at, "started_at": T0 + at, "ended_at": T0 + at + 0.01, "outcome": "ok"}


PHASES = [PhaseInfo("run", start=T0, end=T0 + 20)]


def test_recovery_counts_to_the_first_steady_intervals_back_under_the_baseline_limit():
    # baseline 1 ms (2 ms limit); the event at 5 s; over for 3 intervals (5,6,7); a lone spike at 14
    p99s = [1000] * 5 + [900_000, 400_000, 50_000] + [1000] * 6 + [9000] + [1000] * 5
    (e,) = event_summaries([record(0, 5.0)], acc_of(p99s, {5: 30, 6: 2}), PHASES, {}, T0 - 2)
    r = e["recovery"]["p99"]
    assert (r["s"], r["recovered"], r["limit_from"]) == (3.0, True, "baseline")
    assert abs(r["peak_us"] - 900_000) < 900_000 * 0.002  # the histogram's precision
    assert 1000 <= r["baseline_us"] <= 1001 and r["limit_us"] == 2 * r["baseline_us"]  # > 1.25 x the worst
    assert e["recovery"]["errors"]["s"] == 2.0  # 30% and 2% of the ops failed in intervals 5 and 6
    assert e["attributed"] == {"until_s": 3.0, "ops": 300, "errors": {"ERR_TIMEOUT": 32}, "error_count": 32,
                               "timeouts": 32}
    assert (e["t"], e["at_actual_s"], e["late_s"]) == (7.0, 5.0, 0.0)


def test_an_event_that_never_recovers_and_an_slo_limit():
    p99s = [1000] * 5 + [900_000] * 15
    scenario = {"thresholds": ["p99 < 100ms"]}
    (e,) = event_summaries([record(0, 5.0)], acc_of(p99s), PHASES, scenario, T0)
    r = e["recovery"]["p99"]
    assert (r["recovered"], r["s"], r["limit_us"], r["limit_from"]) == (False, 15.0, 100_000, "slo")
    summary = {"phases": [{"name": "run"}], "measured": {}, "events": [e]}
    (res,) = evaluate_summary(summary, [parse_threshold("recovery.p99 < 5s")])
    assert (res.actual, res.verdict) == (15.0, "breach")
    # the window's length is only a lower bound: never recovered is a breach whatever the limit
    (res,) = evaluate_summary(summary, [parse_threshold("recovery.p99 < 60s")])
    assert (res.actual, res.verdict, res.unmet) == (15.0, "breach", "not recovered after stall")
    assert res.to_dict()["unmet"] == "not recovered after stall"
    (res,) = evaluate_summary({**summary, "events": []}, [parse_threshold("recovery.p99 < 5s")])
    assert res.verdict == "no data"


def test_events_not_run_are_kept_without_figures_and_a_second_event_reuses_the_baseline():
    p99s = [1000] * 3 + [500_000] + [1000] * 16
    skipped = {"index": 2, "phase": "run", "at_s": 30.0, "kind": "exec", "action": "exec", "label": "x",
               "planned_at": None, "started_at": None, "ended_at": None, "outcome": "skipped"}
    out = event_summaries([record(0, 3.0), record(1, 7.0), skipped], acc_of(p99s), PHASES, {}, T0)
    assert out[0]["recovery"]["p99"]["s"] == 1.0 and out[0]["window_s"] == 4.0
    # right after the first event recovered there are no new baseline intervals: the first's holds
    assert out[1]["recovery"]["p99"]["limit_from"] == "baseline" and out[1]["recovery"]["p99"]["s"] == 0.0
    assert out[2]["outcome"] == "skipped" and "recovery" not in out[2] and out[2]["t"] is None


def test_check_judges_recovery_slos_on_the_current_runs_events(tmp_path):
    from pegload.report import write_report
    from pegload.report.gate import run_check
    from pegload.report.runs import load_run
    from pegload.report.synthetic import SyntheticPhase, latency_samples, synthetic_run

    (e,) = event_summaries([record(0, 5.0)], acc_of([1000] * 5 + [900_000] * 2 + [1000] * 13), PHASES, {}, T0)
    assert e["recovery"]["p99"]["s"] == 2.0

    def saved(name, events):
        run = synthetic_run([SyntheticPhase("run", {"get": latency_samples(500, 400, seed=1)}, duration_s=2.0)])
        paths = write_report(run, tmp_path / name)
        data = json.loads(paths.summary.read_text())
        data["events"] = events  # as a run with that event would have recorded it
        paths.summary.write_text(json.dumps(data))
        return load_run(paths.summary)

    with_event, without = saved("a", [e]), saved("b", [])
    slos = [parse_threshold("recovery.p99 < 5s"), parse_threshold("recovery.errors < 1s")]
    result = run_check([with_event], [without], rules=[], slos=slos, allow_invalid=True)
    assert [(v.name, v.verdict, v.current) for v in result.verdicts] == [
        ("SLO recovery.p99 < 5s", "pass", 2.0), ("SLO recovery.errors < 1s", "pass", 0.0)]
    result = run_check([without], [with_event], rules=[], slos=slos[:1], allow_invalid=True)
    assert [(v.verdict, v.detail) for v in result.verdicts] == [("no data", "no event ran")]


def test_the_baseline_limit_allows_the_worst_quiet_interval():
    # quiet intervals between 1 and 4 ms: an interval at 4.5 ms after the event is no disturbance
    p99s = [1000, 4000, 1000, 1500, 1000] + [4500] + [1000] * 14
    (e,) = event_summaries([record(0, 5.0)], acc_of(p99s), PHASES, {}, T0)
    r = e["recovery"]["p99"]
    assert r["s"] == 0.0 and 4000 <= r["baseline_worst_us"] <= 4004 and r["limit_us"] == 1.25 * r["baseline_worst_us"]
