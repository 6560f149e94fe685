"""The customer's view from a cluster: requests entering the system (root spans of the entry service), per
version, per bucket of time and per endpoint, and how much of a window the spans cover."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from inquest.core import Window
from inquest.tools.backends.coverage import bucket_seconds, covered_seconds
from inquest.tools.backends.elasticsearch.aggs import (
    TIME_BUCKET_ORIGIN_S,
    Key,
    Query,
    missing,
    parse_time,
    required_time,
    rounded,
    term,
)
from inquest.tools.backends.protocol import Table

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore


def span_minutes(store: ElasticsearchStore, window: Window) -> Table:
    length = (window.end - window.start).total_seconds()
    step = bucket_seconds(length)
    # Offsets from the window's start, like the embedded store's, so both bucket alike.
    offset = f"+{int(window.start.timestamp()) % step}s" if step > 1 else "+0s"
    histogram = {"field": store.f("spans", "timestamp"), "min_doc_count": 1}
    body = {"size": 0, "query": store._filters("spans", window),
            "aggs": {"minutes": {"date_histogram": {**histogram, "fixed_interval": "1m"}},
                     "occupied": {"date_histogram": {**histogram, "fixed_interval": f"{step}s", "offset": offset}}}}
    text, response = store._reader.search("span_minutes", "spans", ("timestamp",), body)
    aggs = response.get("aggregations", {})
    minutes = sum(1 for b in aggs.get("minutes", {}).get("buckets", []) if b["doc_count"])
    starts = [max(required_time(b["key"], "a span_minutes bucket's key"), window.start) for b in aggs.get("occupied", {}).get("buckets", [])
              if b["doc_count"]]
    covered = covered_seconds([(s - window.start).total_seconds() for s in starts], length, step) / 60
    return Table("span_minutes", text, ("minutes", "covered_minutes"), ((minutes, round(covered, 3)),))


def version_stats(store: ElasticsearchStore, window: Window, services: Sequence[str]) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    kinds = [store.settings.span_kinds[k] for k in ("SERVER", "CONSUMER")]
    keys = [Key("service", f("service")), Key("version", f("version"), nullable=True)]
    text, groups = store._grouped("version_stats", "spans", window, keys, {**store._status(), **store._duration.aggs()},
                                 ("service", "version", "kind", "status_code", *store._durations()),
                                 {"terms": {f("kind"): kinds}}, {"terms": {f("service"): list(services)}})
    rows = tuple((svc, version, b["doc_count"], store._failed(b), rounded(store._duration.sketch(b).quantile(0.95), 2))
                 for (svc, version), b in sorted(groups, key=lambda g: (g[0][0], g[0][1] or "")))
    return Table("version_stats", text, ("service", "version", "requests", "errors", "p95_ms"), rows)


def entry_services(store: ElasticsearchStore, window: Window) -> Table:
    text, groups = store._grouped("entry_services", "spans", window, [Key("service", store.f("spans", "service"))],
                                 {}, ("service", "parent_span_id"), missing(store.f("spans", "parent_span_id")))
    rows = sorted(((svc, b["doc_count"]) for (svc,), b in groups), key=lambda r: -r[1])
    return Table("entry_services", text, ("service", "requests"), tuple(rows))


def _timeline(store: ElasticsearchStore, question: str, window: Window, service: str, bucket_seconds: int, failed: str,
              narrower: Query) -> Table:
    seconds = int(bucket_seconds)
    histogram = {"date_histogram": {"field": store.f("spans", "timestamp"), "fixed_interval": f"{seconds}s",
                                    "offset": f"+{TIME_BUCKET_ORIGIN_S % seconds}s", "min_doc_count": 1},
                 "aggs": {**store._status(), **store._duration.aggs()}}
    body = {"size": 0, "query": store._filters("spans", window, narrower, service=service), "aggs": {"t": histogram}}
    text, response = store._reader.search(question, "spans", ("timestamp", "service", "kind", "parent_span_id",
                                                              "status_code", *store._durations()), body)
    rows = tuple((parse_time(b["key"]), b["doc_count"], store._failed(b), store._duration.sketch(b).quantile(0.95))
                 for b in response.get("aggregations", {}).get("t", {}).get("buckets", []) if b["doc_count"])
    return Table(question, text, ("bucket", "requests", failed, "p95_ms"), rows)


def service_timeline(store: ElasticsearchStore, window: Window, service: str, bucket_seconds: int = 60) -> Table:
    return _timeline(store, "service_timeline", window, service, bucket_seconds, "errors",
                          term(store.f("spans", "kind"), store.settings.span_kinds["SERVER"]))


def entry_timeline(store: ElasticsearchStore, window: Window, service: str, bucket_seconds: int = 60) -> Table:
    return _timeline(store, "entry_timeline", window, service, bucket_seconds, "failed",
                          missing(store.f("spans", "parent_span_id")))


def entry_summary(store: ElasticsearchStore, window: Window, service: str, slow_ms: float) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    distinct = {"users": {"cardinality": {"field": f("user"), "precision_threshold": 40000}},
                "tenants": {"cardinality": {"field": f("tenant"), "precision_threshold": 40000}}}
    body = {"size": 0, "track_total_hits": True,
            "query": store._filters("spans", window, missing(f("parent_span_id")), service=service),
            "aggs": {"failed": {"filter": term(f("status_code"), store._error), "aggs": distinct},
                     "slow": {"filter": {"range": {f("duration"): {"gt": float(slow_ms) * store._per_ms}}}},
                     **distinct}}
    text, r = store._reader.search("entry_summary", "spans", ("timestamp", "service", "parent_span_id",
                                                             "status_code", "duration", "user", "tenant"), body)
    a = r.get("aggregations", {})
    row = (r["hits"]["total"]["value"], a["failed"]["doc_count"], a["slow"]["doc_count"], a["users"]["value"],
           a["tenants"]["value"], a["failed"]["users"]["value"], a["failed"]["tenants"]["value"])
    return Table("entry_summary", text, ("requests", "failed", "slow", "users", "tenants", "failed_users",
                                         "failed_tenants"), (row,))


def entry_endpoints(store: ElasticsearchStore, window: Window, service: str) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    keys = [Key("method", f("http_method"), nullable=True), Key("route", f("http_route"), nullable=True),
            Key("name", f("name"))]
    text, groups = store._grouped(
        "entry_endpoints", "spans", window, keys, {**store._status(), **store._duration.aggs()},
        ("service", "parent_span_id", "http_method", "http_route", "name", "status_code", *store._durations()),
        missing(f("parent_span_id")), service=service)
    # SQL's coalesce(method || ' ' || route, name): groups naming the same endpoint are merged.
    merged: dict[str, list[Any]] = {}
    for (method, route, name), b in sorted(groups, key=lambda g: -g[1]["doc_count"]):
        endpoint = f"{method} {route}" if method is not None and route is not None else name
        total = merged.setdefault(endpoint, [0, 0, None])
        sketch = store._duration.sketch(b)
        total[0], total[1] = total[0] + b["doc_count"], total[1] + store._failed(b)
        total[2] = sketch if total[2] is None else total[2] + sketch  # the biggest group first
    rows = sorted(((e, n, failed, s.quantile(0.95)) for e, (n, failed, s) in merged.items()),
                  key=lambda r: (-r[2], -r[1]))
    return Table("entry_endpoints", text, ("endpoint", "requests", "failed", "p95_ms"), tuple(rows[:20]))
