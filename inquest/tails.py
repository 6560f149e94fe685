"""The three tail probabilities the agents test with, from the math module alone.

Importing scipy.stats costs about a second of CPU (it builds every distribution it has), more than the
whole deterministic investigation of the demo; the engine needs only a normal quantile, a binomial tail and
a Pearson chi-square test. Each is computed exactly here (a finite sum; the chi-square tail in closed form,
as its degrees of freedom are whole numbers) and agrees with scipy to ~1e-12 (tests/test_tails.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from statistics import NormalDist

_STANDARD = NormalDist()
_NEGLIGIBLE = 1e-17  # a term this small beside the running total no longer changes a double


def norm_isf(p: float) -> float:
    """z with P(Z > z) = p for a standard normal Z (scipy.stats.norm.isf)."""
    if p <= 0:
        return math.inf
    if p >= 1:
        return -math.inf
    # inv_cdf of the small side keeps its precision down to 1e-300, where 1 - p would round to 1
    return -_STANDARD.inv_cdf(p) if p <= 0.5 else _STANDARD.inv_cdf(1.0 - p)


def _log_pmf(k: int, n: int, p: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)


def _tail_sum(start: int, stop: int, step: int, n: int, p: float) -> float:
    """Sum of the binomial pmf from `start` towards `stop`, moving away from the mean. One pmf from
    lgamma, the rest by the ratio of neighbours (pmf(k+1)/pmf(k) = (n-k)/(k+1) · p/(1-p)): a tail on a
    million requests runs to thousands of terms, and three lgamma calls each cost a fifth of the trace
    agent's time."""
    odds = p / (1.0 - p)
    term = math.exp(_log_pmf(start, n, p))

    def term_at(k: int) -> float:
        nonlocal term
        if k != start:
            term *= (n - k + 1) / k * odds if step > 0 else (k + 1) / (n - k) / odds
        return term

    return _sum_terms(term_at, range(start, stop + step, step))


def binomial_tail(k: int, n: int, p: float, upper: bool) -> float:
    """P(X >= k) (upper) or P(X <= k) for X ~ Binomial(n, p), exact."""
    if p <= 0.0 or p >= 1.0:
        inside = (k <= 0 if p <= 0.0 else k <= n) if upper else (k >= 0 if p <= 0.0 else k >= n)
        return 1.0 if inside else 0.0
    if upper and k <= 0 or not upper and k >= n:
        return 1.0
    mean = n * p
    if upper:
        return min(1.0, _tail_sum(k, n, 1, n, p) if k >= mean else 1.0 - _tail_sum(k - 1, 0, -1, n, p))
    return min(1.0, _tail_sum(k, 0, -1, n, p) if k <= mean else 1.0 - _tail_sum(k + 1, n, 1, n, p))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X > k) for X ~ Binomial(n, p) (scipy.stats.binom.sf)."""
    return 0.0 if k >= n else binomial_tail(k + 1, n, p, upper=True)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater_p(table: Sequence[Sequence[int]]) -> float:
    """One-sided ("greater") Fisher exact test of a 2 x 2 table (scipy.stats.fisher_exact): the
    hypergeometric chance of a first cell at least this large given the margins."""
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError("a contingency table with a negative count")
    if 0 in (a + b, c + d, a + c, b + d):
        return 1.0
    row, total, column = a + b, a + b + c + d, a + c
    low, high = max(0, column - (c + d)), min(row, column)
    if a <= low:
        return 1.0

    def pmf(i: int) -> float:
        return math.exp(_log_choose(row, i) + _log_choose(total - row, column - i) - _log_choose(total, column))

    mean = column * row / total
    if a >= mean:  # sum the upper tail away from the mean until it stops counting
        return min(1.0, _sum_terms(pmf, range(a, high + 1)))
    return max(0.0, 1.0 - _sum_terms(pmf, range(a - 1, low - 1, -1)))


def _sum_terms(term_at: Callable[[int], float], indices: range) -> float:
    """Terms that only shrink along `indices`: the sum ends once they no longer add anything."""
    total = 0.0
    for i in indices:
        term = term_at(i)
        total += term
        if term < total * _NEGLIGIBLE or term == 0.0:  # 0: underflowed, and the rest only shrink
            break
    return total


def theil_sen_interval(y: Sequence[float], x: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The Theil-Sen slope's confidence interval (Sen 1968, eq. 2.6), as scipy.stats.theilslopes gives it:
    ranks into the sorted pairwise slopes from the normal approximation of Kendall's S with ties."""
    slopes = sorted((y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x)) for j in range(len(x)) if x[j] > x[i])
    if not slopes:
        return math.nan, math.nan
    z = -norm_isf((1.0 - confidence) / 2.0)  # lower quantile, negative

    def tie_term(values: Sequence[float]) -> float:
        return sum(k * (k - 1) * (2 * k + 5) for k in Counter(values).values() if k > 1)

    n = len(y)
    variance = (n * (n - 1) * (2 * n + 5) - tie_term(x) - tie_term(y)) / 18.0
    if variance < 0:
        return math.nan, math.nan
    sigma = math.sqrt(variance)
    upper = min(round((len(slopes) - z * sigma) / 2.0), len(slopes) - 1)
    lower = max(round((len(slopes) + z * sigma) / 2.0) - 1, 0)
    return slopes[lower], slopes[upper]


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X ~ chi-square with whole `dof` (scipy.stats.chi2.sf): the regularised upper gamma
    Q(dof/2, x/2) in closed form, each term in logs so a large x underflows to 0 instead of to nan."""
    if x <= 0:
        return 1.0
    y = x / 2
    if dof % 2 == 0:
        return math.fsum(math.exp(-y + i * math.log(y) - math.lgamma(i + 1)) for i in range(dof // 2))
    sqrt_y = math.sqrt(y)
    return math.erfc(sqrt_y) + math.fsum(math.exp(-y + (i + 0.5) * math.log(y) - math.lgamma(i + 1.5))
                                         for i in range(dof // 2))


def chi2_contingency_p(observed: Sequence[Sequence[float]]) -> float:
    """p-value of Pearson's chi-square test of independence on a table (scipy.stats.chi2_contingency,
    with its Yates continuity correction when there is one degree of freedom)."""
    rows = [[float(v) for v in row] for row in observed]
    if not rows or not rows[0]:
        raise ValueError("an empty contingency table")
    if any(v < 0 for row in rows for v in row):
        raise ValueError("a contingency table with a negative count")
    row_sums = [sum(row) for row in rows]
    col_sums = [sum(col) for col in zip(*rows, strict=True)]
    total = sum(row_sums)
    expected = [[r * c / total if total else 0.0 for c in col_sums] for r in row_sums]
    if any(e == 0 for row in expected for e in row):
        raise ValueError("the table of expected frequencies has a zero element")
    dof = (len(rows) - 1) * (len(rows[0]) - 1)
    if dof == 0:
        return 1.0
    stat = 0.0
    for obs_row, exp_row in zip(rows, expected, strict=True):
        for obs, exp in zip(obs_row, exp_row, strict=True):
            diff = exp - obs
            if dof == 1:  # Yates: move each count up to half a unit towards its expectation
                obs += math.copysign(min(0.5, abs(diff)), diff) if diff else 0.0
            stat += (obs - exp) ** 2 / exp
    return chi2_sf(stat, dof)
