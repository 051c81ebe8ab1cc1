"""Key choosers: determinism with fixed seeds and the shape of each distribution."""
import collections
import math
import random

import pytest

from pegload.workload.choosers import (
    HotspotChooser,
    LatestChooser,
    SequentialChooser,
    UniformChooser,
    ZipfianChooser,
    scramble_params,
)
from pegload.workload.rng import derive_seed, make_rng

N_SAMPLES = 200_000


def zeta(n, theta):
    return math.fsum(i ** -theta for i in range(1, n + 1))


def draws(chooser, k=N_SAMPLES):
    nxt = chooser.next
    return [nxt() for _ in range(k)]


def test_rng_streams_are_stable_and_distinct():
    assert derive_seed(1, "phase", 0, 1, 2) == derive_seed(1, "phase", 0, 1, 2)
    assert derive_seed(1, "phase", 0, 1, 2) != derive_seed(1, "phase", 0, 2, 1)
    assert derive_seed(1, "a") != derive_seed(2, "a")
    assert [make_rng(5, "x").random() for _ in range(3)] == [make_rng(5, "x").random() for _ in range(3)]
    # pinned: the derivation must not change between releases, or old runs stop replaying
    assert derive_seed(42, "phase", 0, 0, 0) == 0x73FEABF11509F4FB
    assert 0 <= derive_seed(42, "x") < 2**64


@pytest.mark.parametrize("make", [
    lambda r: UniformChooser(1000, r.random),
    lambda r: ZipfianChooser(1000, 0.99, r.random, seed=3),
    lambda r: HotspotChooser(1000, 0.2, 0.8, r.random),
])
def test_choosers_are_deterministic_for_a_seed_and_stay_in_range(make):
    a = draws(make(random.Random(7)), 5000)
    b = draws(make(random.Random(7)), 5000)
    c = draws(make(random.Random(8)), 5000)
    assert a == b and a != c
    assert min(a) >= 0 and max(a) < 1000


