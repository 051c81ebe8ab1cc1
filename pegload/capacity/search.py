"""The capacity search, pure: given ``step(rate) -> StepVerdict``, find the highest rate that
passes.

Algorithm (docs/capacity.md, "Guarantees"):

1. Grow: start at ``start_rate`` and multiply by ``growth`` while the step passes, capped at
   ``max_rate``. A pass at ``max_rate`` ends the search (``limited_by: max_rate``). If the very
   first rate fails, shrink by the same factor until a rate passes or the next would be below
   ``min_rate`` (then no rate passed: capacity 0).
2. Bisect between ``lo`` (the highest rate that passed) and ``hi`` (the lowest rate that failed)
   at their midpoint until ``(hi - lo) / hi <= precision``: the reported capacity ``lo`` is then at
   most ``precision`` below a rate that was seen to fail.

A rate passes only if ``repeat`` consecutive steps at it pass; one failing repeat fails it (the
remaining repeats are not run). Noise can therefore only make the answer lower (a spurious fail
moves ``hi`` down), never report a rate that was not measured to pass ``repeat`` times.

A step the client could not drive (verdict ``client``) is run once more at the same rate (stage
``confirm``): a single stall of the load host (a GC pause, a busy neighbour) is not the client's
limit. If the confirmation is also ``client``, or a step could not be judged (``invalid``,
``interrupted``), the search stops at once: the answer is then ``lo`` so far, with that reason;
otherwise the confirmation's verdict stands for the rate.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
SLO = "slo"  # a latency (or throughput) term of the SLO was breached
ERRORS = "errors"  # an errors term of the SLO was breached
CLIENT = "client"  # the client, not the target, was the limit (validity limited_by: client)
INVALID = "invalid"  # the step's figures cannot be trusted for another reason (worker/target lost)
INTERRUPTED = "interrupted"
VERDICTS = (PASS, SLO, ERRORS, CLIENT, INVALID, INTERRUPTED)
FAILS = (SLO, ERRORS)  # the step ran fine and the target did not meet the SLO
STOPS = (CLIENT, INVALID, INTERRUPTED)  # the search cannot go on

MAX_RATE = "max_rate"
# limited_by values whose capacity says something about the target
JUDGED = (SLO, ERRORS, MAX_RATE)


@dataclass(frozen=True)
class StepVerdict:
    verdict: str  # one of VERDICTS
    detail: Any = None  # whatever the step function wants kept with the step (its record)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown step verdict {self.verdict!r} (known: {', '.join(VERDICTS)})")


@dataclass(frozen=True)
class SearchStep:
    index: int  # 0, 1, ... in the order run
    rate: float
    repeat: int  # 1..repeat at this rate
    stage: str  # "grow", "shrink" or "bisect"
    bracket: tuple[float | None, float | None]  # (lo, hi) before this step
    verdict: str
    detail: Any = None


@dataclass
class SearchResult:
    max_rate: float | None  # highest rate that passed `repeat` times; None if none did
    limited_by: str  # slo | errors | max_rate | client | invalid | interrupted
    lowest_fail: float | None  # the lowest rate seen to fail (SLO or errors)
    steps: list[SearchStep] = field(default_factory=list)

    @property
    def judged(self) -> bool:
        """True when the answer describes the target: the search ended on its SLO, its errors or
        the rate ceiling, not on the client or a broken step."""
        return self.limited_by in JUDGED


@dataclass(frozen=True)
class SearchParams:
    start_rate: float
    max_rate: float
    precision: float = 0.05
    repeat: int = 1
    growth: float = 2.0
    min_rate: float | None = None  # shrinking stops below this (default start_rate / growth**4)

    def __post_init__(self) -> None:
        if not self.start_rate > 0:
            raise ValueError(f"start rate must be > 0, got {self.start_rate:g}")
        if self.max_rate < self.start_rate:
            raise ValueError(f"max rate {self.max_rate:g} is below the start rate {self.start_rate:g}")
        if not 0 < self.precision < 1:
            raise ValueError(f"precision must be between 0 and 1 (e.g. 0.05 for 5%), got {self.precision:g}")
        if self.repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {self.repeat}")
        if not self.growth > 1:
            raise ValueError(f"growth must be > 1, got {self.growth:g}")

    @property
    def floor(self) -> float:
        return self.min_rate if self.min_rate is not None else self.start_rate / self.growth ** 4


StepFn = Callable[[float, "SearchStep"], StepVerdict]


class _Stop(Exception):
    def __init__(self, verdict: str) -> None:
        self.verdict = verdict


def _converged(lo: float | None, hi: float | None, precision: float) -> bool:
    return lo is not None and hi is not None and (hi - lo) / hi <= precision


def search(params: SearchParams, step: StepFn) -> SearchResult:
    """Run the search; ``step(rate, planned)`` runs one step and returns its verdict (``planned``
    is the :class:`SearchStep` about to run, with ``verdict`` empty: for progress displays)."""
    steps: list[SearchStep] = []
    lo: float | None = None
    hi: float | None = None

    def measure(rate: float, stage: str) -> bool:
        """Run the repeats at ``rate``; True if all passed. Raises _Stop."""
        for k in range(1, params.repeat + 1):
            planned = SearchStep(len(steps), rate, k, stage, (lo, hi), "")
            v = step(rate, planned)
            steps.append(SearchStep(planned.index, rate, k, stage, (lo, hi), v.verdict, v.detail))
            if v.verdict == CLIENT:  # one stall of the load host must not end the search: confirm it
                planned = SearchStep(len(steps), rate, k, "confirm", (lo, hi), "")
                v = step(rate, planned)
                steps.append(SearchStep(planned.index, rate, k, "confirm", (lo, hi), v.verdict, v.detail))
            if v.verdict in STOPS:
                raise _Stop(v.verdict)
            if v.verdict != PASS:
                return False
        return True

    def fail_reason() -> str:
        """What the lowest failing rate broke (errors wins over latency when both were breached
        on that rate: a rate that fails requests is not served)."""
        at = [s.verdict for s in steps if s.rate == hi and s.verdict in FAILS]
        return ERRORS if ERRORS in at else SLO

    try:
        rate = params.start_rate
        if measure(rate, "grow"):
            lo = rate
            while True:
                if rate >= params.max_rate:
                    return SearchResult(lo, MAX_RATE, hi, steps)
                rate = min(rate * params.growth, params.max_rate)
                if not measure(rate, "grow"):
                    hi = rate
                    break
                lo = rate
        else:
            hi = rate
            while lo is None:
                rate = rate / params.growth
                if rate < params.floor:
                    return SearchResult(None, fail_reason(), hi, steps)
                if measure(rate, "shrink"):
                    lo = rate
                else:
                    hi = rate
        while not _converged(lo, hi, params.precision):
            assert lo is not None and hi is not None
            mid = (lo + hi) / 2.0
            if measure(mid, "bisect"):
                lo = mid
            else:
                hi = mid
        return SearchResult(lo, fail_reason(), hi, steps)
    except _Stop as stop:
        return SearchResult(lo, stop.verdict, hi, steps)


def planned_bisections(lo: float, hi: float, precision: float) -> int:
    """How many bisection steps (one repeat each) the bracket [lo, hi) needs in the worst case:
    for the docs and the progress estimate."""
    n = 0
    while (hi - lo) / hi > precision:
        hi = (lo + hi) / 2.0  # the worst case for the count: every midpoint fails
        n += 1
    return n
