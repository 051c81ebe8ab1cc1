"""The Mann-Whitney U test, one-sided, for deciding whether repeated runs really got worse.

Rank-based, so it needs no assumption about how run-to-run noise is distributed (a p99 per run
is anything but normal). Exact for the small repeat counts CI can afford (all splits of the
pooled values are enumerated, ties included, up to :data:`EXACT_LIMIT` splits); normal
approximation with tie and continuity corrections beyond.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

EXACT_LIMIT = 200_000


def midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values``; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def u_statistic(x: Sequence[float], y: Sequence[float]) -> float:
    """U of ``y``: pairs (xi, yj) with yj > xi, ties counting one half."""
    ranks = midranks(list(x) + list(y))
    m = len(y)
    return sum(ranks[len(x):]) - m * (m + 1) / 2


def p_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value for "``y`` tends to be larger than ``x``": the chance, if both came from
    the same distribution, of a U at least as large as the one observed."""
    n, m = len(x), len(y)
    if not n or not m:
        return 1.0
    pooled = list(x) + list(y)
    ranks = midranks(pooled)
    observed = sum(ranks[n:])
    if math.comb(n + m, m) <= EXACT_LIMIT:
        hits = total = 0
        for picked in combinations(ranks, m):
            total += 1
            if sum(picked) >= observed - 1e-9:
                hits += 1
        return hits / total
    u = observed - m * (m + 1) / 2
    mean = n * m / 2
    ties = _tie_term(pooled)
    var = n * m / 12 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if var <= 0:
        return 1.0
    z = (u - mean - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _tie_term(values: Sequence[float]) -> float:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sum(t ** 3 - t for t in counts.values())


def smallest_p(n: int, m: int) -> float:
    """The smallest one-sided p-value ``n`` baseline and ``m`` current runs can produce (all
    current runs worse than all baseline runs): below alpha only with enough repeats."""
    if not n or not m:
        return 1.0
    return 1 / math.comb(n + m, m)
