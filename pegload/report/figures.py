"""Named figures of a summary op entry (``p99``, ``throughput``, ``error_rate`` ...), their
direction (is lower better?) and how to print them. Shared by the terminal table, compare,
check and the SLO evaluator so that a metric means the same thing everywhere.
"""
from __future__ import annotations

from typing import Any

from pegload.metrics import KINDS
from pegload.metrics.levels import LATENCY_STATS
from pegload.report.percent import format_percent

# figure -> True when a smaller value is better. Names follow pegload.scenario.thresholds.
COUNTERS = {
    "throughput": False,  # ops/s
    "count": False,
    "errors": True,  # error count
    "error_rate": True,  # errors / ops
    "verify_errors": True,  # verification error count
    "verify_error_rate": True,
    "misses": True,
    "miss_rate": True,
}
ALL_FIGURES = (*LATENCY_STATS, *COUNTERS)


class UnknownFigure(ValueError):
    pass


def check_figure(metric: str, kind: str = "response") -> None:
    if metric not in ALL_FIGURES:
        raise UnknownFigure(f"unknown metric {metric!r} (known: {', '.join(ALL_FIGURES)})")
    if kind not in KINDS:
        raise UnknownFigure(f"unknown latency kind {kind!r} (known: {', '.join(KINDS)})")


def lower_is_better(metric: str) -> bool:
    return metric in LATENCY_STATS or COUNTERS.get(metric, True)


def figure(entry: dict[str, Any] | None, metric: str, kind: str = "response") -> float | None:
    """The value of ``metric`` in a summary op entry (latencies in µs); ``None`` if absent."""
    check_figure(metric, kind)
    if not entry:
        return None
    if metric in LATENCY_STATS:
        if not entry.get("count"):
            return None
        return entry.get("latency_us", {}).get(kind, {}).get(metric)
    count = entry.get("count") or 0
    if metric == "errors":
        return entry.get("error_count")
    if metric == "verify_errors":
        return entry.get("verification_errors")
    if metric == "verify_error_rate":
        return entry.get("verification_errors", 0) / count if count else 0.0
    if metric == "miss_rate":
        return entry.get("misses", 0) / count if count else 0.0
    return entry.get(metric)


def format_us(us: float | None, sep: str = " ") -> str:
    """A latency in µs with a readable unit: ``412 µs``, ``1.9 ms``, ``2.3 s`` (``sep=""`` for
    the compact form of the progress line)."""
    if us is None:
        return "-"
    if us < 1000:
        return f"{us:.0f}{sep}µs"
    if us < 1_000_000:
        return f"{us / 1000:.3g}{sep}ms" if us < 100_000 else f"{us / 1000:.0f}{sep}ms"
    return f"{us / 1_000_000:.3g}{sep}s"


def format_rate(ops_per_s: float | None) -> str:
    """Ops/s without the unit: whole numbers from 100 up, one decimal below."""
    if ops_per_s is None:
        return "-"
    return f"{ops_per_s:,.0f}" if ops_per_s >= 100 else f"{ops_per_s:,.1f}"


def format_figure(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric in LATENCY_STATS:
        return format_us(value)
    if metric == "throughput":
        return f"{format_rate(value)} ops/s"
    if metric.endswith("_rate"):
        return format_percent(value)
    if metric.startswith("recovery_"):  # seconds (pegload.scenario.thresholds)
        return format_us(value * 1_000_000)
    return f"{value:,.0f}"
