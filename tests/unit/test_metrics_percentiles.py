"""Every percentile pegload reports is HdrHistogram's: checked against an independent reference
written here from the Java algorithm, and against the real Java implementation and the JavaScript
port when they are installed (Debian ``libhdrhistogram-java``; npm ``hdr-histogram-js`` in
``tests/reference/node_modules`` or on ``NODE_PATH``). The Python ``hdrh`` package is not a
referee: it rounds the rank to nearest and can report one slot low."""
import math
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from pegload.metrics import HIGHEST_US, LatencyHistogram, percentile_rank
from pegload.metrics.levels import LEVELS

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
LEVELS_CHECKED = [0.0, 0.1, 1.0, 10.0, 25.0, 33.333, 50.0, 66.6, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9,
                  99.95, 99.99, 99.999, 100.0, *LEVELS.values()]


# -- the reference, written from the description of Java's AbstractHistogram (1 .. 1 h, 3 digits) --
SUB_BUCKET_COUNT = 1 << math.ceil(math.log2(2 * 10 ** 3))  # 2048: single-unit resolution to 2000
SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1
HALF_MAGNITUDE = int(math.log2(SUB_BUCKET_COUNT)) - 1


def ref_bucket(value):
    # Java: (64 - halfMagnitude - 1) - numberOfLeadingZeros(value | mask), unit magnitude 0
    bucket = (value | SUB_BUCKET_MASK).bit_length() - (HALF_MAGNITUDE + 1)
    return bucket, value >> bucket


def ref_lowest_equivalent(value):
    bucket, sub = ref_bucket(value)
    return sub << bucket


def ref_highest_equivalent(value):
    bucket, sub = ref_bucket(value)
    size = 1 << (bucket + 1 if sub >= SUB_BUCKET_COUNT else bucket)
    return ref_lowest_equivalent(value) + size - 1


def ref_value_at_percentile(sorted_samples, p):
    """getValueAtPercentile on the raw samples: the sample of rank ceil(p'/100 x n) (p' = p one
    ulp down, clamped to 0..100; rank at least 1), reported as its slot's highest equivalent
    value (lowest for p == 0)."""
    n = len(sorted_samples)
    requested = min(max(math.nextafter(p, -math.inf), 0.0), 100.0)
    rank = max(math.ceil(requested / 100.0 * n), 1)
    value = sorted_samples[rank - 1]
    return ref_lowest_equivalent(value) if p == 0 else ref_highest_equivalent(value)


def random_samples(rng, n):
    shape = rng.choice(("uniform", "lognormal", "heavy", "ties", "tiny"))
    if shape == "uniform":
        hi = rng.choice((100, 2000, 50_000, 5_000_000))
        return [rng.randint(0, hi) for _ in range(n)]
    if shape == "lognormal":
        return [min(int(rng.lognormvariate(rng.uniform(4, 9), rng.uniform(0.2, 2))), HIGHEST_US) for _ in range(n)]
    if shape == "heavy":
        return [min(int(100 * rng.paretovariate(rng.uniform(0.5, 2))), HIGHEST_US) for _ in range(n)]
    if shape == "ties":
        values = [rng.randint(1, 10_000_000) for _ in range(rng.randint(1, 6))]
        return [rng.choice(values) for _ in range(n)]
    return [rng.randint(1, 3) for _ in range(n)]


