"""summary.json built from a run of known samples: every number checked exactly."""
import json

import pytest

from pegload.metrics import HIGHEST_US, LatencyHistogram
from pegload.report import RunStatus, Validity
from pegload.report.summary import SCHEMA_VERSION, TIMESERIES_COLUMNS, build_summary, dumps
from pegload.report.synthetic import SyntheticPhase, synthetic_run

GET = list(range(1, 1001)) + [(1500, 1400, 100, "ERR_TIMEOUT")] * 10
SET = [700] * 95 + [(700, 700, 0, "miss")] * 5


def known_run(**kwargs):
    phases = [
        SyntheticPhase("load", {"set": [600] * 300}, duration_s=2.0, kind="load"),
        SyntheticPhase("run", {"get": GET, "set": SET}, duration_s=4.0, mode="open", target_rate=277.5,
                       verify_errors={"get": 3}),
    ]
    return synthetic_run(phases, workers=2, **kwargs)


@pytest.fixture(scope="module")
def summary():
    return build_summary(known_run())


def test_identity_and_layout(summary):
    assert summary["schema_version"] == SCHEMA_VERSION and summary["kind"] == "pegload-run"
    assert summary["histogram"] == {"unit": "us", "lowest": 1, "highest": HIGHEST_US,
                                    "significant_digits": 3, "encoding": "HdrHistogram V2 compressed, base64"}
    assert summary["run"]["status"] == "completed" and summary["run"]["workers"] == 2
    assert summary["target"]["partition_count"] == 8 and summary["target"]["table"] == "temp"
    assert summary["load_shape"]["phases"][1] == {"name": "run", "kind": "run", "mode": "open",
                                                  "target_rate": 277.5, "duration_s": 4.0, "ops": None,
                                                  "warmup_s": 0.0, "ramp": None}
    assert summary["validity"] == {"valid": True, "limited_by": None, "reasons": [], "details": [],
                                   "cautions": []}


def test_op_figures_are_exact(summary):
    run = summary["phases"][1]
    assert run["name"] == "run" and run["duration_s"] == 4.0
    get = run["ops"]["get"]
    assert get["count"] == 1010 and get["throughput"] == 252.5
    assert (get["ok"], get["misses"], get["error_count"]) == (1000, 0, 10)
    assert get["errors"] == {"ERR_TIMEOUT": 10} and get["error_rate"] == 10 / 1010
    assert get["verification_errors"] == 3
    # 1..1000 µs (1 µs resolution below 2 ms) then ten 1500 µs timeouts
    response = get["latency_us"]["response"]
    assert {k: response[k] for k in ("p50", "p90", "p99", "p999", "max")} == \
        {"p50": 505, "p90": 909, "p99": 1000, "p999": 1500, "max": 1500}
    assert response["mean"] == round((sum(range(1, 1001)) + 15_000) / 1010, 1)
    assert get["latency_us"]["service"]["max"] == 1400
    assert get["latency_us"]["lateness"]["p50"] == 0 and get["latency_us"]["lateness"]["max"] == 100
    assert get["out_of_range"]["response"] == {"below": 0, "above": 0}
    s = run["ops"]["set"]
    assert (s["count"], s["ok"], s["misses"], s["error_count"]) == (100, 95, 5, 0)


def test_all_aggregates_ops_and_measured_leaves_out_the_load_phase(summary):
    run = summary["phases"][1]
    assert run["all"]["count"] == 1110 and run["all"]["throughput"] == 277.5
    assert run["all"]["errors"] == {"ERR_TIMEOUT": 10}
    assert summary["phases"][0]["kind"] == "load" and summary["phases"][0]["ops"]["set"]["count"] == 300
    measured = summary["measured"]
    assert measured["phases"] == ["run"] and measured["duration_s"] == 4.0
    assert measured["ops"]["set"]["count"] == 100  # not the 300 load writes
    assert measured["all"]["latency_us"]["response"]["max"] == 1500


def test_histograms_are_stored_for_later_merging(summary):
    get = summary["measured"]["ops"]["get"]
    h = LatencyHistogram.decode(get["histograms"]["response"])
    assert h.total == 1010 and h.percentiles([50]) == {50: 505}
    assert set(get["histograms"]) == {"response", "service", "lateness"}


