"""Percentiles a cluster can compute the same way everywhere: counts of log-scale duration buckets.

Each span carries, from ingest, the index of the bucket its duration falls in; buckets are 1% wide
(bucket b holds [MIN_MS·1.01^b, MIN_MS·1.01^(b+1))). A `histogram` aggregation then counts spans per
bucket inside the cluster, and the percentile is read off the counts here, interpolated the way the
embedded store's `quantile_cont` interpolates between order statistics. The estimate and the true
value lie in the same 1%-wide bucket, so the error is under 1% of the value, on Elasticsearch,
OpenSearch and test servers alike (unlike TDigest, whose answer varies by engine and version, and which
some test servers lack). The group's exact min and max pin the two ends, so small groups come out
nearly exact. The buckets of several groups add up, so groups can be merged after the fact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from inquest.quantiles import quantile_of_counts as distribution_quantile  # one quantile rule (inquest/quantiles.py)

BUCKET_WIDTH = 0.01
MIN_MS = 0.001  # durations below a microsecond share bucket 0
_LOG_STEP = math.log1p(BUCKET_WIDTH)

# The same formula for DuckDB, which derives the bucket of every span at ingest.
BUCKET_SQL = f"CAST(floor(ln(greatest({{column}}, {MIN_MS}) / {MIN_MS}) / ln(1 + {BUCKET_WIDTH})) AS INTEGER)"


def bucket_of(ms: float) -> int:
    return int(math.floor(math.log(max(ms, MIN_MS) / MIN_MS) / _LOG_STEP))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    low = MIN_MS * math.exp(bucket * _LOG_STEP)
    return (0.0 if bucket <= 0 else low), MIN_MS * math.exp((bucket + 1) * _LOG_STEP)


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def quantile(histogram: Mapping[int, int], q: float, low: float | None = None,
             high: float | None = None) -> float | None:
    """`quantile_cont(q)` estimated from bucket counts; `low`/`high` are the exact min and max."""
    counts = sorted((b, c) for b, c in histogram.items() if c > 0)
    n = sum(c for _, c in counts)
    if n == 0:
        return None
    rank = (n - 1) * q
    below = math.floor(rank)
    first = _order_statistic(counts, below, low, high)
    if rank == below:
        return first
    return first + (rank - below) * (_order_statistic(counts, below + 1, low, high) - first)


def _order_statistic(counts: list[tuple[int, int]], k: int, low: float | None, high: float | None) -> float:
    """The k-th smallest value (0-based), spread evenly over its bucket; the first bucket starts at the
    minimum and the last ends at the maximum when they are known."""
    seen = 0
    for position, (bucket, count) in enumerate(counts):
        if k < seen + count:
            a, b = bucket_bounds(bucket)
            first, last = position == 0, position == len(counts) - 1
            if first and low is not None:
                a = max(min(low, b), a) if bucket > 0 else low
            if last and high is not None:
                b = min(max(high, a), b)
            j = k - seen
            if first and last and low is not None and high is not None:
                return a if count == 1 else a + j / (count - 1) * (b - a)
            if first and low is not None:
                return a + j / count * (b - a)
            if last and high is not None:
                return a + (j + 1) / count * (b - a)
            return a + (j + 0.5) / count * (b - a)
        seen += count
    raise ValueError(f"order statistic {k} beyond {seen} values")


def distribution_mad(counts: Mapping[float, int]) -> float | None:
    """Median absolute deviation from the median, as DuckDB's `mad` computes it (unscaled)."""
    centre = distribution_quantile(counts, 0.5)
    if centre is None:
        return None
    deviations: dict[float, int] = {}
    for v, c in counts.items():
        deviations[abs(v - centre)] = deviations.get(abs(v - centre), 0) + c
    return distribution_quantile(deviations, 0.5)