def random_histograms(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        # counts where p/100 x n is a whole number (1000, 2000, 10) are where the rank rules differ
        n = rng.choice((1, 2, 3, 7, 10, 100, 999, 1000, 1001, 2000, 2904, rng.randint(1, 5000)))
        samples = random_samples(rng, n)
        h = LatencyHistogram()
        for v in samples:
            h.record(v)
        out.append((sorted(samples), h))
    return out


def test_the_rank_is_never_below_the_requested_percentile():
    assert percentile_rank(99.9, 2904) == 2902  # ceil(2901.096): rounding to nearest gives 2901
    assert percentile_rank(99.0, 1000) == 990  # p/100 x n a whole number: no extra rank
    assert percentile_rank(50.0, 1) == 1 and percentile_rank(0.0, 10) == 1
    assert percentile_rank(100.0, 7) == 7 and percentile_rank(120.0, 7) == 7


def test_percentiles_equal_the_reference_on_random_histograms():
    for samples, h in random_histograms(400, seed=11):
        got = h.percentiles(LEVELS_CHECKED)
        want = {p: ref_value_at_percentile(samples, p) for p in LEVELS_CHECKED}
        assert got == want, f"{len(samples)} samples"
        assert h.max() == ref_highest_equivalent(samples[-1])


def test_the_case_from_the_issue_differs_from_rounding_to_nearest():
    """2,904 samples: the nearest-rank rule (hdrh) reads the 2,901st sample for p99.9; the
    reference reads the 2,902nd."""
    samples = list(range(1000, 1000 + 2904 * 10, 10))
    h = LatencyHistogram()
    for v in samples:
        h.record(v)
    old = HdrHistogram(1, HIGHEST_US, 3)
    for v in samples:
        old.record_value(v)
    assert (h.percentiles([99.9])[99.9] == ref_value_at_percentile(samples, 99.9)
            == ref_highest_equivalent(samples[2901]))
    assert old.get_value_at_percentile(99.9) == ref_highest_equivalent(samples[2900])


def _run_port(argv, histograms, env=None):
    text = "".join(h.to_base64() + "\n" for _, h in histograms)
    out = subprocess.run([*argv, *(repr(p) for p in LEVELS_CHECKED)], input=text, capture_output=True,
                         text=True, timeout=120, env=env, check=True).stdout
    return [[int(x) for x in line.split()] for line in out.splitlines()]


def _assert_port_agrees(rows, histograms):
    assert len(rows) == len(histograms)
    for row, (samples, h) in zip(rows, histograms):
        got = h.percentiles(LEVELS_CHECKED)
        assert row[0] == h.total
        assert row[1:] == [got[p] for p in LEVELS_CHECKED], f"{len(samples)} samples"


JAR = next((p for p in (Path("/usr/share/java/hdrhistogram.jar"),) if p.exists()), None)


# `java File.java` compiles the source in memory: that takes a JDK (javac's module), not just a JRE
@pytest.mark.skipif(JAR is None or shutil.which("java") is None or shutil.which("javac") is None,
                    reason="Java HdrHistogram or a JDK not installed "
                           "(apt-get install libhdrhistogram-java default-jdk-headless)")
def test_percentiles_equal_java_hdrhistogram_on_the_same_encoded_histograms():
    histograms = random_histograms(300, seed=23)
    rows = _run_port(["java", "-cp", str(JAR), str(REFERENCE_DIR / "HdrPercentiles.java")], histograms)
    _assert_port_agrees(rows, histograms)


def _node_path():
    candidates = [REFERENCE_DIR / "node_modules",
                  *(Path(p) for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p)]
    return next((p for p in candidates if (p / "hdr-histogram-js").is_dir()), None)


@pytest.mark.skipif(_node_path() is None or shutil.which("node") is None,
                    reason="hdr-histogram-js not installed (npm install --prefix tests/reference hdr-histogram-js@3)")
def test_percentiles_equal_the_javascript_port_on_the_same_encoded_histograms():
    histograms = random_histograms(300, seed=29)
    env = dict(os.environ, NODE_PATH=str(_node_path()))
    rows = _run_port(["node", str(REFERENCE_DIR / "hdr_percentiles.js")], histograms, env=env)
    _assert_port_agrees(rows, histograms)


def test_the_percentile_names_are_defined_once():
    from dataclasses import fields

    from pegload.metrics import KindStats, levels
    from pegload.report import figures, summary
    from pegload.scenario import thresholds

    assert [f.name for f in fields(KindStats) if f.name != "encoded"] == list(LEVELS)
    assert figures.LATENCY_STATS is levels.LATENCY_STATS is thresholds.LATENCY_METRICS
    assert summary.LEVELS is levels.LEVELS


def test_the_scenario_loader_gets_the_names_without_loading_histograms():
    import sys

    code = "import sys, pegload.scenario.thresholds; print('hdrh' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