def test_zipfian_frequencies_follow_the_ranks():
    n, theta = 1000, 0.99
    chooser = ZipfianChooser(n, theta, random.Random(11).random, seed=5)
    counts = collections.Counter(draws(chooser))
    z = zeta(n, theta)
    # every rank has its exact probability (chi-square over the 30 hottest ranks + the rest)
    chi2, rest_expected, rest_observed = 0.0, 0.0, 0
    for rank in range(n):
        expected = N_SAMPLES / (rank + 1) ** theta / z
        observed = counts[chooser.rank_to_index(rank)]
        if rank < 30:
            chi2 += (observed - expected) ** 2 / expected
        else:
            rest_expected += expected
            rest_observed += observed
    chi2 += (rest_observed - rest_expected) ** 2 / rest_expected
    assert chi2 < 67.0  # 30 degrees of freedom: p < 0.0002 of a false failure
    # skew: the hottest 10% of the keys get the share the zipfian law gives them (~68% here)
    top = sorted(counts.values(), reverse=True)[: n // 10]
    expected_share = math.fsum(i ** -theta for i in range(1, n // 10 + 1)) / z
    assert sum(top) / N_SAMPLES == pytest.approx(expected_share, abs=0.01)
    assert expected_share > 0.6


def test_zipfian_lower_theta_is_less_skewed():
    def top_share(theta):
        counts = collections.Counter(draws(ZipfianChooser(1000, theta, random.Random(1).random), 50_000))
        return sum(sorted(counts.values(), reverse=True)[:10]) / 50_000

    assert top_share(0.99) > top_share(0.5) + 0.1


def test_zipfian_scramble_is_a_bijection_that_spreads_hot_keys():
    for n in (1, 2, 3, 10, 997, 1000, 4096):
        a, b = scramble_params(n, seed=9)
        assert math.gcd(a, n) == 1
        assert sorted((a * r + b) % n for r in range(n)) == list(range(n))
    chooser = ZipfianChooser(10_000, 0.99, random.Random(1).random, seed=9)
    hot = [chooser.rank_to_index(r) for r in range(10)]
    assert hot != list(range(10))
    # spread over the key space, not clustered: the ten hottest land in at least 5 different tenths
    assert len({h * 10 // 10_000 for h in hot}) >= 5


def test_zipfian_hot_keys_are_shared_by_every_stream_of_a_scenario():
    one = ZipfianChooser(5000, 0.99, random.Random(1).random, seed=4)
    two = ZipfianChooser(5000, 0.99, random.Random(2).random, seed=4)
    assert [one.rank_to_index(r) for r in range(20)] == [two.rank_to_index(r) for r in range(20)]
    top_one = {k for k, _ in collections.Counter(draws(one, 50_000)).most_common(3)}
    top_two = {k for k, _ in collections.Counter(draws(two, 50_000)).most_common(3)}
    assert top_one == top_two


def test_hotspot_fractions():
    n = 1000
    chooser = HotspotChooser(n, hot_fraction=0.2, hot_ops=0.8, random=random.Random(3).random)
    picks = draws(chooser)
    hot = sum(1 for p in picks if p < 200)
    assert hot / N_SAMPLES == pytest.approx(0.8, abs=0.005)
    counts = collections.Counter(picks)
    # uniform inside each set: every hot key ~ 0.8/200 of the picks, every cold key ~ 0.2/800
    assert all(abs(counts[k] - N_SAMPLES * 0.8 / 200) < 150 for k in range(200))
    assert all(abs(counts[k] - N_SAMPLES * 0.2 / 800) < 60 for k in range(200, 1000))
    assert set(counts) == set(range(n))


def test_hotspot_edges():
    assert set(draws(HotspotChooser(100, 0.1, 1.0, random.Random(1).random), 5000)) <= set(range(10))
    assert set(draws(HotspotChooser(100, 0.1, 0.0, random.Random(1).random), 5000)) <= set(range(10, 100))
    assert set(draws(HotspotChooser(1, 0.5, 0.5, random.Random(1).random), 100)) == {0}


def test_sequential_slices_cover_the_space_once_and_wrap():
    n, slots = 103, 4
    walked = []
    for slot in range(slots):
        chooser = SequentialChooser(n, slot, slots)
        walked.append([chooser.next() for _ in range(chooser.stop - chooser.start)])
        assert walked[-1] == list(range(chooser.start, chooser.stop))
        assert chooser.next() == chooser.start  # wraps
    assert sorted(sum(walked, [])) == list(range(n))
    # more walkers than keys: each still walks the whole space, from a different offset
    chooser = SequentialChooser(3, 1, 8)  # slot 1 of 8 over 3 keys has an empty slice
    assert [chooser.next() for _ in range(4)] == [1, 2, 0, 1]


def test_uniform_covers_evenly():
    counts = collections.Counter(draws(UniformChooser(100, random.Random(5).random)))
    assert set(counts) == set(range(100))
    assert max(counts.values()) < 1.15 * N_SAMPLES / 100 and min(counts.values()) > 0.85 * N_SAMPLES / 100


def test_latest_prefers_the_newest_and_follows_growth():
    total = [100]
    chooser = LatestChooser(0.99, random.Random(2).random, lambda: total[0])
    ranks = draws(chooser, 50_000)
    assert max(ranks) < 100
    counts = collections.Counter(ranks)
    assert counts[0] > counts[1] > counts[5] > counts[50]
    assert counts[0] / 50_000 == pytest.approx(1 / zeta(100, 0.99), abs=0.01)
    assert counts[5] / 50_000 == pytest.approx(6 ** -0.99 / zeta(100, 0.99), abs=0.005)
    total[0] = 5000  # inserts acknowledged: the range grows, the newest stays rank 0
    ranks = draws(chooser, 50_000)
    assert max(ranks) >= 100 and max(ranks) < 5000
    assert collections.Counter(ranks)[0] / 50_000 == pytest.approx(1 / zeta(5000, 0.99), abs=0.01)


@pytest.mark.parametrize("theta", [0.5, 1.0, 2.0])
def test_zipfian_other_thetas_are_exact(theta):
    n = 50
    chooser = ZipfianChooser(n, theta, random.Random(4).random, scramble=False)
    counts = collections.Counter(draws(chooser, 100_000))
    z = zeta(n, theta)
    chi2 = sum((counts[r] - 100_000 * (r + 1) ** -theta / z) ** 2 / (100_000 * (r + 1) ** -theta / z) for r in range(n))
    assert chi2 < 100.0  # 49 degrees of freedom
