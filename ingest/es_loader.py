"""Copies an embedded store into an Elasticsearch/OpenSearch cluster, with the fields a cluster cannot join.

Used by `investigate ingest --to elasticsearch` (OTLP files go through a temporary embedded store first,
so both backends hold exactly the same rows), by the contract tests and by the benchmark. The index
templates shipped in tools/backends/elasticsearch/templates/ are installed first, renamed to the configured fields and
write indices. Documents are built by DuckDB as JSON lines, streamed in bulk requests of
BULK_DOCUMENTS, two requests in flight at a time. Each document's _id is its record's natural key, so
loading the same records twice stores them once.

Derived per span (Elastic APM stores similar ones, such as `parent.id` and `span.self_time`), because
a search cannot join a span with its parent or children:
  inquest.self_ms                  exclusive time (duration minus the union of its children's intervals)
  inquest.duration_bucket          log-scale bucket of the duration, for percentiles (es_percentiles.py)
  inquest.parent.service/.start/.duration_ms/.duration_bucket   the parent span's, for the call graph
  inquest.children.first_start     when the first child started: "no child in the window" in one range
  inquest.children.first_failed_start   the same for failed children: where errors originate
and per log record `inquest.template`: the body with ids, numbers and quoted values masked.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from elasticsearch import Elasticsearch

from inquest.config import ES_FIELDS, AlertsConfig, ElasticsearchBackend
from inquest.errors import BackendError
from inquest.ingest.alerts import DEFAULT_ALERTS
from inquest.ingest.driver import IngestResult, ingest
from inquest.tools.backends.elasticsearch.connection import describe_failure, hosts_of, open_client
from inquest.tools.backends.elasticsearch.percentiles import BUCKET_SQL
from inquest.tools.backends.embedded_logs import BODY_SQL, TEMPLATE_SQL, register_redaction
from inquest.tools.backends.embedded_schema import quote

KINDS = ("spans", "logs", "metrics", "changes", "db_query_stats", "incidents")
STREAMS = ("spans", "logs", "metrics")  # time series: data streams when the cluster has them
BULK_DOCUMENTS = 10000
Progress = Callable[[str, int], None]

# The embedded store's column behind each logical field, per kind.
COLUMNS: dict[str, dict[str, str]] = {
    "spans": {"trace_id": "trace_id", "span_id": "span_id", "parent_span_id": "parent_span_id",
              "service": "service.name", "host": "host.name", "name": "name", "status_message": "status_message",
              "http_method": "http.request.method", "http_route": "http.route",
              "http_status": "http.response.status_code", "peer_service": "peer.service", "db_system": "db.system",
              "db_statement": "db.statement", "user": "enduser.id", "tenant": "tenant.id"},
    "logs": {"trace_id": "trace_id", "span_id": "span_id", "severity_text": "severity_text",
             "severity_number": "severity_number", "service": "service.name", "host": "host.name", "body": "body"},
    "metrics": {"service": "service.name", "host": "host.name", "name": "name", "value": "value", "unit": "unit"},
    "changes": {"id": "id", "service": "service.name", "kind": "kind", "version": "version", "commit": "commit",
                "repository": "repository", "author": "author", "description": "description"},
    "db_query_stats": {"service": "service.name", "db_system": "db.system", "statement": "db.statement",
                       "calls": "calls", "total_time_ms": "total_time_ms", "rows": "rows",
                       "lock_wait_ms": "lock_wait_ms"},
    "incidents": {"id": "id", "title": "title", "service": "service.name", "symptoms": "symptoms", "ticket": "ticket"},
}
TIMES = {"spans": {"timestamp": "start_time"}, "logs": {"timestamp": "timestamp"},
         "metrics": {"timestamp": "timestamp"}, "changes": {"timestamp": "timestamp"},
         "db_query_stats": {"timestamp": "timestamp"},
         "incidents": {"started_at": "started_at", "window_start": "window_start", "window_end": "window_end",
                       "baseline_start": "baseline_start", "baseline_end": "baseline_end"}}


def _time(expression: str) -> str:
    return f"strftime({expression}, '%Y-%m-%dT%H:%M:%S.%fZ')"


def template_for(kind: str, settings: ElasticsearchBackend) -> dict[str, Any]:
    """The shipped template for `kind`, matching the configured write index and field names."""
    templates = resources.files("inquest.tools.backends.elasticsearch").joinpath("templates")
    shipped = json.loads(templates.joinpath(f"{kind}.json").read_text("utf-8"))
    template: dict[str, Any] = copy.deepcopy(shipped)
    template["index_patterns"] = [settings.write_index(kind)]
    if kind not in STREAMS or not settings.data_streams:
        template.pop("data_stream", None)
    renamed = {default: settings.field(kind, name) for name, default in ES_FIELDS[kind].items()}
    properties = template["template"]["mappings"]["properties"]
    template["template"]["mappings"]["properties"] = {renamed.get(k, k): v for k, v in properties.items()}
    if kind == "spans" and settings.duration_unit == "ms":
        template["template"]["mappings"]["properties"][settings.field("spans", "duration")] = {"type": "double"}
    return template


def install_templates(client: Elasticsearch, settings: ElasticsearchBackend) -> None:
    for kind in KINDS:
        name = "inquest-" + settings.write_index(kind).replace("*", "")
        try:
            client.indices.put_index_template(name=name, **template_for(kind, settings))
        except Exception as exc:  # one BackendError naming the host
            raise describe_failure(exc, settings, f"installing the index template {name}") from exc


def document_sql(kind: str, settings: ElasticsearchBackend) -> str:
    """One JSON document per row of `kind`, with the configured names and the derived fields."""
    pairs: list[tuple[str, str]] = []
    prefix = "s." if kind == "spans" else ""
    for name, column in TIMES[kind].items():
        pairs.append((settings.field(kind, name), _time(prefix + quote(column))))
    for name, column in COLUMNS[kind].items():
        expression = prefix + quote(column)
        if name == "symptoms":
            expression = f"CAST({expression} AS JSON)"
        elif kind == "logs" and name == "body":  # the cluster holds the body as the embedded store shows it
            expression = BODY_SQL
        elif kind == "metrics" and name == "value":  # JSON has no NaN or infinity
            expression = f"CASE WHEN isnan({expression}) OR isinf({expression}) THEN NULL ELSE {expression} END"
        pairs.append((settings.field(kind, name), expression))
    if kind == "spans":
        # The version is a resource attribute, kept inside the store's attributes: a field of its own here.
        pairs.append((settings.field("spans", "version"), "s.attributes->>'service.version'"))
        pairs += _span_pairs(settings)
        source = ("spans s LEFT JOIN spans p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id "
                  "LEFT JOIN kids k ON k.trace_id = s.trace_id AND k.pid = s.span_id")
    else:
        source = kind  # the embedded store's tables are named like the kinds
    if kind == "logs":
        pairs.append(("inquest.template", TEMPLATE_SQL))
    # Merged into an empty object so that NULLs are left out: smaller documents, and "missing" is how
    # a cluster says NULL anyway.
    members = ", ".join(f"'{key}', {expression}" for key, expression in pairs)
    body = f"json_merge_patch('{{}}', json_object({members}))"
    if kind in STREAMS:  # the attributes without a field of their own: kept in _source, not indexed
        body = (f"CASE WHEN {prefix}attributes IS NULL THEN {body} "
                f"ELSE json_merge_patch({body}, json_object('attributes', {prefix}attributes::JSON)) END")
    with_kids = ("WITH kids AS (SELECT trace_id, parent_span_id AS pid, min(start_time) AS first_start, "
                 "min(start_time) FILTER (WHERE status_code = 'ERROR') AS first_failed_start "
                 "FROM spans WHERE parent_span_id IS NOT NULL GROUP BY ALL) ") if kind == "spans" else ""
    return f"{with_kids}SELECT {_action(kind, settings)}, {body} FROM {source}"


def _span_pairs(settings: ElasticsearchBackend) -> list[tuple[str, str]]:
    def f(name: str) -> str:
        return settings.field("spans", name)

    kinds = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in settings.span_kinds.items())
    codes = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in settings.status_codes.items())
    scale = {"ns": "CAST(round(s.duration_ms * 1e6) AS BIGINT)", "us": "CAST(round(s.duration_ms * 1e3) AS BIGINT)",
             "ms": "s.duration_ms"}[settings.duration_unit]
    return [
        (f("kind"), f"CASE s.kind {kinds} ELSE s.kind END"),
        (f("status_code"), f"CASE s.status_code {codes} ELSE s.status_code END"),
        (f("duration"), scale),
        ("inquest.self_ms", "s.self_ms"),
        ("inquest.self_bucket", BUCKET_SQL.format(column="s.self_ms")),
        # Who a span's exclusive time is credited to (the embedded store's _CREDITED): a non-database
        # client span's to the peer it calls.
        ("inquest.credited", "CASE WHEN s.kind = 'CLIENT' AND s.\"db.system\" IS NULL AND s.\"peer.service\" IS NOT NULL "
                             "THEN s.\"peer.service\" ELSE s.\"service.name\" END"),
        ("inquest.parent.client", "CASE WHEN p.span_id IS NOT NULL THEN p.kind = 'CLIENT' END"),
        # Never negative: a callee outliving its caller's call (the caller gave up) adds no time on the wire.
        ("inquest.gap_ms", "greatest(p.duration_ms - s.duration_ms, 0)"),
        ("inquest.gap_bucket", f"CASE WHEN p.span_id IS NOT NULL THEN "
                               f"{BUCKET_SQL.format(column='greatest(p.duration_ms - s.duration_ms, 0)')} END"),
        ("inquest.duration_bucket", BUCKET_SQL.format(column="s.duration_ms")),
        ("inquest.parent.service", 'p."service.name"'),
        ("inquest.parent.start", _time("p.start_time")),
        ("inquest.parent.duration_ms", "p.duration_ms"),
        ("inquest.parent.duration_bucket", f"CASE WHEN p.span_id IS NOT NULL THEN "
                                           f"{BUCKET_SQL.format(column='p.duration_ms')} END"),
        ("inquest.children.first_start", _time("k.first_start")),
        ("inquest.children.first_failed_start", _time("k.first_failed_start")),
    ]


# The natural key of each record, as the embedded ingest uses it (ingest/driver.py NATURAL_KEYS): it
# becomes the document _id, so loading the same records twice stores them once.
_IDS = {
    "spans": "s.trace_id || '-' || s.span_id",
    "logs": "md5(concat_ws(chr(31), CAST(timestamp AS VARCHAR), \"service.name\", coalesce(trace_id, ''), "
            "coalesce(span_id, ''), coalesce(body, '')))",
    "metrics": "md5(concat_ws(chr(31), CAST(timestamp AS VARCHAR), \"service.name\", coalesce(\"host.name\", ''), "
               "name, coalesce(CAST(attributes AS VARCHAR), '')))",
    "db_query_stats": "md5(concat_ws(chr(31), CAST(timestamp AS VARCHAR), \"service.name\", \"db.statement\"))",
    "changes": "id",
    "incidents": "id",
}


def _action(kind: str, settings: ElasticsearchBackend) -> str:
    """The bulk action line: `create` into a data stream (a document already there is a 409, counted
    as already stored), `index` into a plain index (replacing it: changes and incidents are
    declarations whose latest version wins)."""
    index = settings.write_index(kind).replace("'", "''")
    op = "create" if kind in STREAMS and settings.data_streams else "index"
    return f"json_object('{op}', json_object('_index', '{index}', '_id', {_IDS[kind]}))"


def load_store(store: Path | str, client: Elasticsearch, settings: ElasticsearchBackend,
               progress: Progress | None = None) -> dict[str, int]:
    """Installs the templates and loads every table of the embedded store at `store`; returns the
    documents loaded per kind. Refreshes the indices so that they are searchable on return."""
    install_templates(client, settings)
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH {json.dumps(str(store))} AS store (READ_ONLY)")
    con.execute("USE store")
    register_redaction(con)  # the template is derived from the redacted body, as the embedded store does
    loaded: dict[str, int] = {}
    try:
        for kind in KINDS:
            loaded[kind] = bulk_lines(client, settings, _lines(con, document_sql(kind, settings)), kind, progress)
    finally:
        con.close()
    for kind in (kind for kind, stored in loaded.items() if not stored):
        create_empty(client, settings, kind)
    refresh(client, settings)
    return loaded


def create_empty(client: Elasticsearch, settings: ElasticsearchBackend, kind: str) -> None:
    """The write index of a kind that had nothing to load, mapped by its template: a
    question about it then finds no data, as in the embedded store, instead of failing with
    `no such index` (the db agent did, on the ingest example, which has no database statistics)."""
    index = settings.write_index(kind)
    if kind in STREAMS and settings.data_streams:
        return  # a data stream is made by its first document (not every server has PUT _data_stream)
    try:
        client.indices.create(index=index)
    except Exception as exc:  # one BackendError naming the host; an index already there is what we wanted
        if getattr(exc, "status_code", None) == 400 and "already_exists" in str(exc):
            return
        raise describe_failure(exc, settings, f"creating the empty index {index}") from exc


def _lines(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[str, str]]:
    result = con.execute(sql)
    while rows := result.fetchmany(BULK_DOCUMENTS):
        yield from rows


def bulk_lines(client: Elasticsearch, settings: ElasticsearchBackend, pairs: Iterator[tuple[str, str]], kind: str,
               progress: Progress | None = None) -> int:
    """Sends (action, document) JSON pairs in bulk requests, two in flight; returns how many documents
    were stored (not counting those already there). The first rejected document fails the load with
    the cluster's reason."""
    stored = 0
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="es-bulk") as pool:
        pending: list[Future[int]] = []
        batch: list[str] = []
        for action, document in pairs:
            batch += (action, document)
            if len(batch) >= 2 * BULK_DOCUMENTS:
                pending.append(pool.submit(_send, client, settings, kind, batch))
                batch = []
                if len(pending) >= 2:
                    stored += pending.pop(0).result()
                    if progress:
                        progress(kind, stored)
        if batch:
            pending.append(pool.submit(_send, client, settings, kind, batch))
        for future in pending:
            stored += future.result()
    if progress:
        progress(kind, stored)
    return stored


