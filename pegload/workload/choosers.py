"""Key choosers: each ``next()`` returns an index in [0, n) of the key space it was built for.

They run in the hot loop (one call per op): ``next`` is a closure with everything constant bound
in it (no attribute lookups per draw), ~0.1 µs for uniform and ~0.4 µs for zipfian, no
allocation beyond the returned int.

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
from collections.abc import Callable

from .rng import derive_seed

_PHI = (1 + 5**0.5) / 2


def _log1p_over_x(x: float) -> float:
    return math.log1p(x) / x if abs(x) > 1e-8 else 1.0 - x / 2.0 + x * x / 3.0


def _expm1_over_x(x: float) -> float:
    return math.expm1(x) / x if abs(x) > 1e-8 else 1.0 + x / 2.0 + x * x / 6.0


class UniformChooser:
    __slots__ = ("n", "next")

    def __init__(self, n: int, random: Callable[[], float]):
        self.n = n
        self.next: Callable[[], int] = _uniform(n, random)


def _uniform(n: int, random: Callable[[], float]) -> Callable[[], int]:
    """``int(random() * n)`` as a closure: one call and no attribute lookups per draw (math.trunc
    of a float is int() without the type call; n as a float skips the int->float conversion)."""
    nf, trunc = float(n), math.trunc

    def next_index() -> int:
        return trunc(random() * nf)

    return next_index


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

    def sampler(self, random: Callable[[], float]) -> Callable[[], int]:
        """A closure drawing ranks with ``random``; it follows later ``resize`` calls. The hot
        path: everything constant is bound once, and x = H^-1(u) is inlined."""
        theta, h_first, squeeze, big_h = self.theta, self._h_first, self._squeeze, self._big_h
        one_minus = 1.0 - theta
        exp, log1p, trunc = math.exp, math.log1p, math.trunc
        zipf = self

        def rank() -> int:
            h_n, n = zipf._h_n, zipf.n
            span = h_first - h_n
            while True:
                u = h_n + random() * span
                t = u * one_minus
                if t < -1.0:
                    t = -1.0
                x = exp((log1p(t) / t if (t > 1e-8 or t < -1e-8) else 1.0 - t / 2.0 + t * t / 3.0) * u)
                k = trunc(x + 0.5)
                if k < 1:
                    k = 1
                elif k > n:
                    k = n
                if k - x <= squeeze or u >= big_h(k + 0.5) - k ** -theta:
                    return k - 1

        return rank


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
    __slots__ = ("n", "_zipf", "_a", "_b", "next")

    def __init__(self, n: int, theta: float, random: Callable[[], float], seed: int = 0, scramble: bool = True):
        self.n = n
        self._zipf = _Zipf(n, theta)
        self._a, self._b = a, b = scramble_params(n, seed) if scramble else (1, 0)
        rank = self._zipf.sampler(random)

        def next_index() -> int:
            return (a * rank() + b) % n

        self.next: Callable[[], int] = next_index

    def rank_to_index(self, rank: int) -> int:
        """Where rank ``rank`` (0 = hottest) lands in the key space."""
        return (self._a * rank + self._b) % self.n


class HotspotChooser:
    __slots__ = ("n", "hot", "hot_ops", "next")

    def __init__(self, n: int, hot_fraction: float, hot_ops: float, random: Callable[[], float]):
        self.n = n
        self.hot = hot = min(n, max(1, int(n * hot_fraction)))
        self.hot_ops = hot_ops

        def next_index() -> int:
            # one uniform draw: below hot_ops it is rescaled into the hot set, above into the cold set
            u = random()
            if u < hot_ops or hot == n:
                i = int(u / hot_ops * hot) if hot_ops else 0
                return i if i < hot else hot - 1
            i = hot + int((u - hot_ops) / (1.0 - hot_ops) * (n - hot))
            return i if i < n else n - 1

        self.next: Callable[[], int] = next_index


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

    __slots__ = ("_zipf", "next")

    def __init__(self, theta: float, random: Callable[[], float], total: Callable[[], int]):
        self._zipf = zipf = _Zipf(max(1, total()), theta)
        rank = zipf.sampler(random)

        def next_rank() -> int:
            n = total()
            if n != zipf.n:
                zipf.resize(max(1, n))
            return rank()

        self.next: Callable[[], int] = next_rank
