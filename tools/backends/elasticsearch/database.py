"""The database questions from a cluster: statements from the spans that ran them, and the statement
statistics a database exporter wrote, grouped and summed inside the cluster."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from inquest.core import Window
from inquest.tools.backends.elasticsearch.aggs import (
    Key,
    exists,
    rounded,
    value,
)
from inquest.tools.backends.protocol import Table

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore


def db_statements(store: ElasticsearchStore, window: Window, service: str | None = None) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    leaf = {**store._status(), "time": {"sum": {"field": f("duration")}},
            "traces": {"cardinality": {"field": f("trace_id"), "precision_threshold": 40000}},
            # Distinct (trace, parent span) pairs: span ids are random 64-bit values, unique
            # across traces in practice, so the parent span id alone counts them.
            "requests": {"cardinality": {"field": f("parent_span_id"), "precision_threshold": 40000}},
            **store._duration.aggs()}
    text, groups = store._grouped(
        "db_statements", "spans", window, [Key("service", f("service")), Key("statement", f("db_statement"))],
        leaf, ("service", "db_statement", "trace_id", "parent_span_id", "status_code", *store._durations()),
        exists(f("db_statement")), service=service, order={"time": "desc"}, last_size=100)
    rows = []
    for (svc, statement), b in groups:
        calls, time = b["doc_count"], value(b, "time") or 0.0
        traces, requests = value(b, "traces") or 0, value(b, "requests") or 0
        rows.append((time, (svc, statement, calls, traces, rounded(calls / traces, 2) if traces else None,
                            rounded(calls / requests, 2) if requests else None,
                            rounded(time / calls / store._per_ms, 2), store._duration.sketch(b).quantile(0.95),
                            store._failed(b))))
    rows.sort(key=lambda r: -r[0])
    return Table("db_statements", text, ("service", "statement", "calls", "traces", "calls_per_trace",
                                         "calls_per_request", "mean_ms", "p95_ms", "errors"),
                 tuple(r for _, r in rows[:100]))


def db_query_stats(store: ElasticsearchStore, window: Window, service: str | None = None) -> Table:
    f = partial(store.f, "db_query_stats")  # the field names of one index
    sums = {name: {"sum": {"field": f(name)}} for name in ("calls", "total_time_ms", "rows", "lock_wait_ms")}
    text, groups = store._grouped(
        "db_query_stats", "db_query_stats", window,
        [Key("service", f("service")), Key("statement", f("statement"))], sums, ("service", "statement", *sums),
        service=service, order={"total_time_ms": "desc"}, last_size=100)
    rows = []
    for (svc, statement), b in groups:
        calls, total = value(b, "calls") or 0, value(b, "total_time_ms") or 0.0
        rows.append((total, (svc, statement, int(calls), rounded(total / calls, 2) if calls else None,
                             rounded((value(b, "rows") or 0) / calls, 2) if calls else None,
                             rounded(value(b, "lock_wait_ms"), 1))))
    rows.sort(key=lambda r: -r[0])
    return Table("db_query_stats", text, ("service", "statement", "calls", "mean_ms", "rows_per_call",
                                          "lock_wait_ms"), tuple(r for _, r in rows[:100]))
