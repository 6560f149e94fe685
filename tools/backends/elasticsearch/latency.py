"""The latency-only questions (operation_latency, trace_spectrum, edge_latency) as cluster aggregations.

They rely on fields derived at ingest (tools/es_loader.py): `inquest.self_ms`/`self_bucket` (exclusive
time), `inquest.credited` (who a span's exclusive time belongs to), `inquest.parent.client` and
`inquest.gap_ms`/`gap_bucket` (the parent's duration minus the span's). The trace spectrum needs to know
which traces were slow: their ids come back as buckets of one search (at most max_buckets of them,
else the question fails with a clear error) and narrow the searches that count per service.
Percentiles come from the same log-scale buckets as every other question (within 1% of the value);
the gap is never negative in either backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from inquest.core import Window
from inquest.errors import BackendError
from inquest.tools.backends.elasticsearch.aggs import Key, Percentiles, Query, missing, rounded, term, within
from inquest.tools.backends.protocol import OperationLimit, Table

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore

_OPERATION = ("service", "operation", "kind")


def _pct(store: ElasticsearchStore, field: str, bucket: str, per_ms: float, name: str,
         percents: tuple[float, ...]) -> Percentiles:
    return Percentiles(field, bucket, per_ms, store.settings.percentiles == "native", name, percents)


def operation_latency(store: ElasticsearchStore, window: Window) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    duration = _pct(store, f("duration"), "inquest.duration_bucket", store._per_ms, "d", (50, 99))
    own = _pct(store, "inquest.self_ms", "inquest.self_bucket", 1.0, "s", (50, 99))
    keys = [Key("service", f("service")), Key("operation", f("name")), Key("kind", f("kind"))]
    fields = ("service", "name", "kind", "inquest.self_ms", "inquest.self_bucket", *store._durations())
    text, groups = store._grouped("operation_latency", "spans", window, keys, {**duration.aggs(), **own.aggs()}, fields)
    positive_text, positive = store._grouped("operation_latency", "spans", window, keys,
                                             {"low": {"min": {"field": f("duration")}}}, fields,
                                             {"range": {f("duration"): {"gt": 0}}})
    shortest = {key: b["low"]["value"] for key, b in positive}
    rows = []
    for (svc, op, kind), b in groups:
        d, s = duration.sketch(b), own.sketch(b)
        low = shortest.get((svc, op, kind))
        rows.append((svc, op, store._kind(kind), b["doc_count"], d.quantile(0.5), d.quantile(0.99), s.quantile(0.5),
                     s.quantile(0.99), None if low is None else rounded(low / store._per_ms, 3)))
    rows.sort(key=lambda r: r[:3])
    return Table("operation_latency", f"{text}\n{positive_text}",
                 ("service", "operation", "kind", "requests", "p50_ms", "p99_ms", "self_p50_ms", "self_p99_ms",
                  "min_ms"), tuple(rows))


def edge_latency(store: ElasticsearchStore, window: Window) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    caller = _pct(store, "inquest.parent.duration_ms", "inquest.parent.duration_bucket", 1.0, "c", (50,))
    callee = _pct(store, f("duration"), "inquest.duration_bucket", store._per_ms, "d", (50, 90))
    own = _pct(store, "inquest.self_ms", "inquest.self_bucket", 1.0, "s", (50, 90))
    gap = _pct(store, "inquest.gap_ms", "inquest.gap_bucket", 1.0, "g", (50, 90))
    keys = [Key("caller", "inquest.parent.service"), Key("callee", f("service")), Key("client", "inquest.parent.client")]
    text, groups = store._grouped(
        "edge_latency", "spans", window, keys, {**caller.aggs(), **callee.aggs(), **own.aggs(), **gap.aggs()},
        ("service", "inquest.parent.service", "inquest.parent.client", "inquest.parent.start",
         "inquest.parent.duration_ms", "inquest.self_ms", "inquest.gap_ms", *store._durations()),
        within("inquest.parent.start", window.start, window.end))
    rows = []
    for (src, dst, client), b in groups:
        if src == dst:
            continue
        c, d, s, g = caller.sketch(b), callee.sketch(b), own.sketch(b), gap.sketch(b)
        rows.append((src, dst, bool(client), b["doc_count"], c.quantile(0.5), d.quantile(0.5), d.quantile(0.9),
                     s.quantile(0.5), s.quantile(0.9), g.quantile(0.5), g.quantile(0.9)))
    rows.sort(key=lambda r: r[:3])
    return Table("edge_latency", text, ("caller", "callee", "client", "calls", "caller_p50_ms", "callee_p50_ms",
                                        "callee_p90_ms", "callee_self_p50_ms", "callee_self_p90_ms", "gap_p50_ms",
                                        "gap_p90_ms"), tuple(rows))


def _operation(store: ElasticsearchStore, limit: OperationLimit, *more: Query) -> Query:
    f = partial(store.f, "spans")  # the field names of one index
    return {"bool": {"filter": [term(f("service"), limit.service), term(f("name"), limit.operation),
                                term(f("kind"), store.settings.span_kinds.get(limit.kind, limit.kind)), *more]}}


def _any(clauses: list[Query]) -> Query:
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def trace_spectrum(store: ElasticsearchStore, window: Window, limits: Sequence[OperationLimit]) -> Table:
    f = partial(store.f, "spans")  # the field names of one index
    columns = ("service", "own_ef", "own_ep", "judged", "slow_self", "over_self_ms", "failing_traces", "traces")
    limits = list(limits)
    slow_root = _any([_operation(store, x, {"range": {f("duration"): {"gt": x.duration_ms * store._per_ms}}})
                      for x in limits]) if limits else {"bool": {"must_not": [{"match_all": {}}]}}
    size = store.settings.max_buckets
    ids_text, ids = store._reader.search("trace_spectrum", "spans", ("timestamp", "trace_id", "parent_span_id"), {
        "size": 0, "query": store._filters("spans", window, missing(f("parent_span_id")), slow_root),
        "aggs": {"ids": {"terms": {"field": f("trace_id"), "size": size + 1}},
                 "all": {"cardinality": {"field": f("trace_id")}}}})
    failing = [b["key"] for b in ids.get("aggregations", {}).get("ids", {}).get("buckets", [])]
    if len(failing) > size:
        raise BackendError(f"trace_spectrum: more than {size} slow traces in the window; narrow the window or raise "
                           "backend.elasticsearch.max_buckets")
    traces_text, every = store._reader.search("trace_spectrum", "spans", ("timestamp", "trace_id"), {
        "size": 0, "query": store._filters("spans", window), "aggs": {"n": {"cardinality": {"field": f("trace_id")}}}})
    traces = int(every.get("aggregations", {}).get("n", {}).get("value") or 0)
    credited = [Key("service", "inquest.credited")]
    fields = ("service", "name", "kind", "trace_id", "inquest.credited", "inquest.self_ms")
    seen_text, seen = store._grouped("trace_spectrum", "spans", window, credited, {}, fields)
    judged_text, judged = store._grouped("trace_spectrum", "spans", window, credited, {}, fields,
                                         _any([_operation(store, x) for x in limits]) if limits else slow_root)
    own_slow = _any([_operation(store, x, {"range": {"inquest.self_ms": {"gt": x.self_ms}}}) for x in limits]) \
        if limits else slow_root
    per_op_text, per_op = store._grouped(
        "trace_spectrum", "spans", window, [*credited, Key("operation_service", f("service")),
                                           Key("operation", f("name")), Key("kind", f("kind"))],
        {"self": {"sum": {"field": "inquest.self_ms"}}}, fields, own_slow)
    distinct = {"traces": {"cardinality": {"field": f("trace_id")}}}
    own_text, own = store._grouped("trace_spectrum", "spans", window, credited, distinct, fields, own_slow)
    in_failing = {"terms": {f("trace_id"): failing}}
    own_ef_text, own_ef = store._grouped("trace_spectrum", "spans", window, credited, distinct, fields, own_slow,
                                         in_failing)
    bound = {(x.service, x.operation, x.kind): x.self_ms for x in limits}
    slow: dict[str, list[float]] = {}
    for (svc, op_svc, op, kind), b in per_op:
        tally = slow.setdefault(svc, [0, 0.0])
        tally[0] += b["doc_count"]
        tally[1] += (b["self"]["value"] or 0.0) - b["doc_count"] * bound.get((op_svc, op, store._kind(kind)), 0.0)
    ef = {svc: int(b["traces"]["value"] or 0) for (svc,), b in own_ef}
    rows = []
    for (svc,), _ in sorted(seen):
        with_own = next((int(b["traces"]["value"] or 0) for (s,), b in own if s == svc), 0)
        count = next((b["doc_count"] for (s,), b in judged if s == svc), 0)
        n_slow, over = slow.get(svc, [0, 0.0])
        rows.append((svc, ef.get(svc, 0), with_own - ef.get(svc, 0), count, int(n_slow), round(over, 1),
                     len(failing), traces))
    text = "\n".join((ids_text, traces_text, seen_text, judged_text, per_op_text, own_text, own_ef_text))
    return Table("trace_spectrum", text, columns, tuple(rows))

