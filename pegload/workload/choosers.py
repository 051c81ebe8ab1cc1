"""Key choosers: each ``next()`` returns an index in [0, n) of the key space it was built for.

They run in the hot loop (one call per op): a few hundred nanoseconds each, no allocation
beyond the returned int.

- ``UniformChooser``: every index equally likely.
- ``ZipfianChooser``: rank r has probability proportional to 1/(r+1)^theta. YCSB samples this
  with the inversion method of Gray et al., "Quickly Generating Billion-Record Synthetic
  Databases" (SIGMOD 1994), which is exact for the two hottest ranks only (rank 2 comes out
  ~16% too often at theta 0.99) and needs the normaliser zeta(n), an O(n) sum. pegload uses
  rejection-inversion (Hörmann & Derflinger, "Rejection-inversion to generate variates from
  monotone discrete distributions", ACM TOMACS 1996): exact for every rank, O(1) set-up, and
  the space can grow without recomputation. The rank is then *scrambled* so the hot keys are
  spread over the key space (and so over hash keys and partitions) instead of being the first
  indices. YCSB scrambles with FNV-hash modulo n, which is not a bijection (some keys are never
  chosen, others get two ranks); pegload uses an affine permutation ``(a * r + b) mod n`` with
  ``a`` coprime to n near n/φ, so every index keeps exactly the probability of its rank. The
  permutation depends only on (seed, n): every greenlet and worker shares the same hot keys.
- ``LatestChooser``: YCSB's "latest": a zipfian over recency, so the most recently inserted
  records are the hottest; follows the worker's acknowledged inserts as they grow.
- ``HotspotChooser``: YCSB's hotspot: the first ``hot_fraction`` of the indices receive
  ``hot_ops`` of the picks, uniformly within the hot and within the cold set.
- ``SequentialChooser``: walks its slice of the space in order and wraps; the space is cut into
  one slice per (worker, greenlet) so concurrent walkers never repeat each other.
"""
from __future__ import annotations

import math
from typing import Callable

from .rng import derive_seed

_PHI = (1 + 5**0.5) / 2


def _log1p_over_x(x: float) -> float:
    return math.log1p(x) / x if abs(x) > 1e-8 else 1.0 - x / 2.0 + x * x / 3.0


def _expm1_over_x(x: float) -> float:
    return math.expm1(x) / x if abs(x) > 1e-8 else 1.0 + x / 2.0 + x * x / 6.0


class UniformChooser:
    __slots__ = ("n", "_random")

    def __init__(self, n: int, random: Callable[[], float]):
        self.n = n
        self._random = random

    def next(self) -> int:
        return int(self._random() * self.n)


class _Zipf:
    """Zipfian ranks in [0, n) (rank 0 the most popular, P(r) ∝ 1/(r+1)^theta), sampled
    exactly by rejection-inversion (Hörmann & Derflinger 1996): invert the integral H of the
    continuous density x^-theta, round to the nearest rank, and accept unless the rank falls in
    the thin region where the continuous and discrete masses differ (rare: a few % of draws take
    a second uniform). No normalising constant is needed, so the space can grow in O(1)."""

    __slots__ = ("n", "theta", "_h_first", "_h_n", "_squeeze")

    def __init__(self, n: int, theta: float):
        self.theta = theta
        self.n = 0
        self._h_first = self._big_h(1.5) - 1.0
        self._squeeze = 2.0 - self._big_h_inv(self._big_h(2.5) - 2.0 ** -theta)
        self.resize(n)

    def resize(self, n: int) -> None:
        self.n = n
        self._h_n = self._big_h(n + 0.5)

    def _big_h(self, x: float) -> float:
        """∫_1^x t^-theta dt, written to stay exact as theta -> 1."""
        log_x = math.log(x)
        return _expm1_over_x((1.0 - self.theta) * log_x) * log_x

    def _big_h_inv(self, y: float) -> float:
        t = y * (1.0 - self.theta)
        if t < -1.0:
            t = -1.0
        return math.exp(_log1p_over_x(t) * y)

    def rank(self, random: Callable[[], float]) -> int:
        h_n, h_first, n, theta = self._h_n, self._h_first, self.n, self.theta
        one_minus = 1.0 - theta
        while True:
            u = h_n + random() * (h_first - h_n)
            t = u * one_minus  # x = H^-1(u), inlined from _big_h_inv: this is the hot path
            if t < -1.0:
                t = -1.0
            x = math.exp((math.log1p(t) / t if abs(t) > 1e-8 else 1.0 - t / 2.0 + t * t / 3.0) * u)
            k = int(x + 0.5)
            if k < 1:
                k = 1
            elif k > n:
                k = n
            if k - x <= self._squeeze or u >= self._big_h(k + 0.5) - k ** -theta:
                return k - 1


