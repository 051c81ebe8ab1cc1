"""Live progress of a capacity search: the ordinary progress line of the running step, prefixed
with the step, its rate and the search's bracket, and followed by each SLO term's live figure
against its limit, e.g.::

    step 5 bisect [2,000..4,000) 3,000/s | run 3s/5s 2,991 ops/s | get 2,991/s ... | get.p99 4.2ms/15ms ok
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from pegload.capacity.slo import live_value
from pegload.coordinator.progress import Progress
from pegload.metrics import RunAccumulator
from pegload.report import progress_line
from pegload.report.figures import format_figure, format_rate
from pegload.scenario.thresholds import Threshold


def bracket_text(lo: float | None, hi: float | None) -> str:
    """The search's bracket: highest rate passed so far .. lowest failed (``?``: none yet)."""
    if lo is None and hi is None:
        return "[none yet]"
    return f"[{format_rate(lo) if lo is not None else '?'}..{format_rate(hi) if hi is not None else '?'})"


class CapacityProgress(Progress):
    def __init__(self, stream: TextIO | None = None, quiet: bool = False, terms: Sequence[Threshold] = ()) -> None:
        super().__init__(stream, quiet)
        self.terms = list(terms)
        self.context = ""

    def slo_text(self, acc: RunAccumulator) -> str:
        latest = acc.latest()
        parts = []
        for t in self.terms:
            v = live_value(latest, t)
            shown = format_figure(t.metric, v)
            state = "" if v is None else (" ok" if t.holds(v) else " OVER")
            parts.append(f"{t.text.split(' ')[0]} {shown}/{format_figure(t.metric, t.value)}{state}")
        return " | ".join(parts)

    def measured_line(self, acc: RunAccumulator, elapsed_s: float, total_s: float | None, phase: str) -> str:
        return progress_line(acc, elapsed_s, total_s, phase, max_ops=2) + " | " + self.slo_text(acc)

    def decorate(self, line: str) -> str:
        return f"{self.context} | {line}" if self.context else line
