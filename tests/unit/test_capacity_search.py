"""The capacity search against fake step functions with known capacity curves."""
from __future__ import annotations

import random

import pytest

from pegload.capacity.search import (
    CLIENT,
    ERRORS,
    INVALID,
    MAX_RATE,
    PASS,
    SLO,
    SearchParams,
    StepVerdict,
    planned_bisections,
    search,
)


def monotone(capacity: float, verdict: str = SLO):
    def step(rate, planned):
        return StepVerdict(PASS if rate <= capacity else verdict, detail=rate)
    return step


@pytest.mark.parametrize("capacity", [150.0, 1000.0, 2999.0, 3000.0, 7777.0])
@pytest.mark.parametrize("precision", [0.05, 0.10, 0.01])
def test_monotone_curve_found_within_precision(capacity, precision):
    res = search(SearchParams(start_rate=500, max_rate=100_000, precision=precision), monotone(capacity))
    assert res.limited_by == SLO and res.judged
    # the answer was measured to pass, and a rate at most `precision` above it was measured to fail
    assert res.max_rate <= capacity
    assert res.lowest_fail > capacity
    assert (res.lowest_fail - res.max_rate) / res.lowest_fail <= precision
    assert res.max_rate >= capacity * (1 - precision)
    passed = {s.rate for s in res.steps if s.verdict == PASS}
    assert res.max_rate in passed


def test_growth_is_geometric_then_bisects():
    res = search(SearchParams(start_rate=1000, max_rate=100_000, precision=0.10), monotone(3000))
    rates = [s.rate for s in res.steps]
    assert rates[:3] == [1000, 2000, 4000]
    assert [s.stage for s in res.steps[:3]] == ["grow"] * 3
    assert rates[3] == 3000 and res.steps[3].bracket == (2000, 4000)
    assert all(s.stage == "bisect" for s in res.steps[3:])
    assert res.max_rate == 3000 and res.lowest_fail == 3250


def test_max_rate_reached():
    res = search(SearchParams(start_rate=1000, max_rate=5000), monotone(1e9))
    assert res.limited_by == MAX_RATE and res.max_rate == 5000
    assert [s.rate for s in res.steps] == [1000, 2000, 4000, 5000]


def test_first_step_fails_then_shrinks():
    res = search(SearchParams(start_rate=1000, max_rate=10_000, precision=0.05), monotone(300))
    assert res.steps[1].stage == "shrink"
    assert 300 * 0.95 <= res.max_rate <= 300
    assert res.limited_by == SLO


def test_nothing_passes_down_to_the_floor():
    res = search(SearchParams(start_rate=1000, max_rate=10_000, min_rate=100), monotone(10))
    assert res.max_rate is None and res.limited_by == SLO
    assert min(s.rate for s in res.steps) >= 100


def test_errors_breach_names_errors():
    res = search(SearchParams(start_rate=1000, max_rate=100_000), monotone(2500, verdict=ERRORS))
    assert res.limited_by == ERRORS and res.judged


def test_a_confirmed_client_limit_stops_the_search_keeping_the_last_pass():
    def step(rate, planned):
        return StepVerdict(PASS if rate < 3000 else CLIENT)
    res = search(SearchParams(start_rate=1000, max_rate=100_000), step)
    assert res.limited_by == CLIENT and not res.judged
    assert res.max_rate == 2000 and [s.stage for s in res.steps] == ["grow", "grow", "grow", "confirm"]


def test_a_single_client_stall_is_confirmed_and_the_search_goes_on():
    calls = []

    def step(rate, planned):
        calls.append(planned.stage)
        if len(calls) == 1:
            return StepVerdict(CLIENT)  # a one-off stall of the load host on the very first step
        return StepVerdict(PASS if rate < 2500 else SLO)
    res = search(SearchParams(start_rate=1000, max_rate=100_000, precision=0.05), step)
    assert calls[:2] == ["grow", "confirm"] and res.limited_by == SLO and res.judged
    assert 2375 <= res.max_rate < 2500


def test_invalid_step_stops_the_search():
    calls = []

    def step(rate, planned):
        calls.append(rate)
        return StepVerdict(INVALID if len(calls) == 2 else PASS)
    res = search(SearchParams(start_rate=1000, max_rate=100_000), step)
    assert res.limited_by == INVALID and not res.judged and len(calls) == 2


def test_repeats_a_rate_must_pass_every_time():
    # passes at 2000 only every other time: with repeat=2 it never counts as passed
    seen: dict[float, int] = {}

    def step(rate, planned):
        seen[rate] = seen.get(rate, 0) + 1
        if rate <= 1000:
            return StepVerdict(PASS)
        if rate <= 2000:
            return StepVerdict(PASS if seen[rate] % 2 == 1 else SLO)
        return StepVerdict(SLO)
    res = search(SearchParams(start_rate=1000, max_rate=100_000, precision=0.05, repeat=2), step)
    assert 1000 <= res.max_rate < 2000
    for s in res.steps:
        if s.rate == res.max_rate:
            assert s.verdict == PASS
    # every pass of the answer was repeated twice
    assert sum(1 for s in res.steps if s.rate == res.max_rate and s.verdict == PASS) == 2
    # a failing first repeat skips the second
    first_fail = next(s for s in res.steps if s.verdict == SLO)
    assert first_fail.repeat in (1, 2)
    assert not any(s.rate == first_fail.rate and s.repeat > first_fail.repeat for s in res.steps)


@pytest.mark.parametrize("seed", range(20))
def test_noisy_curve_never_overstates(seed):
    """A noisy target (each step's capacity drawn around 3000 +- 5%): the answer is always a rate
    that passed `repeat` times, and repeats make an overstated answer rarer, never invent one."""
    rng = random.Random(seed)

    def step(rate, planned):
        return StepVerdict(PASS if rate <= 3000 * rng.uniform(0.95, 1.05) else SLO)
    res = search(SearchParams(start_rate=1000, max_rate=100_000, precision=0.05, repeat=3), step)
    assert res.max_rate is not None
    assert res.max_rate <= 3000 * 1.05
    assert res.max_rate >= 1000  # 1000 and 2000 always pass
    assert sum(1 for s in res.steps if s.rate == res.max_rate and s.verdict == PASS) == 3
    assert (res.lowest_fail - res.max_rate) / res.lowest_fail <= 0.05


def test_planned_bisections_matches_the_search():
    res = search(SearchParams(start_rate=1000, max_rate=100_000, precision=0.05), monotone(2001))
    bisects = sum(1 for s in res.steps if s.stage == "bisect")
    assert bisects <= planned_bisections(2000, 4000, 0.05)


@pytest.mark.parametrize("bad", [dict(start_rate=0, max_rate=10), dict(start_rate=10, max_rate=5),
                                 dict(start_rate=10, max_rate=50, precision=0),
                                 dict(start_rate=10, max_rate=50, precision=1.5),
                                 dict(start_rate=10, max_rate=50, repeat=0)])
def test_bad_parameters_are_named(bad):
    with pytest.raises(ValueError):
        SearchParams(**bad)


def test_unknown_verdict_refused():
    with pytest.raises(ValueError, match="unknown step verdict"):
        StepVerdict("maybe")
