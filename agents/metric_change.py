"""Metric series per service, host and version, and a change score that cannot explode. Pure functions.

`series_of` turns the store's per-bucket rows (`metric_series`) into one value per bucket for each mapped
metric, in the unit the agent reports: gauges as their mean, running totals as their increase per second,
histograms as a quantile interpolated within their buckets (as Prometheus's histogram_quantile does) or,
without buckets, as sum/count of the bucket's increases — never a lifetime mean.

`change_score` is a robust z: the window's median against the baseline's median, in units of the
baseline's spread (1.4826 × MAD, or IQR / 1.349). The spread is floored by what the data itself says about
its resolution — the series' own quantisation step, a fraction of its level, a percentage point for a
ratio; a series of unknown scale that rises from a flat line at (next to) zero scores 3 ("clearly unusual" on the Anomaly scale), since nothing in the data
says how large such a move is. The score is capped at ANOMALY_SCORE_CAP.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from statistics import median

from inquest.agents.baseline import MAD_SCALE
from inquest.agents.metric_semconv import MetricMeaning, Semconv, to_display
from inquest.core import ANOMALY_SCORE_CAP
from inquest.tails import fisher_greater_p, norm_isf
from inquest.tools.backends.protocol import Table

RELATIVE_FLOOR = 0.05  # a move within 5% of a series' level is never unusual, however flat its baseline
RATIO_RESOLUTION = 0.01  # ratios are reported to a percentage point of their full scale
FLAT_SCORE = 3.0  # leaving a baseline with no spread at all: clearly unusual, and no more (Anomaly's scale)
LATENCY_QUANTILE = 0.95
# Which way a signal moves when something is wrong: both for traffic and network (a surge, or nobody
# getting through), up for everything else.
TWO_SIDED = {"traffic", "network"}


@dataclass(frozen=True)
class SeriesKey:
    service: str
    host: str | None
    version: str | None
    metric: str  # the semantic-convention name (a histogram's, not its .bucket part)
    signal: str


@dataclass(frozen=True)
class Series:
    key: SeriesKey
    meaning: MetricMeaning
    points: tuple[tuple[datetime, float], ...]  # (bucket start, value in display units), in time order

    def values(self, since: datetime | None = None) -> list[float]:
        return [v for at, v in self.points if since is None or at >= since]


@dataclass(frozen=True)
class Score:
    score: float  # 0..ANOMALY_SCORE_CAP, signed direction in `up`
    up: bool
    before: float
    now: float
    spread: float
    flat_baseline: bool


def _step(values: Sequence[float]) -> float:
    """The smallest gap between distinct values: the resolution the series is measured at."""
    distinct = sorted(set(values))
    gaps = [b - a for a, b in pairwise(distinct) if b - a > 0]
    return min(gaps) if gaps else 0.0


def _quartile_spread(values: Sequence[float]) -> float:
    if len(values) < 4:
        return 0.0
    ordered = sorted(values)
    def q(p: float) -> float:
        return ordered[round(p * (len(ordered) - 1))]
    return (q(0.75) - q(0.25)) / 1.349


def relative_spread(series: Iterable[Sequence[float]]) -> float:
    """The typical spread of a metric relative to its level, pooled over many series (hosts, services):
    what a short baseline of one series cannot tell about itself, its peers can."""
    ratios = []
    for values in series:
        if len(values) >= 2 and median(values) != 0:
            level = median(values)
            ratios.append(MAD_SCALE * median(abs(v - level) for v in values) / abs(level))
    return median(ratios) if ratios else 0.0


def change_score(baseline: Sequence[float], window: Sequence[float], signal: str,
                 peer_spread: float = 0.0, full_scale: float | None = None) -> Score | None:
    """How far the window moved from the baseline, robustly and boundedly; None without both.
    `peer_spread`: the metric's pooled relative spread (relative_spread), a floor for short baselines.
    `full_scale`: for a ratio (unit 1), 1 — its resolution is then known, one percentage point of it."""
    if not baseline or not window:
        return None
    level, now = median(baseline), median(window)
    mad = max(MAD_SCALE * median(abs(v - level) for v in baseline), peer_spread * abs(level))
    flat = mad == 0 and _step(baseline) == 0
    # From a flat line at (next to) nothing, a move's size cannot be scaled: it is clearly unusual, no more.
    from_nothing = flat and abs(level) <= RELATIVE_FLOOR * abs(now) and full_scale is None
    spread = max(mad, _quartile_spread(baseline), _step(baseline), _step(window) if flat else 0.0,
                 RATIO_RESOLUTION * (full_scale or 0.0),
                 RELATIVE_FLOOR * abs(level), abs(now - level) / FLAT_SCORE if from_nothing else 0.0, 1e-12)
    z = (now - level) / spread
    if signal not in TWO_SIDED:
        z = max(z, 0.0)
    return Score(round(min(abs(z), ANOMALY_SCORE_CAP), 2), z >= 0, level, now, spread, flat)


def failed_share_score(baseline: Sequence[tuple[float, float]], window: Sequence[tuple[float, float]]) -> float | None:
    """How surely an error ratio's window fails more often than its baseline, from the requests behind it.

    (ratio, requests) per bucket. A baseline with no spread (none failed) gives no scale to measure a move
    in, and a ratio over a handful of requests jumps by whole tenths; the requests carry the scale either
    way: failures are binomial draws, so the window's failed share is tested against the baseline's with a
    one-sided Fisher exact test, and the p-value read as a normal z (its evidence on the Anomaly scale).
    None without requests on both sides."""
    def counts(points: Sequence[tuple[float, float]]) -> tuple[int, int]:
        requests = sum(n for _, n in points)
        return round(sum(r * n for r, n in points)), round(requests)

    failed_b, total_b = counts(baseline)
    failed_w, total_w = counts(window)
    if total_b <= 0 or total_w <= 0:
        return None
    p = fisher_greater_p([[failed_w, total_w - failed_w], [failed_b, total_b - failed_b]])
    return round(min(max(norm_isf(p), 0.0), ANOMALY_SCORE_CAP), 2)


def _quantile_from_buckets(buckets: Iterable[tuple[float, float]], q: float) -> float | None:
    """q-quantile from (upper bound, count in that bucket) pairs: linear within the bucket that holds it."""
    ordered = sorted(buckets)
    total = sum(c for _, c in ordered)
    if total <= 0:
        return None
    rank, seen, lower = q * total, 0.0, 0.0
    for upper, count in ordered:
        if seen + count >= rank and count > 0:
            if upper == float("inf"):
                return lower  # beyond the last finite bound: the bound is all we know
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper if upper != float("inf") else lower
    return lower


def _le(text: str | None) -> float:
    return float("inf") if text in (None, "+Inf", "inf", "Inf") else float(text)


def series_of(table: Table, semconv: Semconv, bucket_seconds: int) -> list[Series]:
    """One series per (service, host, version, metric, signal) from metric_series rows."""
    # (service, host, version, metric) -> bucket -> value; for a histogram, part -> (le, value) pairs
    plain: dict[tuple[str, str, str, str], dict[datetime, float]] = defaultdict(dict)
    hist: dict[tuple[str, str, str, str], dict[datetime, dict[str, list[tuple[str | None, float]]]]] = \
        defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    meanings: dict[str, MetricMeaning] = {}
    for r in table.records():
        found = semconv.lookup(r["name"])
        if found is None:
            continue
        meaning, part = found
        meaning = semconv.with_unit(meaning, r["unit"] if part in ("", ".sum") else None)
        meanings[meaning.name] = meaning
        where = (r["service"], r["host"], r["version"], meaning.name)
        counted = r["temporality"] in ("cumulative", "delta")
        if part:
            hist[where][r["bucket"]][part].append((r["le"], r["total"] if counted else r["mean"]))
        elif meaning.kind != "histogram" or where not in hist:
            plain[where][r["bucket"]] = (r["total"] / bucket_seconds) if counted else r["mean"]
    out: list[Series] = []
    for (service, host, version, name), by_bucket in hist.items():
        meaning = meanings[name]
        latency, traffic = [], []
        for at, parts in sorted(by_bucket.items()):
            count = sum(v for _, v in parts.get(".count", ()))
            q = _quantile_from_buckets(((_le(le), v) for le, v in parts.get(".bucket", ())), LATENCY_QUANTILE)
            if q is None and count > 0 and parts.get(".sum"):
                q = sum(v for _, v in parts[".sum"]) / count
            if q is not None:
                latency.append((at, to_display(q, meaning)))
            if parts.get(".count"):
                traffic.append((at, count / bucket_seconds))
        key = SeriesKey(service, host, version, name, meaning.signal)
        out.append(Series(key, meaning, tuple(latency)))
        if traffic:
            out.append(Series(SeriesKey(service, host, version, name, "traffic"), meaning, tuple(traffic)))
        plain.pop((service, host, version, name), None)
    for (service, host, version, name), values in plain.items():
        meaning = meanings[name]
        points = tuple((at, to_display(v, meaning)) for at, v in sorted(values.items()) if v is not None)
        out.append(Series(SeriesKey(service, host, version, name, meaning.signal), meaning, points))
    return [s for s in out if s.points]
