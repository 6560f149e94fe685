"""The telemetry backend protocol: the questions specialist agents ask of production data.

Every question is answered inside the store (grouped, counted, percentiled there) and comes back as a
small `Table` carrying the exact query that produced it, so a piece of evidence can always be reproduced
by pasting its query into the store's own console. The embedded DuckDB store implements this today; an
Elasticsearch backend implements the same questions with aggregations.

The protocol has no method that writes: an investigation is read-only by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from inquest.core import Change, Incident, Window


@dataclass(frozen=True)
class Table:
    """A compact answer: named columns, a bounded number of rows, and the query that reproduces it."""

    question: str
    query: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    # (metric name, the query that reproduces that metric's rows alone), where a store asks per metric
    # anyway (Prometheus): evidence about one metric can then quote its own query, not the whole table's.
    parts: tuple[tuple[str, str], ...] = ()

    def query_for(self, metric: str) -> str:
        """The query behind `metric`'s rows (a histogram's: its .bucket, .sum and .count parts), else the table's."""
        own = [q for name, q in self.parts if name in (metric, f"{metric}.bucket", f"{metric}.sum", f"{metric}.count")]
        return "\n\n".join(own) if own else self.query

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Changes:
    query: str
    items: tuple[Change, ...]


@dataclass(frozen=True)
class OperationLimit:
    """Above these a span of the operation is unusual: its whole duration, and its exclusive time."""

    service: str
    operation: str
    kind: str
    duration_ms: float
    self_ms: float


