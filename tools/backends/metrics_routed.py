"""A composite backend: metric questions to a metrics source (Prometheus), every other question to the
backend that holds spans, logs and changes (the embedded store or Elasticsearch).

When the metrics source fails, only the metrics view fails: `metric_series` — what the metrics
specialist reads — raises, so that agent reports an error naming the source; the one-number questions
other specialists ask on the side (`metric_stats` of the request rate, `metric_summary` of pool metrics)
come back empty, their query saying why, and those agents go on from spans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from inquest.core import Window
from inquest.errors import BackendError
from inquest.tools.backends.delegating import DelegatingBackend
from inquest.tools.backends.protocol import Table, TelemetryBackend


class MetricSource(Protocol):
    """The metric questions of the TelemetryBackend protocol, as a backend of metrics alone answers them."""

    name: str

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table: ...

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table: ...

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table: ...


_COLUMNS = {"metric_summary": ("service", "host", "name", "mean", "max", "last", "points"),
            "metric_stats": ("service", "host", "name", "points", "median", "mad", "p90", "max", "first", "last")}


class MetricsRouted(DelegatingBackend):
    def __init__(self, wrapped: TelemetryBackend, metrics: MetricSource) -> None:
        super().__init__(wrapped)
        self.metrics = metrics
        self.name = f"{wrapped.name}+{metrics.name}"

    def metric_summary(self, window: Window, names: Sequence[str], service: str | None = None) -> Table:
        return self._or_empty("metric_summary", lambda: self.answer(
            "metric_summary", self.metrics.metric_summary, window=window, names=names, service=service))

    def metric_stats(self, window: Window, names: Sequence[str]) -> Table:
        return self._or_empty("metric_stats", lambda: self.answer(
            "metric_stats", self.metrics.metric_stats, window=window, names=names))

    def metric_series(self, window: Window, names: Sequence[str], cumulative: Sequence[str] = (),
                      bucket_seconds: int = 60) -> Table:
        return self.answer("metric_series", self.metrics.metric_series, window=window, names=names,
                           cumulative=cumulative, bucket_seconds=bucket_seconds)

    def close(self) -> None:
        for part in (self.wrapped, self.metrics):
            close = getattr(part, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _or_empty(question: str, ask: Callable[[], Table]) -> Table:
        try:
            return ask()
        except BackendError as exc:
            return Table(question, f"# not answered: {exc}", _COLUMNS[question], ())