def test_timeseries_covers_every_op_in_every_interval(summary):
    ts = summary["timeseries"]
    assert ts["columns"] == list(TIMESERIES_COLUMNS) and ts["interval_s"] == 1.0
    rows = [dict(zip(ts["columns"], r)) for r in ts["rows"]]
    assert sum(r["count"] for r in rows) == 300 + 1110
    assert sum(r["errors"] for r in rows) == 10 and sum(r["misses"] for r in rows) == 5
    run_get = [r for r in rows if r["phase"] == "run" and r["op"] == "get"]
    assert [r["start"] for r in run_get] == [2.5, 3.5, 4.5, 5.5]  # the run phase starts 0.5 s after load
    assert all(r["duration"] == 1.0 for r in run_get)
    assert max(r["response.max"] for r in run_get) == 1500


def test_out_of_range_is_reported():
    run = synthetic_run([SyntheticPhase("run", {"get": [10, (HIGHEST_US + 5, 10, -1, "ok")]})], workers=1)
    get = build_summary(run)["measured"]["ops"]["get"]
    assert get["out_of_range"] == {"response": {"below": 0, "above": 1}, "service": {"below": 0, "above": 0},
                                   "lateness": {"below": 1, "above": 0}}
    assert get["count"] == 2


def test_status_and_validity_are_carried():
    run = known_run(validity=Validity(False, ("worker 1 CPU 97% > 90%",)),
                    status=RunStatus(exit_code=3, crashed_workers=({"worker_id": 1, "reason": "killed"},)))
    s = build_summary(run)
    assert s["validity"] == {"valid": False, "limited_by": None, "reasons": ["worker 1 CPU 97% > 90%"],
                             "details": [], "cautions": []}
    assert s["run"]["status"] == "crashed" and s["run"]["exit_code"] == 3
    assert s["run"]["crashed_workers"] == [{"worker_id": 1, "reason": "killed"}]
    assert RunStatus(interrupted=True).state == "interrupted"


def test_dumps_is_valid_json_with_rows_on_one_line(summary):
    text = dumps(summary)
    assert json.loads(text) == json.loads(json.dumps(summary))
    row = summary["timeseries"]["rows"][0]
    one_line = "[" + ", ".join(json.dumps(x) for x in row) + "]"
    assert any(line.strip().rstrip(",") == one_line for line in text.splitlines())


def test_per_worker_histograms_add_up_to_the_phase(summary):
    """The report keeps each worker's histograms, so that the merge can be audited."""
    from pegload.metrics import KINDS, LatencyHistogram

    run = {p["name"]: p for p in summary["phases"]}["run"]
    assert set(run["workers"]) == {"0", "1"}
    for op, entry in run["ops"].items():
        for kind in KINDS:
            merged = LatencyHistogram()
            for w in run["workers"].values():
                merged.add_encoded(w["ops"][op]["histograms"][kind])
            assert merged.total == entry["count"] == sum(w["ops"][op]["count"] for w in run["workers"].values())
            assert list(merged.counts) == list(LatencyHistogram.decode(entry["histograms"][kind]).counts)


def test_retries_sit_next_to_errors_per_op_and_cause():
    self_check = {"phases": {"run": {"retries": {"get": {"busy": 7, "reset": 2}}, "reconnects": 3}}}
    s = build_summary(known_run(self_check=self_check))
    run = {p["name"]: p for p in s["phases"]}["run"]
    assert run["ops"]["get"]["retries"] == {"busy": 7, "reset": 2} and run["ops"]["get"]["retry_count"] == 9
    assert run["ops"]["set"]["retries"] == {} and run["all"]["retry_count"] == 9 and run["all"]["reconnects"] == 3
    assert s["measured"]["all"]["retries"] == {"busy": 7, "reset": 2}


def test_open_loop_throughput_is_over_the_planned_length_and_the_drain_apart():
    from pegload.report import PhaseInfo

    run = known_run()
    run.phases = [PhaseInfo(p.name, p.kind, p.start, (p.end or 0) + 1.5, p.mode, p.target_rate, p.planned_duration_s,
                            p.planned_ops, planned_s=p.planned_duration_s, late_sent=40 if p.kind == "run" else 0)
                  for p in run.phases]
    s = build_summary(run)
    phase = {p["name"]: p for p in s["phases"]}["run"]
    assert phase["duration_s"] == 4.0  # not the 5.5 s the drain stretched the span to
    assert phase["all"]["throughput"] == round(phase["all"]["count"] / 4.0, 3)
    assert phase["drain"] == {"ops": 40, "s": 1.5}


def test_the_exit_code_recorded_is_the_processs(tmp_path):
    from pegload.report import write_report
    from pegload.report.summary import record_exit_code

    paths = write_report(known_run(), tmp_path / "r")
    record_exit_code(paths.summary, 1)
    assert json.loads(paths.summary.read_text())["run"]["exit_code"] == 1
