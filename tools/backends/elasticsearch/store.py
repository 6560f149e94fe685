"""The Elasticsearch (or OpenSearch) telemetry backend: the protocol's questions as searches.

Each question is one or two searches whose aggregations group, count and summarise inside the
cluster; what comes back is buckets, not documents. Only changes, incidents, the first/last value
of a metric and the first chosen log line of a trace (log_origins) come back as documents, never more
than `max_documents` per question. The evidence keeps each request as `POST <index>/_search <body>`,
ready to paste into Kibana's console.

Questions the embedded store answers with joins (where errors originate, who calls whom, exclusive
time) rely on `inquest.*` fields derived at ingest (ingest/es_loader.py; docs/elasticsearch.md).
Percentiles come from log-scale bucket counts (tools/backends/elasticsearch/percentiles.py) or, configured so, from the
cluster's own `percentiles` aggregation. Names of fields and indices come from backend.elasticsearch.

This class holds what every question shares (the client, field names, grouped searches) and the span
questions; the others live one room per kind of data beside it (changes, database, metrics, logs,
entry, latency), as functions of the store it delegates to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from inquest.config import ElasticsearchBackend
from inquest.core import Change, Incident, Window
from inquest.tools.backends.elasticsearch import changes as es_changes
from inquest.tools.backends.elasticsearch import database as es_database
from inquest.tools.backends.elasticsearch import entry as es_entry
from inquest.tools.backends.elasticsearch import latency as es_latency
from inquest.tools.backends.elasticsearch import logs as es_logs
from inquest.tools.backends.elasticsearch import metrics as es_metrics
from inquest.tools.backends.elasticsearch.aggs import (
    Group,
    Key,
    Percentiles,
    Query,
    count_of,
    exists,
    first_key,
    group_aggs,
    group_rows,
    missing,
    not_within,
    parse_time,
    rounded,
    source_value,
    term,
    value,
    within,
)
from inquest.tools.backends.elasticsearch.connection import TransferMeter, open_client
from inquest.tools.backends.elasticsearch.search import ClusterReader
from inquest.tools.backends.protocol import Changes, OperationLimit, Table


class ElasticsearchStore:
    name = "elasticsearch"

    def __init__(self, settings: ElasticsearchBackend, base_dir: Path | None = None,
                 client: Elasticsearch | None = None, meter: TransferMeter | None = None) -> None:
        """`client` and `meter`: an existing client and the meter its open_client was given, if any."""
        self.settings = settings
        self.meter = meter or TransferMeter()
        self._client = client or open_client(settings, base_dir or Path.cwd(), self.meter)
        self._reader = ClusterReader(settings, self._client, self.meter)
        self._error = settings.status_codes["ERROR"]
        self._kind_names = {stored: name for name, stored in settings.span_kinds.items()}
        self._per_ms = {"ns": 1e6, "us": 1e3, "ms": 1.0}[settings.duration_unit]
        native = settings.percentiles == "native"
        self._duration = Percentiles(self.f("spans", "duration"), "inquest.duration_bucket", self._per_ms, native)
        self._parent_duration = Percentiles("inquest.parent.duration_ms", "inquest.parent.duration_bucket", 1.0,
                                            native)

    def close(self) -> None:
        self._client.close()

    def f(self, kind: str, name: str) -> str:
        return self._reader.field(kind, name)

    def _filters(self, kind: str, window: Window, *more: Query, service: str | None = None) -> Query:
        clauses = [within(self.f(kind, "timestamp"), window.start, window.end), *more]
        if service is not None:
            clauses.append(term(self.f(kind, "service"), service))
        return {"bool": {"filter": clauses}}

    def _grouped(self, question: str, kind: str, window: Window, keys: Sequence[Key], leaf: Query, fields: Sequence[str],
                 *more: Query, service: str | None = None, order: Query | None = None,
                 last_size: int | None = None) -> tuple[str, list[Group]]:
        body = {"size": 0, "query": self._filters(kind, window, *more, service=service),
                "aggs": group_aggs(keys, leaf, self.settings.max_buckets, order, last_size)}
        text, response = self._reader.search(question, kind, ("timestamp", *fields), body)
        return text, list(group_rows(response.get("aggregations", {}), keys))

    def _kind(self, stored: Any) -> Any:
        return self._kind_names.get(stored, stored.upper() if isinstance(stored, str) else stored)

    def _status(self) -> dict[str, Any]:
        # A `terms` on the status rather than a `filter`: a `filter` under each `terms` bucket makes some
        # servers (noida-db) pass over the whole index once per bucket.
        return {"status": {"terms": {"field": self.f("spans", "status_code"), "size": 10}}}

    def _failed(self, bucket: Mapping[str, Any]) -> int:
        return count_of(bucket, "status", self._error)

    def _durations(self) -> tuple[str, ...]:
        return ("duration",) if self._duration.native else ("duration", "inquest.duration_bucket")

    # -- spans -------------------------------------------------------------------------------------

    def _operation_keys(self) -> list[Key]:
        f = partial(self.f, "spans")  # the field names of one index
        return [Key("service", f("service")), Key("operation", f("name")), Key("kind", f("kind")),
                Key("peer", f("peer_service"), nullable=True), Key("is_db", f("db_system"), exists=True)]

    def services(self, window: Window) -> Table:
        counts: dict[str, list[int]] = {}
        requests = []
        for column, kind in ((0, "spans"), (1, "logs")):
            text, groups = self._grouped("services", kind, window, [Key("service", self.f(kind, "service"))], {},
                                         ("service",))
            requests.append(text)
            for (service,), bucket in groups:
                counts.setdefault(service, [0, 0])[column] = bucket["doc_count"]
        rows = tuple((s, c[0], c[1]) for s, c in sorted(counts.items()))
        return Table("services", "\n".join(requests), ("service", "spans", "logs"), rows)

    def time_range(self) -> Table:
        requests, rows = [], []
        for kind in ("spans", "logs", "metrics"):
            stamp = self.f(kind, "timestamp")
            # The first and last document by time (top_hits, one each), not min/max: some servers speaking
            # the API (noida-db) answer null for min/max of a date, and a top hit keeps nanoseconds.
            edge = {name: {"top_hits": {"size": 1, "sort": [{stamp: order}], "_source": [stamp]}}
                    for name, order in (("first", "asc"), ("last", "desc"))}
            body = {"size": 0, "track_total_hits": True, "query": {"match_all": {}}, "aggs": edge}
            text, response = self._reader.search("time_range", kind, ("timestamp",), body)
            self._reader.count_documents("time_range", 2)
            requests.append(text)
            aggs, total = response.get("aggregations", {}), response["hits"].get("total", {})
            first, last = (next((parse_time(source_value(hit.get("_source", {}), stamp))
                                 for hit in aggs.get(name, {}).get("hits", {}).get("hits", [])), None)
                           for name in ("first", "last"))
            rows.append((kind, int(total.get("value", 0)) if isinstance(total, dict) else int(total), first, last))
        return Table("time_range", "\n".join(requests), ("kind", "records", "first", "last"), tuple(rows))

    def span_stats(self, window: Window, service: str | None = None) -> Table:
        leaf = {**self._status(), "self_sum": {"sum": {"field": "inquest.self_ms"}}, **self._duration.aggs()}
        text, groups = self._grouped("span_stats", "spans", window, self._operation_keys(), leaf,
                                     ("service", "name", "kind", "peer_service", "db_system", "status_code",
                                      "inquest.self_ms", *self._durations()), service=service)
        rows = []
        for (svc, op, kind, peer, is_db), b in groups:
            sketch, total = self._duration.sketch(b), value(b, "self_sum") or 0.0
            rows.append((svc, op, self._kind(kind), peer, is_db, b["doc_count"], self._failed(b), sketch.quantile(0.5),
                         sketch.quantile(0.95), rounded(total / b["doc_count"], 2), rounded(total, 1)))
        rows.sort(key=lambda r: -(r[10] or 0))
        return Table("span_stats", text, ("service", "operation", "kind", "peer", "is_db", "requests", "errors",
                                          "p50_ms", "p95_ms", "mean_self_ms", "total_self_ms"), tuple(rows))

    def error_origins(self, window: Window) -> Table:
        leaf = {"message": {"terms": {"field": self.f("spans", "status_message"), "size": 1}}}
        text, groups = self._grouped(
            "error_origins", "spans", window, self._operation_keys(), leaf,
            ("service", "name", "kind", "peer_service", "db_system", "status_code", "status_message",
             "inquest.children.first_failed_start"),
            term(self.f("spans", "status_code"), self._error),
            not_within("inquest.children.first_failed_start", window.start, window.end))
        rows = [(svc, op, self._kind(kind), peer, is_db, b["doc_count"], first_key(b, "message"))
                for (svc, op, kind, peer, is_db), b in groups]
        rows.sort(key=lambda r: -r[5])
        return Table("error_origins", text, ("service", "operation", "kind", "peer", "is_db", "origins", "message"),
                     tuple(rows[:50]))

    def call_graph(self, window: Window) -> Table:
        f = partial(self.f, "spans")  # the field names of one index
        parent_bucket = () if self._duration.native else ("inquest.parent.duration_bucket",)
        across_text, across = self._grouped(
            "call_graph", "spans", window, [Key("caller", "inquest.parent.service"), Key("callee", f("service"))],
            {**self._status(), **self._parent_duration.aggs()},
            ("service", "status_code", "inquest.parent.service", "inquest.parent.start", "inquest.parent.duration_ms",
             *parent_bucket), within("inquest.parent.start", window.start, window.end))
        # Client spans with no child in the window: calls to a dependency that reports no spans itself.
        peers_text, peers = self._grouped(
            "call_graph", "spans", window, [Key("caller", f("service")), Key("callee", f("peer_service"))],
            {**self._status(), **self._duration.aggs()},
            ("service", "kind", "peer_service", "db_system", "status_code", "inquest.children.first_start",
             *self._durations()),
            term(f("kind"), self.settings.span_kinds["CLIENT"]), exists(f("peer_service")), missing(f("db_system")),
            not_within("inquest.children.first_start", window.start, window.end))
        rows = [(caller, callee, b["doc_count"], self._failed(b), self._parent_duration.sketch(b).quantile(0.95))
                for (caller, callee), b in across if caller != callee]
        rows += [(caller, callee, b["doc_count"], self._failed(b), self._duration.sketch(b).quantile(0.95))
                 for (caller, callee), b in peers]
        rows.sort(key=lambda r: -r[2])
        return Table("call_graph", f"{across_text}\n{peers_text}", ("caller", "callee", "calls", "errors", "p95_ms"),
                     tuple(rows))

    def dependencies(self) -> Table:
        """No index holds declared dependencies in a cluster (yet): the observed graph is call_graph's."""
        return Table("dependencies", "-- no declared dependencies in the cluster", ("caller", "callee", "source"), ())

    def operation_latency(self, window: Window) -> Table:
        return es_latency.operation_latency(self, window)

    def trace_spectrum(self, window: Window, limits: Sequence[OperationLimit]) -> Table:
        return es_latency.trace_spectrum(self, window, limits)

    def edge_latency(self, window: Window) -> Table:
        return es_latency.edge_latency(self, window)

    # -- incidents and changes (changes.py) ----------------------------------------------------

    def incidents(self) -> list[Incident]:
        return es_changes.incidents(self)

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        return es_changes.changes(self, window, services)

    def previous_version(self, service: str, before: Change) -> str | None:
        return es_changes.previous_version(self, service, before)

    # -- database (database.py) -------------------------------------------------------------------

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        return es_database.db_statements(self, window, service)

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        return es_database.db_query_stats(self, window, service)

    # -- metrics (metrics.py) ---------------------------------------------------------------------

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        return es_metrics.metric_summary(self, window, names, service)

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        return es_metrics.metric_stats(self, window, names)

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        return es_metrics.metric_series(self, window, names, cumulative, bucket_seconds)

    # -- logs (logs.py) ---------------------------------------------------------------------------

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        return es_logs.log_templates(self, window, service, min_severity, limit)

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        return es_logs.log_patterns(self, window, per_service, sample_lines)

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        return es_logs.log_origins(self, window, patterns, sample)

    # -- the customer's view: root spans of the entry service (entry.py) ---------------------------

    def span_minutes(self, window: Window) -> Table:
        return es_entry.span_minutes(self, window)

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        return es_entry.version_stats(self, window, services)

    def entry_services(self, window: Window) -> Table:
        return es_entry.entry_services(self, window)

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return es_entry.service_timeline(self, window, service, bucket_seconds)

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return es_entry.entry_timeline(self, window, service, bucket_seconds)

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        return es_entry.entry_summary(self, window, service, slow_ms)

    def entry_endpoints(self, window: Window, service: str) -> Table:
        return es_entry.entry_endpoints(self, window, service)
