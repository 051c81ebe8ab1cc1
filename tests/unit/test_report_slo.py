"""Threshold evaluation against a summary (end of `pegload run`, `pegload check --slo`)."""
import pytest

from pegload.report.slo import all_passed, evaluate_summary
from pegload.report.summary import build_summary
from pegload.report.synthetic import SyntheticPhase, synthetic_run
from pegload.scenario.thresholds import parse_thresholds


@pytest.fixture(scope="module")
def summary():
    get = list(range(1, 1001)) + [(1500, 1400, 100, "ERR_TIMEOUT")] * 10  # 1010 ops
    phases = [
        SyntheticPhase("warm", {"get": [3000] * 10}, duration_s=1.0),
        SyntheticPhase("run", {"get": get, "set": [700] * 90}, duration_s=2.0, verify_errors={"set": 2}),
    ]
    return build_summary(synthetic_run(phases, workers=1))


def judge(summary, text):
    return {r.threshold.text: (r.verdict, r.actual) for r in evaluate_summary(summary, parse_thresholds(text))}


def test_latency_thresholds_use_the_named_kind(summary):
    # measured = warm + run: 1..1000 µs, ten 1500 µs timeouts (service 1400 µs), ten 3000 µs
    got = judge(summary, "get.p50<1ms, get.p99 <= 1.5ms, get.service.p99<1.4ms, get.lateness.max<=100us")
    assert got == {"get.p50 < 1ms": ("pass", 510), "get.p99 <= 1.5ms": ("pass", 1500),
                   "get.service.p99 < 1.4ms": ("breach", 1400), "get.lateness.max <= 100us": ("pass", 100)}
    assert judge(summary, "get.max<3ms")["get.max < 3ms"] == ("breach", 3001)  # 3000 µs: a 2 µs slot


def test_rates_counts_and_throughput(summary):
    got = judge(summary, "errors<1%,errors<5,verify_errors<2,verify_errors<1%,throughput>1000,all.throughput<=500,"
                         "set.throughput>=30")
    # measured = warm + run: 1110 ops in 3 s, 10 errors, 2 verification errors
    assert got["errors < 1%"] == ("pass", 10 / 1110)
    assert got["errors < 5"] == ("breach", 10)
    assert got["verify_errors < 2"] == ("breach", 2)
    assert got["verify_errors < 1%"] == ("pass", 2 / 1110)
    assert got["throughput > 1000"] == ("breach", 370.0)
    assert got["throughput <= 500"] == ("pass", 370.0)  # "all." is the default op
    assert got["set.throughput >= 30"] == ("pass", 30.0)


def test_phase_thresholds_and_missing_data(summary):
    (t,) = parse_thresholds("get.max<2ms")
    (u,) = parse_thresholds("scan.p99<1s")
    results = evaluate_summary(summary, [("warm", t), ("run", t), u])
    assert [(r.name, r.verdict) for r in results] == [
        ("warm: get.max < 2ms", "breach"), ("run: get.max < 2ms", "pass"), ("scan.p99 < 1s", "no data")]
    assert not all_passed(results)
    assert results[2].describe() == "scan.p99 < 1s: no data (no scan ops measured)"
    assert results[0].to_dict()["actual"] == 3001
    with pytest.raises(ValueError, match="phase 'nope', which is not in this run"):
        evaluate_summary(summary, [("nope", t)])
