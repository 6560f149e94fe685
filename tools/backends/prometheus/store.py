"""The metric questions of the backend protocol, answered by Prometheus.

Aggregation happens in Prometheus: each question is one PromQL expression (per run of equal buckets for
metric_series) whose parts are `count_over_time`, `sum_over_time`, `quantile_over_time`, `increase`, ...
summed `by` the service, host and version labels, so only a row per group (and bucket) comes back, never
a series' samples. The expression is the table's `query`, ready for Prometheus's console.

Against the embedded store's answers (docs/prometheus.md): counts, sums, means, maxima and last values
are the same numbers, and so is a running total's increase per bucket (the last value against the one
before the bucket; only across a counter reset is it Prometheus's `increase`, which extrapolates); a
window's first value and its median absolute deviation are read on the scrape grid
(`backend.metrics.step_s`). Where a group (service, host) holds several series
(labels beyond the mapping), its quantiles, first and last are the mean of theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from inquest.config import PrometheusMetrics
from inquest.core import Window, utc
from inquest.tools.backends.prometheus import promql
from inquest.tools.backends.prometheus.client import PrometheusClient, Sample, finite
from inquest.tools.backends.protocol import Table

SUMMARY_COLUMNS = ("service", "host", "name", "mean", "max", "last", "points")
STATS_COLUMNS = ("service", "host", "name", "points", "median", "mad", "p90", "max", "first", "last")
SERIES_COLUMNS = ("service", "host", "version", "name", "le", "unit", "temporality", "bucket", "points", "mean",
                  "total")
GroupKey = tuple[str | None, ...]  # service, host[, version], name
SeriesKey = tuple[str | datetime | None, ...]  # service, host, version, name, le, bucket


class PrometheusMetricStore:
    """backend.metrics.kind = prometheus: metric_summary, metric_stats and metric_series as PromQL."""

    name = "prometheus"

    def __init__(self, settings: PrometheusMetrics, client: PrometheusClient | None = None) -> None:
        self.settings = settings
        self.client = client or PrometheusClient(settings)
        self.grouping = promql.Grouping.of(settings.labels)

    def close(self) -> None:
        self.client.close()

    def resolve(self, names: Sequence[str], start: datetime, end: datetime) -> dict[str, str]:
        """Prometheus name -> the name asked for, for the names that hold samples around the window."""
        present = self.client.metric_names(start, end)
        found: dict[str, str] = {}
        for name in names:
            choices = [self.settings.names[name]] if name in self.settings.names else promql.candidates(name)
            stored = next((c for c in choices if c in present), None)
            if stored is not None and stored not in found:
                found[stored] = name
        return found

    # -- the questions ---------------------------------------------------------------------------

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        r, by = promql.window_range(window.start, window.end), self.grouping.by()
        parts = {
            "points": lambda x: f"sum by ({by}) (count_over_time({x}{r}))",
            "sum": lambda x: f"sum by ({by}) (sum_over_time({x}{r}))",
            "max": lambda x: f"max by ({by}) (max_over_time({x}{r}))",
            "last": lambda x: f"avg by ({by}) (last_over_time({x}{r}))",
        }
        query, own, groups = self._window_question(window, names, parts)
        rows = []
        for (svc, host, name), stat in groups.items():
            if service is not None and svc != service:
                continue
            points = int(stat["points"])
            rows.append((svc, host, name, _round(stat["sum"] / points if points else None, 3),
                         _round(stat.get("max"), 3), _round(stat.get("last"), 3), points))
        return Table("metric_summary", query, SUMMARY_COLUMNS, tuple(sorted(rows, key=lambda row: _order(row[:3]))), own)

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        r, by, end = promql.window_range(window.start, window.end), self.grouping.by(), promql.last_instant(window.end)
        step = timedelta(seconds=self.settings.step_s)
        first_at = promql.last_instant(min(window.start + step, window.end))
        first_range = promql.window_range(window.start, min(window.start + step, window.end))  # one step
        grid = f"[{promql.window_range(window.start, window.end)[1:-1]}:{self.settings.step_s:g}s]"
        parts = {
            "points": lambda x: f"sum by ({by}) (count_over_time({x}{r}))",
            "median": lambda x: f"avg by ({by}) (quantile_over_time(0.5, {x}{r}))",
            # Each grid step takes the one sample of the step before it, never an older one looked back to.
            "mad": lambda x: (f"avg by ({by}) (quantile_over_time(0.5, (abs(last_over_time({x}{first_range}) - "
                              f"quantile_over_time(0.5, {x}{r} @ {end.timestamp():.3f}))){grid}))"),
            "p90": lambda x: f"avg by ({by}) (quantile_over_time(0.9, {x}{r}))",
            "max": lambda x: f"max by ({by}) (max_over_time({x}{r}))",
            "first": lambda x: f"avg by ({by}) (last_over_time({x}{first_range} @ {first_at.timestamp():.3f}))",
            "last": lambda x: f"avg by ({by}) (last_over_time({x}{r}))",
        }
        query, own, groups = self._window_question(window, names, parts)
        rows = [(svc, host, name, int(stat["points"]),
                 *(_round(stat.get(k), 4) for k in ("median", "mad", "p90", "max", "first", "last")))
                for (svc, host, name), stat in groups.items()]
        return Table("metric_stats", query, STATS_COLUMNS, tuple(sorted(rows, key=lambda row: _order(row[:3]))), own)

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        seconds = int(bucket_seconds)
        found = self.resolve(names, window.start - timedelta(seconds=10 * seconds), window.end)
        counters = {stored for stored, name in found.items()
                    if name in cumulative or promql.is_counter(stored, found)}
        if not found:
            return Table("metric_series", _nothing(names), SERIES_COLUMNS, ())
        by = self.grouping.by("le")
        queries, per_name = [], defaultdict(list)
        totals: dict[SeriesKey, list[float]] = defaultdict(lambda: [0.0, 0.0])  # key -> [points, total]
        for run in promql.runs(promql.buckets(window.start, window.end, seconds)):
            r = promql.window_range(run[0].low, run[0].high)
            own = {name: promql.union([
                promql.tagged(f"sum by ({by}) (count_over_time({stored}{r}))", "points", name),
                promql.tagged(f"sum by ({by}) ({promql.growth(stored, run[0].high - run[0].low)})"
                              if stored in counters else f"sum by ({by}) (sum_over_time({stored}{r}))", "total", name)])
                for stored, name in found.items()}
            start, end = promql.last_instant(run[0].high), promql.last_instant(run[-1].high)
            step = (run[0].high - run[0].low).total_seconds()
            header = f"# query_range start={start.isoformat()} end={end.isoformat()} step={step:g}s\n"
            expression = promql.union(list(own.values()))
            queries.append(header + expression)
            for name, text in own.items():
                per_name[name].append(header + text)
            self._add_run(totals, run, self.client.series(expression, start, end, step))
        kinds = {name: "cumulative" if stored in counters else "gauge" for stored, name in found.items()}
        rows = [(svc, host, version, name, le, None, kinds[str(name)], bucket, int(points),
                 round(total / points, 6), round(total, 6))
                for (svc, host, version, name, le, bucket), (points, total) in totals.items() if points]
        rows.sort(key=lambda row: _order((row[0], row[1], row[3], row[4], row[7])))
        return Table("metric_series", "\n\n".join(queries), SERIES_COLUMNS, tuple(rows),
                     tuple((name, "\n\n".join(texts)) for name, texts in per_name.items()))

    def _add_run(self, totals: dict[SeriesKey, list[float]], run: list[promql.Bucket], samples: list[Sample]) -> None:
        """Adds a query_range's points and totals to their (service, host, version, name, le, bucket) rows."""
        labels_of = {round(promql.last_instant(b.high).timestamp(), 3): b.start for b in run}
        for sample in samples:
            bucket = labels_of.get(round(sample.at, 3))
            stat, name = promql.parse_tag(sample.labels.get(promql.TAG, ""))
            if bucket is None or sample.value != sample.value:  # NaN: nothing to add
                continue
            key = (*self._where(sample, version=True), name, sample.labels.get("le"), utc(bucket))
            totals[key][0 if stat == "points" else 1] += sample.value

    # -- shared steps ----------------------------------------------------------------------------

    def _window_question(self, window: Window, names: Sequence[str],
                         parts: dict[str, Callable[[str], str]]) -> tuple[str, tuple[tuple[str, str], ...],
                                                                      dict[GroupKey, dict[str, float]]]:
        """One instant query at the window's last millisecond: every statistic of every name, by group; and
        each name's own part of it."""
        found = self.resolve(names, window.start, window.end)
        if not found:
            return _nothing(names), (), {}
        own = {name: promql.union([promql.tagged(build(stored), stat, name) for stat, build in parts.items()])
               for stored, name in found.items()}
        expression = promql.union(list(own.values()))
        at = promql.last_instant(window.end)
        header = f"# query time={at.isoformat()}\n"
        groups: dict[GroupKey, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for sample in self.client.instant(expression, at):
            stat, name = promql.parse_tag(sample.labels.get(promql.TAG, ""))
            value = finite(sample.value)
            if value is not None:
                groups[(*self._where(sample, version=False), name)][stat].append(value)
        # Rows of different label sets can name the same service and host (a `job` beside a `service`):
        # counts and sums add up, maxima take the larger, the rest are averaged.
        merged = {key: {stat: _merge(stat, values) for stat, values in stats.items()}
                  for key, stats in groups.items() if stats.get("points")}
        return header + expression, tuple((name, header + text) for name, text in own.items()), merged

    def _where(self, sample: Sample, version: bool) -> GroupKey:
        labels = dict(sample.labels)
        where = (self.grouping.first(labels, self.grouping.service), self.grouping.first(labels, self.grouping.host))
        return (*where, self.grouping.first(labels, self.grouping.version)) if version else where


def _merge(stat: str, values: list[float]) -> float:
    if stat in ("points", "sum", "total"):
        return sum(values)
    if stat == "max":
        return max(values)
    return sum(values) / len(values)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _order(key: tuple[object, ...]) -> tuple[tuple[bool, object], ...]:
    """Sorts like SQL's ORDER BY with NULLs last."""
    return tuple((v is None, v if v is not None else "") for v in key)


def _nothing(names: Sequence[str]) -> str:
    shown = ", ".join(list(names)[:5]) + (", …" if len(names) > 5 else "")
    return f"# none of these metrics holds samples in Prometheus around the window: {shown}"
