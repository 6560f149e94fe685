"""The embedded telemetry backend: the protocol's questions as DuckDB SQL over one local file.

Each question is one SQL statement with its values written in as literals (embedded_sql), so the text
stored as evidence is exactly what ran and can be pasted into `duckdb <file>` to reproduce it. The
questions about log text (redaction, masking, sampling) are built in embedded_logs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from inquest.core import Change, Incident, Window, utc
from inquest.errors import BackendError
from inquest.tools.backends.coverage import bucket_seconds, covered_seconds
from inquest.tools.backends.embedded_logs import (
    log_origins_sql,
    log_patterns_sql,
    log_templates_sql,
    register_redaction,
    runnable,
)
from inquest.tools.backends.embedded_metrics import metric_series_sql, metric_stats_sql, metric_summary_sql
from inquest.tools.backends.embedded_sql import between, literal, service_filter
from inquest.tools.backends.protocol import Changes, OperationLimit, Table

# Who a span's exclusive time belongs to: a client span's (the wire, an uninstrumented peer) to the peer
# it calls; a database client span's to the service that issued the query.
_CREDITED = ("CASE WHEN kind = 'CLIENT' AND \"db.system\" IS NULL AND \"peer.service\" IS NOT NULL "
             "THEN \"peer.service\" ELSE \"service.name\" END")


class EmbeddedStore:
    name = "embedded"

    def __init__(self, path: Path | str, memory_limit: str = "1GB") -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BackendError(f"embedded store {self.path} does not exist")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
            self._con.execute("SET enable_progress_bar = false")  # a long question must not draw on the terminal
            # Without a cap DuckDB's buffer pool grows with the data while six agents ask at once (2 GB
            # peak on 12M records); capped, the same investigation peaks near 450 MB and is no slower.
            self._con.execute(f"SET memory_limit = {literal(memory_limit)}")
            setting = self._con.execute("SELECT current_setting('threads')").fetchall()  # all: none left unfinished
        except duckdb.Error as exc:
            raise BackendError(f"cannot open embedded store {self.path}: {exc}") from exc
        # Agents ask all they can at once (one round trip to a remote store); here each question already
        # runs on every thread, and more at once only add hash tables (12M records: ~900 MB RSS and 2.6 s CPU
        # all at once, ~550 MB and 2.2 s with two per thread; two, as fetching rows leaves a thread idle).
        self._running = threading.BoundedSemaphore(2 * max(int(setting[0][0]) if setting else 1, 1))
        # Registered by the first question that reads log text, not here: DuckDB imports numpy to register
        # a Python function (~0.15 s), which then runs in that agent's thread beside the others instead
        # of before any of them can start.
        self._redaction_ready = False
        self._redaction_lock = threading.Lock()

    def _ensure_redaction(self) -> None:
        with self._redaction_lock:
            if not self._redaction_ready:
                register_redaction(self._con)
                self._redaction_ready = True

    def close(self) -> None:
        # Closing while agents' questions still run (Ctrl-C, a timed-out agent) fails with "connection is
        # busy": stop them first. A store that still refuses is abandoned, not an error: it is read-only,
        # so nothing is lost, and the process is ending or moving on.
        try:
            self._con.interrupt()
            self._con.close()
        except duckdb.Error:
            pass

    def _ask(self, question: str, sql: str) -> Table:
        # A cursor per question: agents ask from their own threads, and DuckDB runs them in parallel.
        cursor = self._con.cursor()
        self._running.acquire()
        try:
            if "inquest_redact" in sql:
                self._ensure_redaction()
            result = cursor.execute(sql)
            columns = tuple(d[0] for d in result.description)
            # The store keeps naive UTC timestamps; everything above it works with aware ones.
            rows = tuple(tuple(utc(v) if isinstance(v, datetime) else v for v in row) for row in result.fetchall())
        except duckdb.Error as exc:
            raise BackendError(f"embedded store: {question} failed: {exc}") from exc
        finally:
            self._running.release()
            cursor.close()
        return Table(question=question, query=runnable(sql), columns=columns, rows=rows)

    # -- incidents and changes -------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        # `*`, read by column name: a store written before the baseline columns existed still lists its incidents.
        table = self._ask("incidents", "SELECT * FROM incidents ORDER BY started_at DESC, id")
        at = {name: i for i, name in enumerate(table.columns)}
        out = []
        for r in table.rows:
            start, end = (r[at[c]] if c in at else None for c in ("baseline_start", "baseline_end"))
            out.append(Incident(id=r[at["id"]], title=r[at["title"]], service=r[at["service.name"]],
                                started_at=r[at["started_at"]], window=Window(r[at["window_start"]], r[at["window_end"]]),
                                symptoms=tuple(json.loads(r[at["symptoms"]]) if r[at["symptoms"]] else ()),
                                ticket=r[at["ticket"]], baseline=Window(start, end) if start and end else None))
        return out

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        where = between("timestamp", window)
        if services:
            where += f' AND "service.name" IN {literal(tuple(services))}'
        # The previous version comes from the whole history, not just the window: it is what a rollback
        # returns to, however long ago it was deployed.
        table = self._ask("changes", f"""
            SELECT id, timestamp, "service.name", kind, description, version, commit, repository, author,
                   previous_version FROM (
              SELECT *, CASE WHEN kind IN ('deploy', 'rollback') THEN lag(version) OVER (
                       PARTITION BY "service.name", kind IN ('deploy', 'rollback') ORDER BY timestamp, id) END
                       AS previous_version
              FROM changes)
            WHERE {where} ORDER BY timestamp, id""")
        items = tuple(
            Change(id=r[0], at=r[1], service=r[2], kind=r[3], description=r[4] or "", version=r[5],
                   commit=r[6], repository=r[7], author=r[8], previous_version=r[9])
            for r in table.rows
        )
        return Changes(query=table.query, items=items)

    def previous_version(self, service: str, before: Change) -> str | None:
        table = self._ask("previous_version",
                          f'SELECT version FROM changes WHERE "service.name" = {literal(service)} '
                          f"AND kind IN ('deploy', 'rollback') AND version IS NOT NULL "
                          f"AND timestamp < {literal(before.at)} ORDER BY timestamp DESC LIMIT 1")
        return table.rows[0][0] if table.rows else None

    # -- spans -------------------------------------------------------------------------------------

    def services(self, window: Window) -> Table:
        return self._ask("services", f"""
            SELECT service, sum(spans) AS spans, sum(logs) AS logs FROM (
              SELECT "service.name" AS service, count(*) AS spans, 0 AS logs FROM spans
              WHERE {between('start_time', window)} GROUP BY 1
              UNION ALL
              SELECT "service.name", 0, count(*) FROM logs WHERE {between('timestamp', window)} GROUP BY 1
            ) GROUP BY service ORDER BY service""")

    def time_range(self) -> Table:
        return self._ask("time_range", """
            SELECT 'spans' AS kind, count(*) AS records, min(start_time) AS first, max(start_time) AS last FROM spans
            UNION ALL SELECT 'logs', count(*), min(timestamp), max(timestamp) FROM logs
            UNION ALL SELECT 'metrics', count(*), min(timestamp), max(timestamp) FROM metrics""")

    def span_minutes(self, window: Window) -> Table:
        length = (window.end - window.start).total_seconds()
        step = bucket_seconds(length)
        table = self._ask("span_minutes", f"""
            SELECT count(DISTINCT date_trunc('minute', start_time)) AS minutes,
                   list(DISTINCT floor(date_diff('millisecond', {literal(window.start)}, start_time) / {step * 1000})
                        * {step}) AS occupied
            FROM spans WHERE {between('start_time', window)}""")
        minutes, occupied = table.rows[0] if table.rows else (0, [])
        covered = covered_seconds([float(x) for x in occupied or ()], length, step) / 60
        return Table("span_minutes", table.query, ("minutes", "covered_minutes"), ((minutes, round(covered, 3)),))

    def span_stats(self, window: Window, service: str | None = None) -> Table:
        return self._ask("span_stats", f"""
            SELECT "service.name" AS service, name AS operation, kind, "peer.service" AS peer,
                   "db.system" IS NOT NULL AS is_db,
                   count(*) AS requests,
                   count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
                   round(quantile_cont(duration_ms, 0.5), 2) AS p50_ms,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms,
                   round(avg(self_ms), 2) AS mean_self_ms,
                   round(sum(self_ms), 1) AS total_self_ms
            FROM spans WHERE {between('start_time', window)}{service_filter(service)}
            GROUP BY 1, 2, 3, 4, 5 ORDER BY total_self_ms DESC""")

    def error_origins(self, window: Window) -> Table:
        return self._ask("error_origins", f"""
            WITH w AS (SELECT * FROM spans WHERE {between('start_time', window)}),
            failing_parents AS (
              SELECT DISTINCT trace_id, parent_span_id AS span_id FROM w
              WHERE status_code = 'ERROR' AND parent_span_id IS NOT NULL)
            SELECT w."service.name" AS service, w.name AS operation, w.kind, w."peer.service" AS peer,
                   w."db.system" IS NOT NULL AS is_db, count(*) AS origins, mode(w.status_message) AS message
            FROM w ANTI JOIN failing_parents f ON w.trace_id = f.trace_id AND w.span_id = f.span_id
            WHERE w.status_code = 'ERROR'
            GROUP BY 1, 2, 3, 4, 5 ORDER BY origins DESC LIMIT 50""")

    def call_graph(self, window: Window) -> Table:
        return self._ask("call_graph", f"""
            WITH w AS (SELECT * FROM spans WHERE {between('start_time', window)}),
            leaf_clients AS (  -- client spans nobody answered: calls to uninstrumented peers
              SELECT w.* FROM w ANTI JOIN w s ON s.trace_id = w.trace_id AND s.parent_span_id = w.span_id
              WHERE w.kind = 'CLIENT' AND w."peer.service" IS NOT NULL AND w."db.system" IS NULL)
            SELECT p."service.name" AS caller, c."service.name" AS callee, count(*) AS calls,
                   count(*) FILTER (WHERE c.status_code = 'ERROR') AS errors,
                   round(quantile_cont(p.duration_ms, 0.95), 2) AS p95_ms
            FROM w c JOIN w p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
            WHERE c."service.name" <> p."service.name"
            GROUP BY 1, 2
            UNION ALL
            SELECT "service.name", "peer.service", count(*), count(*) FILTER (WHERE status_code = 'ERROR'),
                   round(quantile_cont(duration_ms, 0.95), 2)
            FROM leaf_clients GROUP BY 1, 2
            ORDER BY calls DESC""")

    def dependencies(self) -> Table:
        # A store written before the table existed has none declared: an empty answer, not an error.
        cursor = self._con.cursor()
        try:
            known = cursor.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dependencies'").fetchone()
        finally:
            cursor.close()
        if not known or not known[0]:
            return Table("dependencies", "-- no dependencies table in this store", ("caller", "callee", "source"), ())
        return self._ask("dependencies", "SELECT DISTINCT caller, callee, source FROM dependencies "
                                         "WHERE caller <> callee ORDER BY caller, callee, source")

    def operation_latency(self, window: Window) -> Table:
        return self._ask("operation_latency", f"""
            SELECT "service.name" AS service, name AS operation, kind, count(*) AS requests,
                   round(quantile_cont(duration_ms, 0.5), 2) AS p50_ms,
                   round(quantile_cont(duration_ms, 0.99), 2) AS p99_ms,
                   round(quantile_cont(self_ms, 0.5), 2) AS self_p50_ms,
                   round(quantile_cont(self_ms, 0.99), 2) AS self_p99_ms,
                   round(min(duration_ms) FILTER (WHERE duration_ms > 0), 3) AS min_ms
            FROM spans WHERE {between('start_time', window)}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")

    def trace_spectrum(self, window: Window, limits: Sequence[OperationLimit]) -> Table:
        values = ", ".join(literal((x.service, x.operation, x.kind, float(x.duration_ms), float(x.self_ms)))
                           for x in limits) or "(NULL, NULL, NULL, NULL, NULL)"
        return self._ask("trace_spectrum", f"""
            WITH lim(service, operation, kind, dur_limit, self_limit) AS (VALUES {values}),
            w AS (SELECT trace_id, "service.name" AS service, name AS operation, kind, duration_ms, self_ms,
                         parent_span_id IS NULL AS root, {_CREDITED} AS credited
                  FROM spans WHERE {between('start_time', window)}),
            f AS (SELECT w.trace_id, w.credited, w.root AND w.duration_ms > l.dur_limit AS slow,
                         w.self_ms > l.self_limit AS slow_self, w.self_ms - l.self_limit AS over_ms
                  FROM w LEFT JOIN lim l ON w.service = l.service AND w.operation = l.operation AND w.kind = l.kind),
            t AS (SELECT trace_id, coalesce(bool_or(slow), false) AS failing FROM f GROUP BY 1),
            p AS (SELECT f.credited AS service, f.trace_id, t.failing, count(slow_self) AS judged,
                         count(*) FILTER (WHERE slow_self) AS slow_self, sum(over_ms) FILTER (WHERE slow_self) AS over_ms
                  FROM f JOIN t USING (trace_id) GROUP BY 1, 2, 3)
            SELECT service, count(*) FILTER (WHERE failing AND slow_self > 0) AS own_ef,
                   count(*) FILTER (WHERE NOT failing AND slow_self > 0) AS own_ep, sum(judged) AS judged,
                   sum(slow_self) AS slow_self, round(coalesce(sum(over_ms), 0), 1) AS over_self_ms,
                   (SELECT count(*) FILTER (WHERE failing) FROM t) AS failing_traces,
                   (SELECT count(*) FROM t) AS traces
            FROM p GROUP BY 1 ORDER BY 1""")

    def edge_latency(self, window: Window) -> Table:
        return self._ask("edge_latency", f"""
            WITH w AS (SELECT * FROM spans WHERE {between('start_time', window)})
            SELECT p."service.name" AS caller, c."service.name" AS callee, p.kind = 'CLIENT' AS client,
                   count(*) AS calls, round(quantile_cont(p.duration_ms, 0.5), 2) AS caller_p50_ms,
                   round(quantile_cont(c.duration_ms, 0.5), 2) AS callee_p50_ms,
                   round(quantile_cont(c.duration_ms, 0.9), 2) AS callee_p90_ms,
                   round(quantile_cont(c.self_ms, 0.5), 2) AS callee_self_p50_ms,
                   round(quantile_cont(c.self_ms, 0.9), 2) AS callee_self_p90_ms,
                   round(quantile_cont(greatest(p.duration_ms - c.duration_ms, 0), 0.5), 2) AS gap_p50_ms,
                   round(quantile_cont(greatest(p.duration_ms - c.duration_ms, 0), 0.9), 2) AS gap_p90_ms
            FROM w c JOIN w p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
            WHERE c."service.name" <> p."service.name"
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")

    # -- database ----------------------------------------------------------------------------------

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        return self._ask("db_statements", f"""
            SELECT "service.name" AS service, "db.statement" AS statement, count(*) AS calls,
                   count(DISTINCT trace_id) AS traces,
                   round(count(*) / count(DISTINCT trace_id), 2) AS calls_per_trace,
                   round(count(*) / count(DISTINCT (trace_id, parent_span_id)), 2) AS calls_per_request,
                   round(avg(duration_ms), 2) AS mean_ms,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms,
                   count(*) FILTER (WHERE status_code = 'ERROR') AS errors
            FROM spans WHERE {between('start_time', window)} AND "db.statement" IS NOT NULL
              {service_filter(service)}
            GROUP BY 1, 2 ORDER BY sum(duration_ms) DESC LIMIT 100""")

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        return self._ask("db_query_stats", f"""
            SELECT "service.name" AS service, "db.statement" AS statement, sum(calls) AS calls,
                   round(sum(total_time_ms) / nullif(sum(calls), 0), 2) AS mean_ms,
                   round(sum(rows) / nullif(sum(calls), 0), 2) AS rows_per_call,
                   round(sum(lock_wait_ms), 1) AS lock_wait_ms
            FROM db_query_stats WHERE {between('timestamp', window)}{service_filter(service)}
            GROUP BY 1, 2 ORDER BY sum(total_time_ms) DESC LIMIT 100""")

    # -- metrics (statements in embedded_metrics) and logs (in embedded_logs) ---------------------

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        return self._ask("metric_summary", metric_summary_sql(window, names, service))

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        return self._ask("metric_stats", metric_stats_sql(window, names))

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        return self._ask("metric_series", metric_series_sql(window, names, cumulative, bucket_seconds))

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        return self._ask("log_templates", log_templates_sql(window, service, min_severity, limit))

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        return self._ask("log_patterns", log_patterns_sql(window, per_service, sample_lines))

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        return self._ask("log_origins", log_origins_sql(window, patterns, sample))

    # -- the customer's view: root spans of the entry service --------------------------------------

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        return self._ask("version_stats", f"""
            SELECT "service.name" AS service, attributes->>'service.version' AS version, count(*) AS requests,
                   count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms
            FROM spans WHERE {between('start_time', window)} AND kind IN ('SERVER', 'CONSUMER')
              AND "service.name" IN {literal(tuple(services) or ('',))}
            GROUP BY 1, 2 ORDER BY 1, 2""")

    def entry_services(self, window: Window) -> Table:
        return self._ask("entry_services", f"""
            SELECT "service.name" AS service, count(*) AS requests FROM spans
            WHERE {between('start_time', window)} AND parent_span_id IS NULL
            GROUP BY 1 ORDER BY requests DESC""")

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._ask("service_timeline", f"""
            SELECT time_bucket(INTERVAL '{int(bucket_seconds)} seconds', start_time) AS bucket,
                   count(*) AS requests, count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms
            FROM spans WHERE {between('start_time', window)} AND kind = 'SERVER'
              AND "service.name" = {literal(service)}
            GROUP BY 1 ORDER BY 1""")

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        return self._ask("entry_summary", f"""
            SELECT count(*) AS requests,
                   count(*) FILTER (WHERE status_code = 'ERROR') AS failed,
                   count(*) FILTER (WHERE duration_ms > {float(slow_ms)}) AS slow,
                   count(DISTINCT "enduser.id") AS users,
                   count(DISTINCT "tenant.id") AS tenants,
                   count(DISTINCT "enduser.id") FILTER (WHERE status_code = 'ERROR') AS failed_users,
                   count(DISTINCT "tenant.id") FILTER (WHERE status_code = 'ERROR') AS failed_tenants
            FROM spans WHERE {between('start_time', window)} AND parent_span_id IS NULL
              AND "service.name" = {literal(service)}""")

    def entry_endpoints(self, window: Window, service: str) -> Table:
        return self._ask("entry_endpoints", f"""
            SELECT coalesce("http.request.method" || ' ' || "http.route", name) AS endpoint,
                   count(*) AS requests, count(*) FILTER (WHERE status_code = 'ERROR') AS failed,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms
            FROM spans WHERE {between('start_time', window)} AND parent_span_id IS NULL
              AND "service.name" = {literal(service)}
            GROUP BY 1 ORDER BY failed DESC, requests DESC LIMIT 20""")

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._ask("entry_timeline", f"""
            SELECT time_bucket(INTERVAL '{int(bucket_seconds)} seconds', start_time) AS bucket,
                   count(*) AS requests, count(*) FILTER (WHERE status_code = 'ERROR') AS failed,
                   round(quantile_cont(duration_ms, 0.95), 2) AS p95_ms
            FROM spans WHERE {between('start_time', window)} AND parent_span_id IS NULL
              AND "service.name" = {literal(service)}
            GROUP BY 1 ORDER BY 1""")
