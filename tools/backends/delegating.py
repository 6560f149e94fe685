"""A backend that hands every question to another backend: the base of the coordinator's wrappers.

pydantic-ai's WrapperModel pattern: each method of the TelemetryBackend protocol is written out and
delegates to `wrapped`, so a wrapper has the protocol's type (a type checker sees it, and sees a missing
question) instead of a `__getattr__` proxy that erases it. Every question passes through `answer`, with
its arguments by name: a subclass overrides `answer` to act on all questions (trace them, share them)
or overrides one method to change that question alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from inquest.core import Change, Incident, Window
from inquest.tools.backends.protocol import Changes, OperationLimit, Table, TelemetryBackend

T = TypeVar("T")


class DelegatingBackend:
    """Implements TelemetryBackend by delegation to `wrapped`."""

    def __init__(self, wrapped: TelemetryBackend) -> None:
        self.wrapped = wrapped
        self.name: str = wrapped.name

    def answer(self, question: str, ask: Callable[..., T], **arguments: Any) -> T:
        """Every question comes through here: `ask(**arguments)` is the wrapped backend's answer."""
        return ask(**arguments)

    def incidents(self) -> Sequence[Incident]:
        return self.answer("incidents", self.wrapped.incidents)

    def services(self, window: Window) -> Table:
        return self.answer("services", self.wrapped.services, window=window)

    def span_minutes(self, window: Window) -> Table:
        return self.answer("span_minutes", self.wrapped.span_minutes, window=window)

    def span_stats(self, window: Window, service: str | None = None) -> Table:
        return self.answer("span_stats", self.wrapped.span_stats, window=window, service=service)

    def error_origins(self, window: Window) -> Table:
        return self.answer("error_origins", self.wrapped.error_origins, window=window)

    def call_graph(self, window: Window) -> Table:
        return self.answer("call_graph", self.wrapped.call_graph, window=window)

    def dependencies(self) -> Table:
        return self.answer("dependencies", self.wrapped.dependencies)

    def operation_latency(self, window: Window) -> Table:
        return self.answer("operation_latency", self.wrapped.operation_latency, window=window)

    def trace_spectrum(self, window: Window, limits: Sequence[OperationLimit]) -> Table:
        return self.answer("trace_spectrum", self.wrapped.trace_spectrum, window=window, limits=limits)

    def edge_latency(self, window: Window) -> Table:
        return self.answer("edge_latency", self.wrapped.edge_latency, window=window)

    def db_statements(self, window: Window, service: str | None = None) -> Table:
        return self.answer("db_statements", self.wrapped.db_statements, window=window, service=service)

    def db_query_stats(self, window: Window, service: str | None = None) -> Table:
        return self.answer("db_query_stats", self.wrapped.db_query_stats, window=window, service=service)

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        return self.answer("metric_summary", self.wrapped.metric_summary, window=window, names=names,
                           service=service)

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        return self.answer("metric_stats", self.wrapped.metric_stats, window=window, names=names)

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        return self.answer("metric_series", self.wrapped.metric_series, window=window, names=names,
                           cumulative=cumulative, bucket_seconds=bucket_seconds)

    def log_templates(self, window: Window, service: str | None = None, min_severity: int = 13,
                      limit: int = 50) -> Table:
        return self.answer("log_templates", self.wrapped.log_templates, window=window, service=service,
                           min_severity=min_severity, limit=limit)

    def log_patterns(self, window: Window, per_service: int = 200, sample_lines: int = 20000) -> Table:
        return self.answer("log_patterns", self.wrapped.log_patterns, window=window, per_service=per_service,
                           sample_lines=sample_lines)

    def log_origins(self, window: Window, patterns: Sequence[str] = (), sample: float = 1.0) -> Table:
        return self.answer("log_origins", self.wrapped.log_origins, window=window, patterns=patterns, sample=sample)

    def version_stats(self, window: Window, services: Sequence[str]) -> Table:
        return self.answer("version_stats", self.wrapped.version_stats, window=window, services=services)

    def entry_services(self, window: Window) -> Table:
        return self.answer("entry_services", self.wrapped.entry_services, window=window)

    def time_range(self) -> Table:
        return self.answer("time_range", self.wrapped.time_range)

    def service_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self.answer("service_timeline", self.wrapped.service_timeline, window=window, service=service,
                           bucket_seconds=bucket_seconds)

    def entry_summary(self, window: Window, service: str, slow_ms: float) -> Table:
        return self.answer("entry_summary", self.wrapped.entry_summary, window=window, service=service,
                           slow_ms=slow_ms)

    def entry_endpoints(self, window: Window, service: str) -> Table:
        return self.answer("entry_endpoints", self.wrapped.entry_endpoints, window=window, service=service)

    def entry_timeline(self, window: Window, service: str, bucket_seconds: int = 60) -> Table:
        return self.answer("entry_timeline", self.wrapped.entry_timeline, window=window, service=service,
                           bucket_seconds=bucket_seconds)

    def changes(self, window: Window, services: Sequence[str] | None = None) -> Changes:
        return self.answer("changes", self.wrapped.changes, window=window, services=services)

    def previous_version(self, service: str, before: Change) -> str | None:
        return self.answer("previous_version", self.wrapped.previous_version, service=service, before=before)
