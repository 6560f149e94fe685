"""The log questions from a cluster: templates (derived at ingest), each service's busiest patterns and, through
trace ids, the service where chosen lines start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from inquest.core import Window
from inquest.tools.backends.elasticsearch.aggs import (
    Key,
    exists,
    first_key,
    missing,
    source_value,
)
from inquest.tools.backends.protocol import Table

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore


def log_templates(store: ElasticsearchStore, window: Window, service: str | None = None, min_severity: int = 13,
                  limit: int = 50) -> Table:
    f = partial(store.f, "logs")  # the field names of one index
    leaf = {"severity": {"terms": {"field": f("severity_text"), "size": 1, "order": {"_key": "desc"}}},
            "example": {"terms": {"field": f("body_keyword"), "size": 1, "order": {"_key": "asc"}}}}
    text, groups = store._grouped(
        "log_templates", "logs", window, [Key("service", f("service")), Key("template", "inquest.template")], leaf,
        ("service", "severity_text", "severity_number", "body_keyword", "inquest.template"),
        {"range": {f("severity_number"): {"gte": int(min_severity)}}}, service=service,
        last_size=max(int(limit), 1))
    rows = [(svc, first_key(b, "severity"), template, b["doc_count"], first_key(b, "example"))
            for (svc, template), b in groups]
    rows.sort(key=lambda r: -r[3])
    return Table("log_templates", text, ("service", "severity", "template", "count", "example"),
                 tuple(rows[:int(limit)]))


def log_patterns(store: ElasticsearchStore, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
    """Per service, the `per_service` busiest templates (derived at ingest, the embedded store's
    masking) with their counts: a bounded sample of each service's patterns; the rest is one row.
    Templates are stored, not computed, so every line is counted (`sample_lines` is not needed)."""
    f = partial(store.f, "logs")  # the field names of one index
    severity = {"severity": {"terms": {"field": f("severity_number"), "size": 64}}}
    templates = {"terms": {"field": "inquest.template", "size": max(int(per_service), 1)},
                 "aggs": {**severity, "example": {"terms": {"field": f("body_keyword"), "size": 1,
                                                             "order": {"_key": "asc"}}}}}
    body = {"size": 0, "query": store._filters("logs", window),
            "aggs": {"by_service": {"terms": {"field": f("service"), "size": store.settings.max_buckets},
                                    "aggs": {**severity, "by_template": templates}}}}
    text, response = store._reader.search("log_patterns", "logs", ("timestamp", "service", "severity_number",
                                                                   "body_keyword", "inquest.template"), body)
    def errors(bucket: Mapping[str, Any]) -> int:  # lines at OpenTelemetry severity ERROR (17) or above
        return sum(int(s["doc_count"]) for s in bucket["severity"]["buckets"] if s["key"] >= 17)

    rows = []
    for svc in response.get("aggregations", {}).get("by_service", {}).get("buckets", []):
        kept = svc["by_template"]["buckets"]
        total = svc["doc_count"]
        rows += [(svc["key"], t["key"], t["doc_count"], errors(t), first_key(t, "example"), total) for t in kept]
        rest = total - sum(t["doc_count"] for t in kept)
        if rest > 0:
            rows.append((svc["key"], None, rest, errors(svc) - sum(errors(t) for t in kept), None, total))
    rows.sort(key=lambda r: (r[0], -r[2], r[1] is None, r[1] or ""))
    return Table("log_patterns", text, ("service", "pattern", "lines", "errors", "example", "total"), tuple(rows))


def log_origins(store: ElasticsearchStore, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
    """The first service to log a chosen line in each trace, from the traces' buckets (at most
    max_buckets and max_documents traces, the busiest: a bounded sample when more traces hold such
    lines; that bound, not `sample`, limits the work here)."""
    f = partial(store.f, "logs")  # the field names of one index
    chosen = ({"terms": {"inquest.template": list(patterns)}} if patterns
              else {"range": {f("severity_number"): {"gte": 17}}})
    services = {"terms": {"field": f("service"), "size": store.settings.max_buckets}}
    # The trace's first line by the stored nanosecond time (a `min` aggregation would round it to the
    # millisecond, where a callee and its caller often tie); ties go to the service name, as in SQL.
    first = {"top_hits": {"size": 1, "_source": [f("service")],
                          "sort": [{f("timestamp"): {"order": "asc"}}, {f("service"): {"order": "asc"}}]}}
    body = {"size": 0, "query": store._filters("logs", window, chosen), "aggs": {
        "traced": {"filter": exists(f("trace_id")), "aggs": {"by_trace": {
            "terms": {"field": f("trace_id"), "size": min(store.settings.max_buckets, store.settings.max_documents)},
            "aggs": {"by_service": services, "first": first}}}},
        "untraced": {"filter": missing(f("trace_id")), "aggs": {"by_service": services}}}}
    text, response = store._reader.search("log_origins", "logs", ("timestamp", "service", "trace_id",
                                                                  "severity_number", "inquest.template"), body)
    aggs = response.get("aggregations", {})
    counts: dict[tuple[str, str | None], int] = {}
    traces = aggs.get("traced", {}).get("by_trace", {}).get("buckets", [])
    store._reader.count_documents("log_origins", len(traces))
    for trace_bucket in traces:
        hits = trace_bucket["first"]["hits"]["hits"]
        # An empty trace id is no trace (the embedded store reads it as NULL), not one shared by all.
        origin = source_value(hits[0]["_source"], f("service")) if hits and trace_bucket["key"] else None
        for b in trace_bucket["by_service"]["buckets"]:
            counts[(b["key"], origin)] = counts.get((b["key"], origin), 0) + b["doc_count"]
    for b in aggs.get("untraced", {}).get("by_service", {}).get("buckets", []):
        counts[(b["key"], None)] = counts.get((b["key"], None), 0) + b["doc_count"]
    rows = sorted(((svc, origin, n) for (svc, origin), n in counts.items()),
                  key=lambda r: (r[0], r[1] is None, r[1] or ""))
    return Table("log_origins", text, ("service", "origin", "lines"), tuple(rows))
