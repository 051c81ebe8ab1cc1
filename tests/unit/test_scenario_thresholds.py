"""The threshold grammar shared by scenario files and `pegload check --slo`."""
import pytest

from pegload.scenario.thresholds import Threshold, ThresholdError, parse_subject, parse_threshold, parse_thresholds


@pytest.mark.parametrize("text, op, kind, metric, cmp, value, norm", [
    ("get.p99 < 5ms", "get", "response", "p99", "<", 5000.0, "get.p99 < 5ms"),
    ("get.p99<5ms", "get", "response", "p99", "<", 5000.0, "get.p99 < 5ms"),
    ("p50 <= 800us", "all", "response", "p50", "<=", 800.0, "p50 <= 800us"),
    ("all.service.p999 <= 0.02s", "all", "service", "p999", "<=", 20000.0, "service.p999 <= 0.02s"),
    ("multi_get.lateness.max < 2 ms", "multi_get", "lateness", "max", "<", 2000.0, "multi_get.lateness.max < 2ms"),
    ("get.p99.9 < 10ms", "get", "response", "p999", "<", 10000.0, "get.p999 < 10ms"),
    ("set.mean < 1.5ms", "set", "response", "mean", "<", 1500.0, "set.mean < 1.5ms"),
    ("errors < 0.1%", "all", "", "error_rate", "<", 0.001, "errors < 0.1%"),
    ("get.errors < 10", "get", "", "errors", "<", 10.0, "get.errors < 10"),
    ("verify_errors < 1", "all", "", "verify_errors", "<", 1.0, "verify_errors < 1"),
    ("verify_errors <= 0.5%", "all", "", "verify_error_rate", "<=", 0.005, "verify_errors <= 0.5%"),
    ("throughput > 1000", "all", "", "throughput", ">", 1000.0, "throughput > 1000"),
    ("get.throughput >= 1e3ops/s", "get", "", "throughput", ">=", 1000.0, "get.throughput >= 1e3ops/s"),
    ("scan.throughput > 20/s", "scan", "", "throughput", ">", 20.0, "scan.throughput > 20/s"),
    ("get.p90 < 3µs", "get", "response", "p90", "<", 3.0, "get.p90 < 3µs"),
])
def test_parse(text, op, kind, metric, cmp, value, norm):
    t = parse_threshold(text)
    assert (t.op, t.kind, t.metric, t.comparator, t.text) == (op, kind, metric, cmp, norm)
    assert t.value == pytest.approx(value)
    # the normalised text parses to the same threshold
    assert parse_threshold(t.text) == t


@pytest.mark.parametrize("text, message", [
    ("get.p99 < 5", "latency needs a time unit (us, ms or s), got none"),
    ("get.p99 < 5kg", "latency needs a time unit (us, ms or s), got 'kg'"),
    ("get.p95 < 5ms", "unknown metric 'p95'; did you mean 'p99'?"),
    ("gett.p99 < 5ms", "unknown operation 'gett'; did you mean 'get'?"),
    ("get.p99 == 5ms", "comparator '==' is not supported; use <, <=, > or >="),
    ("get.p99 5ms", "expected <[op.][kind.]metric> <comparator> <number>[unit]"),
    ("throughput > 5ms", "throughput is in ops/s"),
    ("errors < 5ms", "errors is a count (bare number) or a rate (with %)"),
    ("service.errors < 1%", "the latency kind 'service' only applies to p50..p999, max and mean"),
    ("a.b.c.p99 < 1ms", "expected [op.][kind.]metric"),
    ("get..p99 < 1ms", "expected [op.][kind.]metric"),
    ("get.p99 < -1ms", "the value must not be negative"),
])
def test_errors(text, message):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(text)
    assert message in str(info.value)


def test_list_forms_and_all_errors_reported():
    ts = parse_thresholds("get.p99<5ms, errors<0.1%")
    assert [t.text for t in ts] == ["get.p99 < 5ms", "errors < 0.1%"]
    assert parse_thresholds(["throughput > 1"])[0].metric == "throughput"
    with pytest.raises(ThresholdError) as info:
        parse_thresholds("get.p99<5, ,foo.p99<1ms")
    text = str(info.value)
    assert ("latency needs a time unit" in text and "empty threshold expression" in text
            and "unknown operation 'foo'" in text)


def test_holds():
    t = parse_threshold("get.p99 < 5ms")
    assert t.holds(4999.0) and not t.holds(5000.0)
    assert parse_threshold("get.p99 <= 5ms").holds(5000.0)
    assert parse_threshold("throughput > 100").holds(100.5) and not parse_threshold("throughput > 100").holds(100)
    assert parse_threshold("throughput >= 100").holds(100)
    assert parse_threshold("errors < 0.1%").holds(0.0009) and not parse_threshold("errors < 0.1%").holds(0.001)
    assert isinstance(t, Threshold) and t.is_latency and not parse_threshold("errors < 1").is_latency


def test_parse_subject_for_other_expression_forms():
    assert parse_subject("get.p99") == ("get", "response", "p99")
    assert parse_subject("throughput") == ("all", "", "throughput")
    assert parse_subject("scan.service.max") == ("scan", "service", "max")
    assert parse_subject("p99.9") == ("all", "response", "p999")
