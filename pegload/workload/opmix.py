"""Weighted choice over a phase's operations (one uniform draw, one bisect)."""
from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class OpMix:
    """Weights of a phase's mix entries: ``caller`` picks entry i with probability
    weight_i / sum(weights)."""

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

    def caller(self, random: Callable[[], float], makers: Sequence[Callable[[], T]]) -> Callable[[], T]:
        """For the hot loop: a closure that draws u uniform in [0, 1) once, calls the first maker
        whose cumulative weight exceeds u x total and returns what it returns. It draws even for
        a single maker, so the rest of the random stream does not depend on how many ops the mix
        has."""
        if len(makers) != self._last + 1:
            raise ValueError(f"{len(makers)} makers for {self._last + 1} weights")
        if len(makers) == 1:
            (only,) = makers

            def call_only() -> T:
                random()
                return only()

            return call_only
        cumulative, total, bisect_right = self._cumulative, self._total, bisect.bisect_right
        # u * total may round up to total: bisect then returns len(makers), which is the last one too
        padded = (*makers, makers[-1])

        def call_weighted() -> T:
            return padded[bisect_right(cumulative, random() * total)]()

        return call_weighted
