"""``.hgrm``: HdrHistogram's percentile distribution text, as ``outputPercentileDistribution``
prints it (what wrk2 and jHiccup emit and HdrHistogram's online plotter reads).

Values are printed in milliseconds (``VALUE_UNIT_RATIO`` = 1000 µs) with 3 decimals, so no
microsecond is lost and the plotter's axis reads in the unit people expect.
"""
from __future__ import annotations

from pegload.metrics import SIGNIFICANT_DIGITS, LatencyHistogram
from pegload.report.spectrum import spectrum

VALUE_UNIT_RATIO = 1000.0


def percentile_distribution(hist: LatencyHistogram, ticks_per_half_distance: int = 5,
                            ratio: float = VALUE_UNIT_RATIO) -> str:
    d = SIGNIFICANT_DIGITS
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    for point in spectrum(hist, ticks_per_half_distance):
        q = point.percentile / 100.0
        if point.percentile != 100.0:
            lines.append(f"{point.value / ratio:12.{d}f} {q:2.12f} {point.total_count:10d} "
                         f"{1.0 / (1.0 - q):14.2f}")
        else:
            lines.append(f"{point.value / ratio:12.{d}f} {q:2.12f} {point.total_count:10d}")
    max_value = hist.max()
    lines.append(f"#[Mean    = {hist.mean() / ratio:12.{d}f}, StdDeviation   = {hist.stddev() / ratio:12.{d}f}]")
    lines.append(f"#[Max     = {max_value / ratio:12.{d}f}, Total count    = {hist.total:12d}]")
    lines.append(f"#[Buckets = {hist.hdr.bucket_count:12d}, SubBuckets     = {hist.hdr.sub_bucket_count:12d}]")
    return "\n".join(lines) + "\n"