@runtime_checkable
class TelemetryBackend(Protocol):
    """What an agent may ask. Windows are half-open [start, end); durations are milliseconds."""

    name: str

    def incidents(self) -> Sequence[Incident]:
        """Known incidents, most recent first."""
        ...

    def services(self, window: Window) -> Table:
        """service, spans, logs: which services reported anything in the window."""
        ...

    def span_minutes(self, window: Window) -> Table:
        """minutes: how many distinct minutes of the window hold any span. Rates are computed over these,
        not over the window's nominal length, so a window whose traces were only partly collected does
        not look quieter than it was."""
        ...

    def span_stats(self, window: Window, service: str | None = None) -> Table:
        """Per service, operation, span kind, peer and is_db: requests, errors, p50_ms, p95_ms, mean_self_ms,
        total_self_ms (self = exclusive time: duration minus the union of child intervals)."""
        ...

    def error_origins(self, window: Window) -> Table:
        """Per service, operation, kind, peer and is_db: failed spans none of whose children failed (where errors start,
        not where they propagate), with the most common status message."""
        ...

    def call_graph(self, window: Window) -> Table:
        """Edges caller -> callee derived from parent/child spans across services, plus client spans to
        uninstrumented peers (peer.service): calls, errors, p95_ms of the client side."""
        ...

    def dependencies(self) -> Table:
        """caller, callee, source: call-graph edges declared outside the traces (a service catalogue, a
        dataset's dependency file). Empty when none were loaded; with spans, call_graph is the observed graph."""
        ...

    def operation_latency(self, window: Window) -> Table:
        """Per service, operation and kind: requests, p50_ms, p99_ms, self_p50_ms, self_p99_ms (exclusive
        time), min_ms (the shortest positive duration: a lower bound on the clock's resolution). The
        per-operation baseline that spans of another window are judged against."""
        ...

    def trace_spectrum(self, window: Window, limits: Sequence[OperationLimit]) -> Table:
        """Spectrum of the window's traces against per-operation limits. A trace is failing when its root
        span (what the user waited for) lasts longer than its operation's `duration_ms`; a span's exclusive time over `self_ms` is time
        added there. Time is credited as in span_stats: a non-database client span to the peer it calls.
        Per credited service: own_ef / own_ep (failing / passing traces where its own time was over the
        limit), judged (its spans that had a limit), slow_self (of
        those, over the self limit), over_self_ms (time over the limits), failing_traces, traces."""
        ...

    def edge_latency(self, window: Window) -> Table:
        """Per caller, callee and whether the caller's span is a CLIENT span, for calls seen on both sides
        (a caller span whose child is the callee's span): calls, caller_p50_ms, callee_p50_ms, callee_p90_ms,
        callee_self_p50_ms, callee_self_p90_ms, gap_p50_ms, gap_p90_ms (caller span minus callee span, never below 0: the wire,
        queues and (de)serialisation when the caller's span is a client span)."""
        ...

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        """Per service and normalised statement, from database client spans: calls, traces,
        calls_per_trace, calls_per_request (per distinct parent span: per request of the issuing
        operation), mean_ms, p95_ms, errors."""
        ...

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        """Per service and statement, from the database's own statistics (pg_stat_statements style):
        calls, mean_ms, rows_per_call, lock_wait_ms."""
        ...

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        """Per service, host and metric name: mean, max, last value."""
        ...

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        """Per service, host and metric name: points, median, mad (median absolute deviation), p90, max,
        first and last value — enough to compare a window with a baseline robustly without the series."""
        ...

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        """Per service, host, service.version, name, le (a histogram bucket's upper bound) and time bucket:
        unit, temporality, points, mean and total of the values. Cumulative series (named in `cumulative`,
        or stored with attribute inquest.temporality = cumulative) are differenced first, so mean and total
        are of their increases."""
        ...

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        """Per service, severity and template (the message with ids and numbers masked): count and one
        example. Severity numbers are OpenTelemetry's (13 = WARN, 17 = ERROR)."""
        ...

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        """Per service and service.version (the spans' resource attribute; NULL where not reported) of
        the SERVER and CONSUMER spans of `services`: requests, errors, p95_ms. Pods of a new version beside
        pods of the old one, over the same minutes, are the most direct evidence a deploy can have."""
        ...

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        """Per service and pattern (the body with ids, numbers and quoted values masked, as in log_templates),
        over every severity: lines, errors (lines at ERROR or above), one example, and total (all the
        service's lines in the window). A store may count a sample of about `sample_lines` lines per service
        (whole traces, as log_origins' `sample` keeps them) where masking every line would be slow; then
        lines < total. At most `per_service` patterns per service, the most frequent; the rest of a
        service's lines make one row whose pattern is NULL. What template mining reads: distinct patterns
        with their counts, never every line."""
        ...

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        """service, origin, lines: lines whose pattern is one of `patterns` (none given: lines at ERROR or
        above), per service and the service that logged the first such line of the same trace (itself where
        the trouble starts there; another service where it only relays it; NULL for lines without a trace id).
        A store may look at a `sample` share of the traces only (whole traces)."""
        ...

    def entry_services(self, window: Window) -> Table:
        """service, requests: services with root spans (where requests enter), busiest first."""
        ...

    def time_range(self) -> Table:
        """kind, records, first, last: for spans, logs and metrics, how many records the store holds over all
        time and its first and last timestamp (NULL when it holds none): min/max answered by the store."""
        ...

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        """Per time bucket of the service's SERVER spans: bucket, requests, errors, p95_ms."""
        ...

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        """One row for the root (entry) spans of `service`: requests, failed, slow, users, tenants,
        failed_users, failed_tenants."""
        ...

    def entry_endpoints(self, window: Window, service: str) -> Table:
        """Per endpoint (http.route, else span name) of the entry service: requests, failed, p95_ms."""
        ...

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        """Per time bucket of the entry service's root spans: bucket, requests, failed, p95_ms."""
        ...

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        """Deploys, config changes, flags, migrations, scaling and rollbacks in the window, oldest first;
        deploys and rollbacks carry the service's previous version (from the whole history)."""
        ...

    def previous_version(self, service: str, before: Change) -> str | None:
        """The version the service ran before `before`: what a rollback would return to."""
        ...
