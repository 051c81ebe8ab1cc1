"""The percentile spectrum of a histogram, with HdrHistogram's standard iteration.

Steps start at 0% and shrink by half every time the distance to 100% halves
(``ticks_per_half_distance`` steps per halving), as Java's ``PercentileIterator`` does; the
hdrh Python package drops the integer truncation of the halving count and so prints other
percentile levels, which is why this is not taken from it. Used by the ``.hgrm`` writer and the
HTML spectrum charts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pegload.metrics import LatencyHistogram, highest_equivalent

_LOG2 = math.log(2)


@dataclass(frozen=True)
class SpectrumPoint:
    value: int  # µs, highest value equivalent to the slot reached
    percentile: float  # 0..100, the level iterated to
    total_count: int  # samples at or below ``value``


def _next_level(level: float, ticks_per_half_distance: int) -> float:
    halvings = int(math.log(100.0 / (100.0 - level)) / _LOG2) + 1
    return level + 100.0 / (ticks_per_half_distance * 2 ** halvings)


def spectrum(hist: LatencyHistogram, ticks_per_half_distance: int = 5) -> list[SpectrumPoint]:
    total = hist.total
    if not total:
        return []
    lo, counts = hist.nonzero()
    out: list[SpectrumPoint] = []
    level, running = 0.0, 0
    for offset, count in enumerate(counts):
        if not count:
            continue
        running += count
        value = highest_equivalent(lo + offset)
        if running >= total:
            # the last slot reports once at the current level, then the closing 100% line
            out.append(SpectrumPoint(value, level, running))
            out.append(SpectrumPoint(value, 100.0, running))
            break
        while 100.0 * running / total >= level:
            out.append(SpectrumPoint(value, level, running))
            level = _next_level(level, ticks_per_half_distance)
    return out
