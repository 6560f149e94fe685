"""An in-memory backend for agent unit tests: answers the protocol's questions from typed rows given to it.

A test states what the store would say — `FakeBackend(incidents=[...], changes=[...])` plus, per question
and window, the rows of the answer (`.answer("entry_summary", scope.window, EntrySummary(...))`) — and
hands it to an agent as `deps.backend`. No world is built, no file is opened. A question nobody answered
gets an empty table with the question's columns, as a store holding no such data would. Questions that
take a `service` keep only the rows of that service, and `changes` filters by window and services, so
an agent sees what it would see from a real store holding the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inquest.core import Change, Incident, Window
from inquest.tools.backends.protocol import Changes, OperationLimit, Table


@dataclass(frozen=True)
class EntrySummary:
    requests: int
    failed: int = 0
    slow: int = 0
    users: int = 0
    tenants: int = 0
    failed_users: int = 0
    failed_tenants: int = 0


@dataclass(frozen=True)
class Endpoint:
    endpoint: str
    requests: int
    failed: int = 0
    p95_ms: float = 0.0


@dataclass(frozen=True)
class TimelineBucket:
    """A bucket of entry_timeline (requests, failed) or service_timeline (its `failed` is `errors`)."""

    bucket: datetime
    requests: int
    failed: int = 0
    p95_ms: float = 0.0


@dataclass(frozen=True)
class EntryService:
    service: str
    requests: int


@dataclass(frozen=True)
class SpanStat:
    service: str
    operation: str
    kind: str = "SERVER"
    peer: str | None = None
    is_db: bool = False
    requests: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    mean_self_ms: float = 0.0
    total_self_ms: float = 0.0


@dataclass(frozen=True)
class ErrorOrigin:
    service: str
    operation: str
    kind: str = "SERVER"
    peer: str | None = None
    is_db: bool = False
    origins: int = 0
    message: str | None = None


@dataclass(frozen=True)
class CallEdge:
    caller: str
    callee: str
    calls: int = 0
    errors: int = 0
    p95_ms: float = 0.0


@dataclass(frozen=True)
class DbStatement:
    service: str
    statement: str
    calls: int = 0
    traces: int = 0
    calls_per_trace: float = 0.0
    calls_per_request: float = 0.0
    mean_ms: float = 0.0
    p95_ms: float = 0.0
    errors: int = 0


@dataclass(frozen=True)
class LogTemplate:
    service: str
    severity: str
    template: str
    count: int
    example: str = ""


# The columns of each question's answer, in the order the stores return them: an unanswered question
# still has them, so an agent reading an empty answer by column name behaves as against a real store.
COLUMNS: dict[str, tuple[str, ...]] = {
    "services": ("service", "spans", "logs"),
    "span_minutes": ("minutes", "covered_minutes"),
    "span_stats": tuple(f.name for f in dataclasses.fields(SpanStat)),
    "error_origins": tuple(f.name for f in dataclasses.fields(ErrorOrigin)),
    "call_graph": tuple(f.name for f in dataclasses.fields(CallEdge)),
    "dependencies": ("caller", "callee", "source"),
    "db_statements": tuple(f.name for f in dataclasses.fields(DbStatement)),
    "db_query_stats": ("service", "statement", "calls", "mean_ms", "rows_per_call", "lock_wait_ms"),
    "metric_summary": ("service", "host", "name", "mean", "max", "last", "points"),
    "metric_stats": ("service", "host", "name", "points", "median", "mad", "p90", "max", "first", "last"),
    "log_templates": tuple(f.name for f in dataclasses.fields(LogTemplate)),
    "log_patterns": ("service", "pattern", "lines", "errors", "example", "total"),
    "log_origins": ("service", "origin", "lines"),
    "version_stats": ("service", "version", "requests", "errors", "p95_ms"),
    "entry_services": ("service", "requests"),
    "time_range": ("kind", "records", "first", "last"),  # rows: inquest.core.Held
    "service_timeline": ("bucket", "requests", "errors", "p95_ms"),
    "entry_summary": tuple(f.name for f in dataclasses.fields(EntrySummary)),
    "entry_endpoints": tuple(f.name for f in dataclasses.fields(Endpoint)),
    "entry_timeline": tuple(f.name for f in dataclasses.fields(TimelineBucket)),
}

Row = Any  # a dataclass instance or a mapping of column -> value


def _columns_and_values(row: Row) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        values = dataclasses.asdict(row)
    elif isinstance(row, Mapping):
        values = dict(row)
    else:
        raise TypeError(f"a fake answer's row is a dataclass or a mapping, not {type(row).__name__}")
    return tuple(values), tuple(values.values())


class FakeBackend:
    """A TelemetryBackend answering from rows held in memory."""

    name = "fake"

    def __init__(self, incidents: Sequence[Incident] = (), changes: Sequence[Change] = ()) -> None:
        self._incidents = tuple(incidents)
        self._changes = tuple(sorted(changes, key=lambda c: (c.at, c.id)))
        self._answers: dict[tuple[str, Window | None], tuple[Row, ...]] = {}
        self.asked: list[str] = []  # the questions asked, in order: what a test may check an agent needed

    def answer(self, question: str, window: Window | None, *rows: Row) -> FakeBackend:
        """Rows the store holds for `question` over `window` (None: any window). Returns self, to chain."""
        self._answers[(question, window)] = self._answers.get((question, window), ()) + rows
        return self

    def _table(self, question: str, window: Window | None, service: str | None = None) -> Table:
        self.asked.append(question)
        rows = self._answers.get((question, window), self._answers.get((question, None), ()))
        columns = COLUMNS.get(question, ())
        values = []
        for row in rows:
            columns, row_values = _columns_and_values(row)
            record = dict(zip(columns, row_values))
            if service is None or record.get("service", service) == service:
                values.append(row_values)
        return Table(question=question, query=f"fake: {question}", columns=columns, rows=tuple(values))

    # -- incidents and changes ------------------------------------------------------------------------

    def incidents(self) -> Sequence[Incident]:
        self.asked.append("incidents")
        return sorted(self._incidents, key=lambda i: (i.started_at, i.id), reverse=True)

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        self.asked.append("changes")
        items = tuple(c for c in self._changes if window.start <= c.at < window.end
                      and (not services or c.service in services))
        return Changes(query="fake: changes", items=items)

    def previous_version(self, service: str, before: Change) -> str | None:
        self.asked.append("previous_version")
        earlier = [c for c in self._changes if c.service == service and c.kind in ("deploy", "rollback")
                   and c.version is not None and c.at < before.at]
        return earlier[-1].version if earlier else None

    # -- the questions answered from rows ---------------------------------------------------------------

    def services(self, window: Window) -> Table:
        return self._table("services", window)

    def span_minutes(self, window: Window) -> Table:
        return self._table("span_minutes", window)

    def span_stats(self, window: Window, service: str | None = None) -> Table:
        return self._table("span_stats", window, service)

    def error_origins(self, window: Window) -> Table:
        return self._table("error_origins", window)

    def call_graph(self, window: Window) -> Table:
        return self._table("call_graph", window)

    def dependencies(self) -> Table:
        return self._table("dependencies", None)

    def operation_latency(self, window: Window) -> Table:
        return self._table("operation_latency", window)

    def trace_spectrum(self, window: Window, limits: Sequence[OperationLimit]) -> Table:
        return self._table("trace_spectrum", window)

    def edge_latency(self, window: Window) -> Table:
        return self._table("edge_latency", window)

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        return self._table("db_statements", window, service)

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        return self._table("db_query_stats", window, service)

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        return self._named(self._table("metric_summary", window, service), names)

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        return self._named(self._table("metric_stats", window), names)

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        return self._named(self._table("metric_series", window), names)

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        table = self._table("log_templates", window, service)
        return Table(table.question, table.query, table.columns, table.rows[:limit])

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        return self._table("log_patterns", window)

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        return self._table("log_origins", window)

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        table = self._table("version_stats", window)
        if "service" not in table.columns:
            return table
        at = table.columns.index("service")
        return Table(table.question, table.query, table.columns, tuple(r for r in table.rows if r[at] in services))

    def entry_services(self, window: Window) -> Table:
        return self._table("entry_services", window)

    def time_range(self) -> Table:
        return self._table("time_range", None)

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._table("service_timeline", window)

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        return self._table("entry_summary", window)

    def entry_endpoints(self, window: Window, service: str) -> Table:
        return self._table("entry_endpoints", window)

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self._table("entry_timeline", window)

    @staticmethod
    def _named(table: Table, names: Sequence[str]) -> Table:
        """Metric questions ask for some names: rows of other metrics are not in the answer."""
        if "name" not in table.columns:
            return table
        at = table.columns.index("name")
        return Table(table.question, table.query, table.columns, tuple(r for r in table.rows if r[at] in names))
