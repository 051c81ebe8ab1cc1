"""The report folder: every file written, and the HdrHistogram ones readable by standard tools."""
import re

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from pegload.metrics import LatencyHistogram
from pegload.report import load_run, write_report
from pegload.report.hgrm import percentile_distribution
from pegload.report.spectrum import spectrum
from pegload.report.synthetic import SyntheticPhase, latency_samples, synthetic_run
from pegload.scenario.thresholds import parse_thresholds


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    phases = [
        SyntheticPhase("load", {"set": [600] * 200}, duration_s=1.0, kind="load"),
        SyntheticPhase("run", {"get": latency_samples(3000, 400, seed=1) + [(9000, 800, 8200, "ERR_TIMEOUT")] * 3,
                               "multi_get": latency_samples(500, 1500, seed=2)}, duration_s=3.0,
                       mode="open", target_rate=1167),
    ]
    run = synthetic_run(phases, workers=2)
    thresholds = parse_thresholds("get.p99<5ms,errors<0.01%") + [("run", parse_thresholds("multi_get.p50<1ms")[0])]
    return run, write_report(run, tmp_path_factory.mktemp("report"), thresholds=thresholds)


def test_every_file_is_written_and_listed(report):
    _, paths = report
    for p in (paths.summary, paths.html, paths.hlog, paths.text):
        assert p.is_file() and p.stat().st_size > 0
    assert sorted(k[:2] for k in paths.hgrm if k[2] == "response") == \
        [("load", "set"), ("run", "get"), ("run", "multi_get")]
    files = paths.data["files"]
    assert files["hlog"] == "latency.hlog" and "hgrm/run.get.response.hgrm" in files["hgrm"]
    assert all((paths.dir / f).is_file() for f in files["hgrm"])
    assert load_run(paths.dir).summary == paths.data  # the folder loads back as written


def test_thresholds_are_judged_and_recorded(report):
    _, paths = report
    verdicts = {r["threshold"]: r["verdict"] for r in paths.data["thresholds"]}
    assert verdicts == {"get.p99 < 5ms": "pass", "errors < 0.01%": "breach", "multi_get.p50 < 1ms": "breach"}
    assert not paths.slo_passed
    text = paths.text.read_text()
    assert "BREACH   errors < 0.01% (measured 0.0856%)" in text
    assert "BREACH   run: multi_get.p50 < 1ms" in text


def test_hlog_header_follows_the_standard_format(report):
    run, paths = report
    lines = paths.hlog.read_text().splitlines()
    assert lines[1] == "#[Histogram log format version 1.3]"
    assert re.fullmatch(r"#\[StartTime: 1700000000\.000 \(seconds since epoch\), "
                        r"\w{3} \w{3} \d\d [\d:]{8} UTC \d{4}\]", lines[2])
    assert lines[3] == "#[BaseTime: 1700000000.000 (seconds since epoch)]"
    assert lines[4] == '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
    body = lines[5:]
    assert all(re.fullmatch(r"Tag=[^, ]+,\d+\.\d{3},\d+\.\d{3},\d+\.\d{3},HISTF\S+", line) for line in body)
    starts = [float(line.split(",")[1]) for line in body]
    assert starts == sorted(starts)  # readers assume time order


def test_hlog_reads_back_with_the_hdrhistogram_reader(report):
    _, paths = report
    reader = HistogramLogReader(str(paths.hlog), HdrHistogram(1, 3_600_000_000, 3))
    by_tag: dict[str, HdrHistogram] = {}
    intervals = 0
    while (h := reader.get_next_interval_histogram()) is not None:
        intervals += 1
        tag = h.get_tag()
        if tag in by_tag:
            by_tag[tag].add(h)
        else:
            by_tag[tag] = h
    reader.close()
    assert set(by_tag) >= {"load/set/response", "run/get/response", "run/get/service", "run/multi_get/lateness"}
    get = paths.data["phases"][1]["ops"]["get"]
    merged = by_tag["run/get/response"]
    assert merged.get_total_count() == get["count"] == 3003
    assert merged.get_value_at_percentile(99) == get["latency_us"]["response"]["p99"]
    assert merged.get_max_value() == 9007  # 9000 µs lands in an 8 µs slot
    assert intervals == len(paths.hlog.read_text().splitlines()) - 5


def test_hgrm_matches_the_standard_percentile_output():
    h = LatencyHistogram()
    for v in range(1, 1001):  # 1..1000 µs: every percentile level is an exact value
        h.record(v)
    text = percentile_distribution(h)
    lines = text.splitlines()
    assert lines[0] == "       Value     Percentile TotalCount 1/(1-Percentile)" and lines[1] == ""
    # Java's PercentileIterator levels: 10% steps to 50%, then halving step per halved distance
    levels = [float(line.split()[1]) for line in lines[2:] if not line.startswith("#")]
    assert levels[:13] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.775, 0.8]
    assert lines[2] == "       0.001 0.000000000000          1           1.00"
    assert lines[7] == "       0.500 0.500000000000        500           2.00"
    assert lines[8] == "       0.550 0.550000000000        550           2.22"
    last = [line for line in lines if not line.startswith("#")][-1]
    assert last == "       1.000 1.000000000000       1000"  # the closing line has no 1/(1-p)
    assert lines[-3] == "#[Mean    =        0.500, StdDeviation   =        0.289]"
    assert lines[-2] == "#[Max     =        1.000, Total count    =         1000]"
    assert lines[-1] == "#[Buckets =           22, SubBuckets     =         2048]"


def test_spectrum_values_agree_with_percentile_lookups():
    h = LatencyHistogram()
    for v in latency_samples(5000, 800, sigma=0.8, seed=4):
        h.record(v)
    points = spectrum(h)
    assert points[-1].percentile == 100.0 and points[-1].total_count == 5000
    assert [p.percentile for p in points] == sorted(p.percentile for p in points)
    for p in points[1:-1]:
        # the value reported at a level is the first slot whose cumulative share reaches it
        share = 100.0 * p.total_count / h.total
        assert share >= p.percentile
        assert h.percentiles([p.percentile])[p.percentile] <= p.value
