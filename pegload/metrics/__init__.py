"""Latency histograms and counters: the worker's recorder, its interval snapshots, and the
coordinator's accumulator that merges them.

Conventions (one place, used everywhere):

* Values are integer **microseconds** in one fixed HdrHistogram layout: 1 µs .. 1 hour, 3
  significant digits. 3 digits keep 1 µs resolution up to 2 ms and 0.1% relative error above,
  finer than any network or scheduler effect we can measure. 1 hour covers a schedule that fell
  minutes behind in an overloaded open-loop run; the larger range costs nothing on the wire
  (encoding stops at the highest recorded value) and ~35% more memory than 60 s.
* Out-of-range samples are **clamped** (negative -> 0, above 1 h -> 1 h) and counted per op and
  kind as ``below``/``above``; never dropped silently (``HdrHistogram.record_value`` would).
* Three kinds per op (:data:`KINDS`): ``response`` (from the intended start: coordinated-omission
  corrected in open loop), ``service`` (send to reply) and ``lateness`` (pacing lateness).
* Histograms are merged by adding counts; percentiles are never averaged.

Hot path: :meth:`OpRecorder.record` computes the counts index itself and counts the usual values
(below 131 ms) in plain lists, copied into the HdrHistograms once per interval (~0.2 µs per op
for all three values, where ``record_value`` takes ~1-2 µs per value); the closed loop's
:meth:`OpRecorder.record_closed` counts response = service once and the zero lateness in bulk
(~0.13 µs). The encoded form is the standard V2 one, so any HdrHistogram implementation can read
what we write.

Modules: ``levels`` (the percentile levels and their names, import-free), ``histogram`` (layout,
LatencyHistogram, the percentile rank rule), ``recorder`` (worker side), ``accumulator``
(coordinator side). Import from ``pegload.metrics``; names are loaded on first use, so
``pegload.metrics.levels`` alone (the scenario loader needs it) does not load histograms.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from pegload.metrics.accumulator import (
        STAT_PERCENTILES,
        IntervalOpStats,
        IntervalStats,
        KindStats,
        OpTotals,
        RunAccumulator,
        kind_stats,
    )
    from pegload.metrics.histogram import (
        COUNTS_LEN,
        HIGHEST_US,
        KINDS,
        LOWEST_US,
        MISS,
        OK,
        SIGNIFICANT_DIGITS,
        HistogramFormatError,
        LatencyHistogram,
        clamp_us,
        counts_index,
        highest_equivalent,
        lowest_equivalent,
        median_equivalent,
        percentile_rank,
        slot_width,
    )
    from pegload.metrics.levels import LATENCY_STATS, LEVELS, PERCENTILES
    from pegload.metrics.recorder import IntervalRecorder, IntervalSnapshot, OpInterval, OpRecorder

_HOME = {
    **dict.fromkeys(("STAT_PERCENTILES", "IntervalOpStats", "IntervalStats", "KindStats", "OpTotals",
                     "RunAccumulator", "kind_stats"), "accumulator"),
    **dict.fromkeys(("COUNTS_LEN", "HIGHEST_US", "KINDS", "LOWEST_US", "MISS", "OK", "SIGNIFICANT_DIGITS",
                     "HistogramFormatError", "LatencyHistogram", "clamp_us", "counts_index",
                     "highest_equivalent", "lowest_equivalent", "median_equivalent", "percentile_rank",
                     "slot_width"), "histogram"),
    **dict.fromkeys(("IntervalRecorder", "IntervalSnapshot", "OpInterval", "OpRecorder"), "recorder"),
    **dict.fromkeys(("PERCENTILES", "LATENCY_STATS", "LEVELS"), "levels"),
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'pegload.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pegload.metrics.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