def scramble_params(n: int, seed: int) -> tuple[int, int]:
    """(a, b) of the affine permutation r -> (a*r + b) mod n: a coprime to n near n/φ."""
    if n <= 2:
        return 1, 0
    a = max(1, int(round(n / _PHI)))
    while math.gcd(a, n) != 1:
        a += 1
    b = derive_seed(seed, "scramble", n) % n
    return a, b


class ZipfianChooser:
    __slots__ = ("n", "_zipf", "_random", "_a", "_b")

    def __init__(self, n: int, theta: float, random: Callable[[], float], seed: int = 0, scramble: bool = True):
        self.n = n
        self._zipf = _Zipf(n, theta)
        self._random = random
        self._a, self._b = scramble_params(n, seed) if scramble else (1, 0)

    def next(self) -> int:
        return (self._a * self._zipf.rank(self._random) + self._b) % self.n

    def rank_to_index(self, rank: int) -> int:
        """Where rank ``rank`` (0 = hottest) lands in the key space."""
        return (self._a * rank + self._b) % self.n


class HotspotChooser:
    __slots__ = ("n", "hot", "hot_ops", "_random")

    def __init__(self, n: int, hot_fraction: float, hot_ops: float, random: Callable[[], float]):
        self.n = n
        self.hot = min(n, max(1, int(n * hot_fraction)))
        self.hot_ops = hot_ops
        self._random = random

    def next(self) -> int:
        # one uniform draw: below hot_ops it is rescaled into the hot set, above into the cold set
        u = self._random()
        hot_ops = self.hot_ops
        if u < hot_ops or self.hot == self.n:
            i = int(u / hot_ops * self.hot) if hot_ops else 0
            return i if i < self.hot else self.hot - 1
        i = self.hot + int((u - hot_ops) / (1.0 - hot_ops) * (self.n - self.hot))
        return i if i < self.n else self.n - 1


class SequentialChooser:
    """Walks [start, stop) of the space in order, wrapping; slice ``slot`` of ``slots``."""

    __slots__ = ("n", "start", "stop", "_next")

    def __init__(self, n: int, slot: int = 0, slots: int = 1):
        self.n = n
        start, stop = n * slot // slots, n * (slot + 1) // slots
        if start == stop:  # more walkers than keys: share the whole space, offset by slot
            start, stop = 0, n
            self._next = slot % n
        else:
            self._next = start
        self.start, self.stop = start, stop

    def next(self) -> int:
        i = self._next
        self._next = i + 1 if i + 1 < self.stop else self.start
        return i


class LatestChooser:
    """Zipfian over recency: rank 0 is the newest record. ``total()`` says how many records
    exist now (it grows with acknowledged inserts); ``next()`` returns a recency rank, which
    the caller maps to a record (newest insert first, then the data set from its end)."""

    __slots__ = ("_zipf", "_random", "_total")

    def __init__(self, theta: float, random: Callable[[], float], total: Callable[[], int]):
        self._total = total
        self._zipf = _Zipf(max(1, total()), theta)
        self._random = random

    def next(self) -> int:
        n = self._total()
        if n != self._zipf.n:
            self._zipf.resize(max(1, n))
        return self._zipf.rank(self._random)
