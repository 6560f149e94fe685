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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from inquest.config import ElasticsearchBackend
from inquest.core import Change, Incident, Window
from inquest.errors import BackendError
from inquest.quantiles import quantile_of_counts as distribution_quantile  # the engine's one quantile rule
from inquest.tools.backends.coverage import bucket_seconds, covered_seconds
from inquest.tools.backends.elasticsearch import latency as es_latency
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
    iso,
    missing,
    not_within,
    parse_time,
    required_time,
    rounded,
    source_value,
    term,
    value,
    within,
)
from inquest.tools.backends.elasticsearch.connection import TransferMeter, open_client
from inquest.tools.backends.elasticsearch.percentiles import distribution_mad
from inquest.tools.backends.elasticsearch.search import ClusterReader
from inquest.tools.backends.protocol import Changes, OperationLimit, Table

# DuckDB's time_bucket counts buckets from 2000-01-03 00:00 UTC; date_histogram from the epoch.
_TIME_BUCKET_ORIGIN_S = 946857600
_ROLLOUTS = ("deploy", "rollback")


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

    # -- incidents and changes -------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        f = partial(self.f, "incidents")  # the field names of one index
        # A listing: the newest max_documents incidents, shortened without complaint.
        _, docs = self._reader.documents("incidents", "incidents", ("id", "started_at"), {"match_all": {}},
                                         [{f("started_at"): "desc"}, {f("id"): "asc"}],
                                         limit=self.settings.max_documents)
        out = []
        for doc in docs:
            v = {n: source_value(doc, f(n)) for n in ("id", "title", "service", "started_at", "window_start",
                                                      "window_end", "symptoms", "ticket", "baseline_start",
                                                      "baseline_end")}
            symptoms = v["symptoms"] or ()
            out.append(Incident(id=v["id"], title=v["title"] or "", service=v["service"],
                                started_at=required_time(v["started_at"], f"incident {v['id']}'s started_at"),
                                window=Window(required_time(v["window_start"], f"incident {v['id']}'s window_start"),
                                              required_time(v["window_end"], f"incident {v['id']}'s window_end")),
                                symptoms=tuple([symptoms] if isinstance(symptoms, str) else symptoms),
                                ticket=v["ticket"], baseline=_pinned(v["baseline_start"], v["baseline_end"])))
        return out

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        f = partial(self.f, "changes")  # the field names of one index
        only = [{"terms": {f("service"): list(services)}}] if services else []
        text, docs = self._reader.documents("changes", "changes", ("id", "timestamp", "service"),
                                            self._filters("changes", window, *only),
                                            [{f("timestamp"): "asc"}, {f("id"): "asc"}])
        items = [self._change(doc) for doc in docs]
        # What a rollback returns to: the version of the service's rollout before, however old.
        previous: dict[str, str | None] = {}
        resolved = []
        for change in items:
            if change.kind in _ROLLOUTS:
                if change.service not in previous:
                    previous[change.service], query = self._rollout_before(change)
                    text += f"\n{query}"
                change = replace(change, previous_version=previous[change.service])
                previous[change.service] = change.version
            resolved.append(change)
        return Changes(query=text, items=tuple(resolved))

    def _rollout_before(self, change: Change) -> tuple[str | None, str]:
        f = partial(self.f, "changes")  # the field names of one index
        at = iso(change.at)
        same_time_before = {"bool": {"filter": [term(f("timestamp"), at), {"range": {f("id"): {"lt": change.id}}}]}}
        earlier = {"bool": {"should": [{"range": {f("timestamp"): {"lt": at}}}, same_time_before],
                            "minimum_should_match": 1}}
        query = {"bool": {"filter": [term(f("service"), change.service), {"terms": {f("kind"): list(_ROLLOUTS)}},
                                     earlier]}}
        text, docs = self._reader.documents("changes", "changes", ("id", "timestamp", "service", "kind"), query,
                                            [{f("timestamp"): "desc"}, {f("id"): "desc"}], limit=1)
        return (source_value(docs[0], f("version")) if docs else None), text

    def _change(self, doc: Mapping[str, Any]) -> Change:
        v = {n: source_value(doc, self.f("changes", n)) for n in
             ("id", "timestamp", "service", "kind", "description", "version", "commit", "repository", "author")}
        return Change(id=v["id"], at=required_time(v["timestamp"], f"change {v['id']}'s timestamp"), service=v["service"], kind=v["kind"],
                      description=v["description"] or "", version=v["version"], commit=v["commit"],
                      repository=v["repository"], author=v["author"])

    def previous_version(self, service: str, before: Change) -> str | None:
        f = partial(self.f, "changes")  # the field names of one index
        query = {"bool": {"filter": [term(f("service"), service), {"terms": {f("kind"): list(_ROLLOUTS)}},
                                     exists(f("version")), {"range": {f("timestamp"): {"lt": iso(before.at)}}}]}}
        _, docs = self._reader.documents("previous_version", "changes", ("timestamp", "service", "kind", "version"),
                                         query, [{f("timestamp"): "desc"}], limit=1)
        return source_value(docs[0], f("version")) if docs else None

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

    # -- database ----------------------------------------------------------------------------------

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        f = partial(self.f, "spans")  # the field names of one index
        leaf = {**self._status(), "time": {"sum": {"field": f("duration")}},
                "traces": {"cardinality": {"field": f("trace_id"), "precision_threshold": 40000}},
                # Distinct (trace, parent span) pairs: span ids are random 64-bit values, unique
                # across traces in practice, so the parent span id alone counts them.
                "requests": {"cardinality": {"field": f("parent_span_id"), "precision_threshold": 40000}},
                **self._duration.aggs()}
        text, groups = self._grouped(
            "db_statements", "spans", window, [Key("service", f("service")), Key("statement", f("db_statement"))],
            leaf, ("service", "db_statement", "trace_id", "parent_span_id", "status_code", *self._durations()),
            exists(f("db_statement")), service=service, order={"time": "desc"}, last_size=100)
        rows = []
        for (svc, statement), b in groups:
            calls, time = b["doc_count"], value(b, "time") or 0.0
            traces, requests = value(b, "traces") or 0, value(b, "requests") or 0
            rows.append((time, (svc, statement, calls, traces, rounded(calls / traces, 2) if traces else None,
                                rounded(calls / requests, 2) if requests else None,
                                rounded(time / calls / self._per_ms, 2), self._duration.sketch(b).quantile(0.95),
                                self._failed(b))))
        rows.sort(key=lambda r: -r[0])
        return Table("db_statements", text, ("service", "statement", "calls", "traces", "calls_per_trace",
                                             "calls_per_request", "mean_ms", "p95_ms", "errors"),
                     tuple(r for _, r in rows[:100]))

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        f = partial(self.f, "db_query_stats")  # the field names of one index
        sums = {name: {"sum": {"field": f(name)}} for name in ("calls", "total_time_ms", "rows", "lock_wait_ms")}
        text, groups = self._grouped(
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

    # -- metrics and logs --------------------------------------------------------------------------

    def _metric_groups(self, question: str, window: Window, names: Sequence[str], leaf: Query,
                       service: str | None = None) -> tuple[str, list[Group]]:
        f = partial(self.f, "metrics")  # the field names of one index
        keys = [Key("service", f("service")), Key("host", f("host"), nullable=True), Key("name", f("name"))]
        text, groups = self._grouped(question, "metrics", window, keys, leaf, ("service", "host", "name", "value"),
                                     {"terms": {f("name"): list(names)}}, exists(f("value")), service=service)
        self._reader.count_documents(question, sum(len(b[k]["hits"]["hits"]) for _, b in groups
                                                   for k in ("first", "last") if k in b))
        groups.sort(key=lambda g: (g[0][0], g[0][1] is None, g[0][1] or "", g[0][2]))
        return text, groups

    def _point(self, which: str) -> Query:
        f = partial(self.f, "metrics")  # the field names of one index
        order = "asc" if which == "first" else "desc"
        return {which: {"top_hits": {"size": 1, "sort": [{f("timestamp"): order}], "_source": [f("value")]}}}

    def _point_value(self, bucket: Mapping[str, Any], which: str) -> Any:
        hits = bucket[which]["hits"]["hits"]
        return source_value(hits[0]["_source"], self.f("metrics", "value")) if hits else None

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        v = self.f("metrics", "value")
        leaf = {"mean": {"avg": {"field": v}}, "max": {"max": {"field": v}}, **self._point("last")}
        text, groups = self._metric_groups("metric_summary", window, names, leaf, service)
        rows = tuple((svc, host, name, rounded(value(b, "mean"), 3), rounded(value(b, "max"), 3),
                      rounded(self._point_value(b, "last"), 3), b["doc_count"]) for (svc, host, name), b in groups)
        return Table("metric_summary", text, ("service", "host", "name", "mean", "max", "last", "points"), rows)

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        v = self.f("metrics", "value")
        # Every distinct value with its count: a window holds few points per series, so the median
        # and the MAD come out exact without sending a single point.
        leaf = {"values": {"terms": {"field": v, "size": self.settings.max_buckets}}, "max": {"max": {"field": v}},
                **self._point("first"), **self._point("last")}
        text, groups = self._metric_groups("metric_stats", window, names, leaf)
        rows = []
        for (svc, host, name), b in groups:
            if b["values"].get("sum_other_doc_count"):
                raise BackendError(f"metric_stats: {svc}/{host}/{name} has more than {self.settings.max_buckets} "
                                   "distinct values in the window; raise backend.elasticsearch.max_buckets")
            counts = {float(x["key"]): x["doc_count"] for x in b["values"]["buckets"]}
            rows.append((svc, host, name, b["doc_count"], rounded(distribution_quantile(counts, 0.5), 4),
                         rounded(distribution_mad(counts), 4), rounded(distribution_quantile(counts, 0.9), 4),
                         rounded(value(b, "max"), 4), rounded(self._point_value(b, "first"), 4),
                         rounded(self._point_value(b, "last"), 4)))
        return Table("metric_stats", text, ("service", "host", "name", "points", "median", "mad", "p90", "max",
                                            "first", "last"), tuple(rows))

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        # Per series, a date histogram of mean, sum and max. A running total is differenced over buckets
        # here (its max per bucket against the previous bucket's; a drop is a reset): a coarser reading than
        # the embedded store's per-stream differencing. Versions and histogram buckets (`le`) are not
        # mapped in the cluster's field map yet, so they come back empty.
        seconds = int(bucket_seconds)
        v = self.f("metrics", "value")
        leaf = {"t": {"date_histogram": {"field": self.f("metrics", "timestamp"), "fixed_interval": f"{seconds}s",
                                         "offset": f"+{_TIME_BUCKET_ORIGIN_S % seconds}s", "min_doc_count": 1},
                      "aggs": {"mean": {"avg": {"field": v}}, "total": {"sum": {"field": v}},
                               "max": {"max": {"field": v}}}},
                "unit": {"terms": {"field": self.f("metrics", "unit"), "size": 1}}}
        # Read from ten buckets before the window, as the embedded store does, so a running total's first
        # bucket in the window has a previous reading to be differenced against.
        lead_in = Window(window.start - timedelta(seconds=10 * seconds), window.end)
        text, groups = self._metric_groups("metric_series", lead_in, names, leaf)
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

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        f = partial(self.f, "logs")  # the field names of one index
        leaf = {"severity": {"terms": {"field": f("severity_text"), "size": 1, "order": {"_key": "desc"}}},
                "example": {"terms": {"field": f("body_keyword"), "size": 1, "order": {"_key": "asc"}}}}
        text, groups = self._grouped(
            "log_templates", "logs", window, [Key("service", f("service")), Key("template", "inquest.template")], leaf,
            ("service", "severity_text", "severity_number", "body_keyword", "inquest.template"),
            {"range": {f("severity_number"): {"gte": int(min_severity)}}}, service=service,
            last_size=max(int(limit), 1))
        rows = [(svc, first_key(b, "severity"), template, b["doc_count"], first_key(b, "example"))
                for (svc, template), b in groups]
        rows.sort(key=lambda r: -r[3])
        return Table("log_templates", text, ("service", "severity", "template", "count", "example"),
                     tuple(rows[:int(limit)]))

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        """Per service, the `per_service` busiest templates (derived at ingest, the embedded store's
        masking) with their counts: a bounded sample of each service's patterns; the rest is one row.
        Templates are stored, not computed, so every line is counted (`sample_lines` is not needed)."""
        f = partial(self.f, "logs")  # the field names of one index
        severity = {"severity": {"terms": {"field": f("severity_number"), "size": 64}}}
        templates = {"terms": {"field": "inquest.template", "size": max(int(per_service), 1)},
                     "aggs": {**severity, "example": {"terms": {"field": f("body_keyword"), "size": 1,
                                                                 "order": {"_key": "asc"}}}}}
        body = {"size": 0, "query": self._filters("logs", window),
                "aggs": {"by_service": {"terms": {"field": f("service"), "size": self.settings.max_buckets},
                                        "aggs": {**severity, "by_template": templates}}}}
        text, response = self._reader.search("log_patterns", "logs", ("timestamp", "service", "severity_number",
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

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        """The first service to log a chosen line in each trace, from the traces' buckets (at most
        max_buckets and max_documents traces, the busiest: a bounded sample when more traces hold such
        lines; that bound, not `sample`, limits the work here)."""
        f = partial(self.f, "logs")  # the field names of one index
        chosen = ({"terms": {"inquest.template": list(patterns)}} if patterns
                  else {"range": {f("severity_number"): {"gte": 17}}})
        services = {"terms": {"field": f("service"), "size": self.settings.max_buckets}}
        # The trace's first line by the stored nanosecond time (a `min` aggregation would round it to the
        # millisecond, where a callee and its caller often tie); ties go to the service name, as in SQL.
        first = {"top_hits": {"size": 1, "_source": [f("service")],
                              "sort": [{f("timestamp"): {"order": "asc"}}, {f("service"): {"order": "asc"}}]}}
        body = {"size": 0, "query": self._filters("logs", window, chosen), "aggs": {
            "traced": {"filter": exists(f("trace_id")), "aggs": {"by_trace": {
                "terms": {"field": f("trace_id"), "size": min(self.settings.max_buckets, self.settings.max_documents)},
                "aggs": {"by_service": services, "first": first}}}},
            "untraced": {"filter": missing(f("trace_id")), "aggs": {"by_service": services}}}}
        text, response = self._reader.search("log_origins", "logs", ("timestamp", "service", "trace_id",
                                                                      "severity_number", "inquest.template"), body)
        aggs = response.get("aggregations", {})
        counts: dict[tuple[str, str | None], int] = {}
        traces = aggs.get("traced", {}).get("by_trace", {}).get("buckets", [])
        self._reader.count_documents("log_origins", len(traces))
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

    # -- the customer's view: root spans of the entry service --------------------------------------

    def span_minutes(self, window: Window) -> Table:
        length = (window.end - window.start).total_seconds()
        step = bucket_seconds(length)
        # Offsets from the window's start, like the embedded store's, so both bucket alike.
        offset = f"+{int(window.start.timestamp()) % step}s" if step > 1 else "+0s"
        histogram = {"field": self.f("spans", "timestamp"), "min_doc_count": 1}
        body = {"size": 0, "query": self._filters("spans", window),
                "aggs": {"minutes": {"date_histogram": {**histogram, "fixed_interval": "1m"}},
                         "occupied": {"date_histogram": {**histogram, "fixed_interval": f"{step}s", "offset": offset}}}}
        text, response = self._reader.search("span_minutes", "spans", ("timestamp",), body)
        aggs = response.get("aggregations", {})
        minutes = sum(1 for b in aggs.get("minutes", {}).get("buckets", []) if b["doc_count"])
        starts = [max(required_time(b["key"], "a span_minutes bucket's key"), window.start) for b in aggs.get("occupied", {}).get("buckets", [])
                  if b["doc_count"]]
        covered = covered_seconds([(s - window.start).total_seconds() for s in starts], length, step) / 60
        return Table("span_minutes", text, ("minutes", "covered_minutes"), ((minutes, round(covered, 3)),))

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        f = partial(self.f, "spans")  # the field names of one index
        kinds = [self.settings.span_kinds[k] for k in ("SERVER", "CONSUMER")]
        keys = [Key("service", f("service")), Key("version", f("version"), nullable=True)]
        text, groups = self._grouped("version_stats", "spans", window, keys, {**self._status(), **self._duration.aggs()},
                                     ("service", "version", "kind", "status_code", *self._durations()),
                                     {"terms": {f("kind"): kinds}}, {"terms": {f("service"): list(services)}})
        rows = tuple((svc, version, b["doc_count"], self._failed(b), rounded(self._duration.sketch(b).quantile(0.95), 2))
                     for (svc, version), b in sorted(groups, key=lambda g: (g[0][0], g[0][1] or "")))
        return Table("version_stats", text, ("service", "version", "requests", "errors", "p95_ms"), rows)

    def entry_services(self, window: Window) -> Table:
        text, groups = self._grouped("entry_services", "spans", window, [Key("service", self.f("spans", "service"))],
                                     {}, ("service", "parent_span_id"), missing(self.f("spans", "parent_span_id")))
        rows = sorted(((svc, b["doc_count"]) for (svc,), b in groups), key=lambda r: -r[1])
        return Table("entry_services", text, ("service", "requests"), tuple(rows))

    def _timeline(self, question: str, window: Window, service: str, bucket_seconds: int, failed: str,
                  narrower: Query) -> Table:
        seconds = int(bucket_seconds)
        histogram = {"date_histogram": {"field": self.f("spans", "timestamp"), "fixed_interval": f"{seconds}s",
                                        "offset": f"+{_TIME_BUCKET_ORIGIN_S % seconds}s", "min_doc_count": 1},
                     "aggs": {**self._status(), **self._duration.aggs()}}
        body = {"size": 0, "query": self._filters("spans", window, narrower, service=service), "aggs": {"t": histogram}}
        text, response = self._reader.search(question, "spans", ("timestamp", "service", "kind", "parent_span_id",
                                                                  "status_code", *self._durations()), body)
        rows = tuple((parse_time(b["key"]), b["doc_count"], self._failed(b), self._duration.sketch(b).quantile(0.95))
                     for b in response.get("aggregations", {}).get("t", {}).get("buckets", []) if b["doc_count"])
        return Table(question, text, ("bucket", "requests", failed, "p95_ms"), rows)

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._timeline("service_timeline", window, service, bucket_seconds, "errors",
                              term(self.f("spans", "kind"), self.settings.span_kinds["SERVER"]))

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._timeline("entry_timeline", window, service, bucket_seconds, "failed",
                              missing(self.f("spans", "parent_span_id")))

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        f = partial(self.f, "spans")  # the field names of one index
        distinct = {"users": {"cardinality": {"field": f("user"), "precision_threshold": 40000}},
                    "tenants": {"cardinality": {"field": f("tenant"), "precision_threshold": 40000}}}
        body = {"size": 0, "track_total_hits": True,
                "query": self._filters("spans", window, missing(f("parent_span_id")), service=service),
                "aggs": {"failed": {"filter": term(f("status_code"), self._error), "aggs": distinct},
                         "slow": {"filter": {"range": {f("duration"): {"gt": float(slow_ms) * self._per_ms}}}},
                         **distinct}}
        text, r = self._reader.search("entry_summary", "spans", ("timestamp", "service", "parent_span_id",
                                                                 "status_code", "duration", "user", "tenant"), body)
        a = r.get("aggregations", {})
        row = (r["hits"]["total"]["value"], a["failed"]["doc_count"], a["slow"]["doc_count"], a["users"]["value"],
               a["tenants"]["value"], a["failed"]["users"]["value"], a["failed"]["tenants"]["value"])
        return Table("entry_summary", text, ("requests", "failed", "slow", "users", "tenants", "failed_users",
                                             "failed_tenants"), (row,))

    def entry_endpoints(self, window: Window, service: str) -> Table:
        f = partial(self.f, "spans")  # the field names of one index
        keys = [Key("method", f("http_method"), nullable=True), Key("route", f("http_route"), nullable=True),
                Key("name", f("name"))]
        text, groups = self._grouped(
            "entry_endpoints", "spans", window, keys, {**self._status(), **self._duration.aggs()},
            ("service", "parent_span_id", "http_method", "http_route", "name", "status_code", *self._durations()),
            missing(f("parent_span_id")), service=service)
        # SQL's coalesce(method || ' ' || route, name): groups naming the same endpoint are merged.
        merged: dict[str, list[Any]] = {}
        for (method, route, name), b in sorted(groups, key=lambda g: -g[1]["doc_count"]):
            endpoint = f"{method} {route}" if method is not None and route is not None else name
            total = merged.setdefault(endpoint, [0, 0, None])
            sketch = self._duration.sketch(b)
            total[0], total[1] = total[0] + b["doc_count"], total[1] + self._failed(b)
            total[2] = sketch if total[2] is None else total[2] + sketch  # the biggest group first
        rows = sorted(((e, n, failed, s.quantile(0.95)) for e, (n, failed, s) in merged.items()),
                      key=lambda r: (-r[2], -r[1]))
        return Table("entry_endpoints", text, ("endpoint", "requests", "failed", "p95_ms"), tuple(rows[:20]))


def _pinned(start: Any, end: Any) -> Window | None:
    """An incident's own baseline, when its document carries one (older documents do not)."""
    begins, ends = parse_time(start), parse_time(end)
    return Window(begins, ends) if begins and ends else None
