"""LatencyHistogram: pegload's fixed layout, clamping, exact percentiles, standard encodings."""
import math
import random

import pytest
from hdrh.histogram import HdrHistogram

from pegload.metrics import (
    COUNTS_LEN,
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    HistogramFormatError,
    LatencyHistogram,
    counts_index,
    highest_equivalent,
    lowest_equivalent,
)


def reference(values):
    h = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for v in values:
        assert h.record_value(v)
    return h


def spread_values(n=5000, seed=3):
    rng = random.Random(seed)
    return [int(math.exp(rng.uniform(0, math.log(HIGHEST_US)))) for _ in range(n)] + list(range(0, 3000))


def test_fast_index_matches_hdrhistogram_layout():
    ref = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    assert ref.counts_len == COUNTS_LEN
    for v in spread_values() + [HIGHEST_US, 2047, 2048, 2049, 4095, 4096]:
        i = counts_index(v)
        assert i == ref._counts_index_for(v), v
        assert lowest_equivalent(i) <= v <= highest_equivalent(i)
        assert lowest_equivalent(i) == ref.get_lowest_equivalent_value(v)
        assert highest_equivalent(i) == ref.get_highest_equivalent_value(v)


def test_one_microsecond_resolution_below_2ms():
    h = LatencyHistogram()
    for v in (1, 399, 400, 401, 2047):
        h.record(v)
    assert h.percentiles([20, 40, 60, 80, 100]) == {20: 1, 40: 399, 60: 400, 80: 401, 100: 2047}


def test_mean_and_max_equal_the_hdrh_package():
    """(Percentiles are checked against HdrHistogram's rank rule in test_metrics_percentiles.py:
    the hdrh package rounds the rank to nearest.)"""
    values = spread_values()
    ref = reference(values)
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    assert h.total == len(values)
    assert h.mean() == pytest.approx(ref.get_mean_value(), rel=1e-12)
    assert h.stddev() == pytest.approx(ref.get_stddev(), rel=1e-9)
    assert h.max() == ref.get_max_value()


def test_out_of_range_samples_are_clamped_and_kept():
    h = LatencyHistogram()
    assert h.record(-5) == -1
    assert h.record(HIGHEST_US + 1_000_000) == 1
    assert h.record(HIGHEST_US) == 0
    assert h.total == 3  # nothing dropped
    assert h.percentiles([1, 100]) == {1: 0, 100: highest_equivalent(counts_index(HIGHEST_US))}


def test_raw_and_base64_encodings_round_trip_and_interoperate():
    values = spread_values(2000, seed=9)
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    ps = [50, 99, 100]
    raw = LatencyHistogram.decode(h.encode())
    assert raw.percentiles(ps) == h.percentiles(ps) and raw.total == h.total
    text = h.to_base64()
    assert text.startswith("HISTF")
    other = HdrHistogram.decode(text)  # the library's own decoder reads our standard form
    assert other.get_total_count() == len(values)
    assert list(other.counts) == list(h.counts)
    theirs = LatencyHistogram.decode(reference(values).encode())  # and we read theirs
    assert theirs.percentiles(ps) == h.percentiles(ps)
    assert LatencyHistogram.decode(raw.to_base64()).percentiles(ps) == h.percentiles(ps)


def test_decode_rejects_another_layout_with_a_clear_message():
    foreign = HdrHistogram(1, 60_000_000, 2)
    foreign.record_value(100)
    with pytest.raises(HistogramFormatError, match=r"\(1, 60000000, 2\).*1 µs\.\.1 h, 3 digits"):
        LatencyHistogram.decode(foreign.encode())


@pytest.mark.parametrize("junk", [b"HISTFAAAnotbase64!!", b"\x78\x9c garbage", "HISTFAAAAAAA"])
def test_decode_rejects_corrupt_bytes(junk):
    with pytest.raises(HistogramFormatError):
        LatencyHistogram.decode(junk)


def test_add_merges_counts_exactly():
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for v in range(100, 200):
        a.record(v)
        both.record(v)
    for v in range(5000, 5100):
        b.record(v)
        both.record(v)
    a.add(b)
    ps = [10, 50, 75, 99, 100]
    assert a.total == 200 and a.percentiles(ps) == both.percentiles(ps)
    a.reset()
    assert a.total == 0 and a.percentiles([50]) == {50: 0}
