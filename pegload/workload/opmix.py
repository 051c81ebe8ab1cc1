"""Weighted choice over a phase's operations (one uniform draw, one bisect)."""
from __future__ import annotations

import bisect
from typing import Sequence


class OpMix:
    """``pick(u)`` with u uniform in [0, 1) returns the index of an entry with probability
    weight / sum(weights)."""

    __slots__ = ("_cumulative", "_total", "_last")

    def __init__(self, weights: Sequence[float]):
        if not weights or any(w <= 0 for w in weights):
            raise ValueError(f"weights must be a non-empty list of positive numbers, got {list(weights)}")
        total, cumulative = 0.0, []
        for w in weights:
            total += w
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total
        self._last = len(weights) - 1

    def pick(self, u: float) -> int:
        i = bisect.bisect_right(self._cumulative, u * self._total)
        return i if i <= self._last else self._last
