"""One quantile rule for the whole engine: linear interpolation between closest ranks.

It is numpy's default and DuckDB's `quantile_cont`, so a percentile computed in Python (replay's latency
summary, a cluster's per-value counts) agrees with one the embedded store computes in SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


def quantile_of_counts(counts: Mapping[float, int], q: float) -> float | None:
    """`quantile_cont(q)`, q in 0..1, of values given as value -> how many times it occurs; None for none."""
    pairs = sorted((v, c) for v, c in counts.items() if c > 0)
    n = sum(c for _, c in pairs)
    if n == 0:
        return None
    rank = (n - 1) * q
    below = int(rank)

    def nth(k: int) -> float:
        seen = 0
        for v, c in pairs:
            seen += c
            if k < seen:
                return v
        return pairs[-1][0]

    first = nth(below)
    return first if rank == below else first + (rank - below) * (nth(below + 1) - first)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile, q in 0..100, of the values; None for none."""
    return quantile_of_counts(Counter(values), q / 100.0)
