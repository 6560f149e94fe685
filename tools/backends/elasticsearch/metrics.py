"""The metric questions from a cluster: per series (service, host, name), summaries, robust statistics and
a time series, from aggregations and the first/last point of each series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from inquest.core import Window
from inquest.errors import BackendError
from inquest.quantiles import quantile_of_counts as distribution_quantile  # the engine's one quantile rule
from inquest.tools.backends.elasticsearch.aggs import (
    TIME_BUCKET_ORIGIN_S,
    Group,
    Key,
    Query,
    exists,
    first_key,
    required_time,
    rounded,
    source_value,
    value,
)
from inquest.tools.backends.elasticsearch.percentiles import distribution_mad
from inquest.tools.backends.protocol import Table

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore


def _metric_groups(store: ElasticsearchStore, question: str, window: Window, names: Sequence[str], leaf: Query,
                   service: str | None = None) -> tuple[str, list[Group]]:
    f = partial(store.f, "metrics")  # the field names of one index
    keys = [Key("service", f("service")), Key("host", f("host"), nullable=True), Key("name", f("name"))]
    text, groups = store._grouped(question, "metrics", window, keys, leaf, ("service", "host", "name", "value"),
                                 {"terms": {f("name"): list(names)}}, exists(f("value")), service=service)
    store._reader.count_documents(question, sum(len(b[k]["hits"]["hits"]) for _, b in groups
                                               for k in ("first", "last") if k in b))
    groups.sort(key=lambda g: (g[0][0], g[0][1] is None, g[0][1] or "", g[0][2]))
    return text, groups


def _point(store: ElasticsearchStore, which: str) -> Query:
    f = partial(store.f, "metrics")  # the field names of one index
    order = "asc" if which == "first" else "desc"
    return {which: {"top_hits": {"size": 1, "sort": [{f("timestamp"): order}], "_source": [f("value")]}}}


def _point_value(store: ElasticsearchStore, bucket: Mapping[str, Any], which: str) -> Any:
    hits = bucket[which]["hits"]["hits"]
    return source_value(hits[0]["_source"], store.f("metrics", "value")) if hits else None


def metric_summary(store: ElasticsearchStore, window: Window, names: Sequence[str], service: str | None = None) -> Table:
    v = store.f("metrics", "value")
    leaf = {"mean": {"avg": {"field": v}}, "max": {"max": {"field": v}}, **_point(store, "last")}
    text, groups = _metric_groups(store, "metric_summary", window, names, leaf, service)
    rows = tuple((svc, host, name, rounded(value(b, "mean"), 3), rounded(value(b, "max"), 3),
                  rounded(_point_value(store, b, "last"), 3), b["doc_count"]) for (svc, host, name), b in groups)
    return Table("metric_summary", text, ("service", "host", "name", "mean", "max", "last", "points"), rows)


def metric_stats(store: ElasticsearchStore, window: Window, names: Sequence[str]) -> Table:
    v = store.f("metrics", "value")
    # Every distinct value with its count: a window holds few points per series, so the median
    # and the MAD come out exact without sending a single point.
    leaf = {"values": {"terms": {"field": v, "size": store.settings.max_buckets}}, "max": {"max": {"field": v}},
            **_point(store, "first"), **_point(store, "last")}
    text, groups = _metric_groups(store, "metric_stats", window, names, leaf)
    rows = []
    for (svc, host, name), b in groups:
        if b["values"].get("sum_other_doc_count"):
            raise BackendError(f"metric_stats: {svc}/{host}/{name} has more than {store.settings.max_buckets} "
                               "distinct values in the window; raise backend.elasticsearch.max_buckets")
        counts = {float(x["key"]): x["doc_count"] for x in b["values"]["buckets"]}
        rows.append((svc, host, name, b["doc_count"], rounded(distribution_quantile(counts, 0.5), 4),
                     rounded(distribution_mad(counts), 4), rounded(distribution_quantile(counts, 0.9), 4),
                     rounded(value(b, "max"), 4), rounded(_point_value(store, b, "first"), 4),
                     rounded(_point_value(store, b, "last"), 4)))
    return Table("metric_stats", text, ("service", "host", "name", "points", "median", "mad", "p90", "max",
                                        "first", "last"), tuple(rows))


def metric_series(store: ElasticsearchStore, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                  bucket_seconds: int = 60) -> Table:
    # Per series, a date histogram of mean, sum and max. A running total is differenced over buckets
    # here (its max per bucket against the previous bucket's; a drop is a reset): a coarser reading than
    # the embedded store's per-stream differencing. Versions and histogram buckets (`le`) are not
    # mapped in the cluster's field map yet, so they come back empty.
    seconds = int(bucket_seconds)
    v = store.f("metrics", "value")
    leaf = {"t": {"date_histogram": {"field": store.f("metrics", "timestamp"), "fixed_interval": f"{seconds}s",
                                     "offset": f"+{TIME_BUCKET_ORIGIN_S % seconds}s", "min_doc_count": 1},
                  "aggs": {"mean": {"avg": {"field": v}}, "total": {"sum": {"field": v}},
                           "max": {"max": {"field": v}}}},
            "unit": {"terms": {"field": store.f("metrics", "unit"), "size": 1}}}
    # Read from ten buckets before the window, as the embedded store does, so a running total's first
    # bucket in the window has a previous reading to be differenced against.
    lead_in = Window(window.start - timedelta(seconds=10 * seconds), window.end)
    text, groups = _metric_groups(store, "metric_series", lead_in, names, leaf)
    rows = []
    for (svc, host, name), b in groups:
        unit = first_key(b, "unit") if "unit" in b else None
        counted = name in cumulative
        previous: float | None = None
        for t in b["t"]["buckets"]:
            top = value(t, "max")
            if counted:
                increase: float | None = None if previous is None or top is None else (top if top < previous else top - previous)
                previous = top
                if increase is None:
                    continue
                mean = total = increase
            else:
                mean, total = value(t, "mean"), value(t, "total")
            if required_time(t["key"], "a metric bucket's key") < window.start:
                continue
            rows.append((svc, host, None, name, None, unit, "cumulative" if counted else "gauge",
                         required_time(t["key"], "a metric bucket's key"), t["doc_count"], rounded(mean, 6), rounded(total, 6)))
    return Table("metric_series", text, ("service", "host", "version", "name", "le", "unit", "temporality",
                                         "bucket", "points", "mean", "total"), tuple(rows))
