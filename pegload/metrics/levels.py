"""The percentile levels pegload reports, and their names: one definition, imported by the
accumulator, summary.json, the report pages, the terminal table, compare, the gate and the
threshold grammar. No imports, so the scenario loader can use it without loading histograms.

``p999`` is the stored name of the 99.9th percentile; ``p99.9`` is accepted where people write it.
"""
from __future__ import annotations

# name -> percentile level (0..100), in the order they are reported
PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
MAX = "max"  # the highest recorded value (the 100th percentile)
MEAN = "mean"
# every latency statistic of a summary op entry, in table order
LATENCY_STATS: tuple[str, ...] = (*PERCENTILES, MAX, MEAN)
# the statistics that are a level of the distribution (what the accumulator computes per interval)
LEVELS: dict[str, float] = {**PERCENTILES, MAX: 100.0}
ALIASES: dict[str, str] = {"p99.9": "p999"}  # written form -> stored name


def label(name: str) -> str:
    """How a statistic is shown to people: ``p999`` -> ``p99.9``."""
    for written, stored in ALIASES.items():
        if name == stored:
            return written
    return name