def _send(client: Elasticsearch, settings: ElasticsearchBackend, kind: str, lines: list[str]) -> int:
    body = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        # Pre-encoded NDJSON, sent as is (the transport's NdjsonSerializer forwards bytes untouched): encoding
        # the rows once here is the loader's speed; the client's stub types `operations` as mappings only.
        response = client.bulk(operations=body).body  # type: ignore[arg-type]
    except Exception as exc:  # one BackendError naming the host
        raise describe_failure(exc, settings, f"bulk load into {settings.write_index(kind)}") from exc
    stored = len(lines) // 2
    if response.get("errors"):
        for item in response.get("items", []):
            result = next(iter(item.values()))
            if result.get("status") == 409:  # that document is already stored
                stored -= 1
            elif result.get("error"):
                error = result["error"]
                reason = f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else str(error)
                raise BackendError(f"bulk load into {settings.write_index(kind)} was rejected: {reason}")
    return stored


def refresh(client: Elasticsearch, settings: ElasticsearchBackend) -> None:
    for kind in KINDS:
        index = settings.write_index(kind)
        try:
            client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        except Exception as exc:  # one BackendError naming the host
            raise describe_failure(exc, settings, f"refreshing {index}") from exc


def drop_loaded(client: Elasticsearch, settings: ElasticsearchBackend) -> None:
    """Removes what load_store created: the write indices (or data streams) and their templates."""
    for kind in KINDS:
        index = settings.write_index(kind)
        try:
            if kind in STREAMS and settings.data_streams:
                client.indices.delete_data_stream(name=index)
            else:
                client.indices.delete(index=index, ignore_unavailable=True)
            client.indices.delete_index_template(name="inquest-" + index.replace("*", ""))
        except Exception as exc:  # one BackendError naming the host
            raise describe_failure(exc, settings, f"removing {index}") from exc


def ingest_into_cluster(settings: ElasticsearchBackend, base_dir: Path, paths: Sequence[Path | str] = (),
                        alerts: Sequence[Path | str] = (), alert_settings: AlertsConfig = DEFAULT_ALERTS,
                        ) -> tuple[IngestResult, dict[str, int]]:
    """`investigate ingest --to elasticsearch`: the files are parsed exactly as for the embedded store,
    into a staging store of their own, whose tables (with self time derived) then go to the cluster.
    Returns the parse result and the documents stored per kind."""
    with tempfile.TemporaryDirectory(prefix="inquest-ingest-") as staging:
        result = ingest(Path(staging) / "staging.duckdb", paths, alerts, alert_settings=alert_settings)
        client = open_client(settings, base_dir)
        try:
            loaded = load_store(result.store, client, settings) if result.accepted else {}
        finally:
            client.close()
    return replace(result, store=f"Elasticsearch at {hosts_of(settings)}", created=False), loaded
