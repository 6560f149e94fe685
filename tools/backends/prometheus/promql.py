"""PromQL for the metric questions: pure functions from a question to the expression that answers it.

Windows are half-open [start, end) and Prometheus's range selectors (2.x) are closed [t - r, t]: a
range of `span − 1 ms` evaluated at `end − 1 ms` holds exactly the samples of [start, end) (timestamps
are milliseconds). Functions over a range (`count_over_time`, `quantile_over_time`, ...) drop the metric
name, so every part of a combined expression is tagged with `label_replace(…, "inquest", "<stat> <name>")`
and the parts are joined with `or`: one request answers every statistic of every metric asked for, and
the expression pasted into Prometheus's console shows the same table.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inquest.config import PrometheusLabels

TAG = "inquest"  # the label naming which statistic of which metric a result series is
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
# The OpenTelemetry → Prometheus translation appends the unit and, to counters, _total.
_UNIT_SUFFIXES = ("", "_seconds", "_milliseconds", "_bytes", "_ratio")
HISTOGRAM_PARTS = {".bucket": "_bucket", ".sum": "_sum", ".count": "_count"}


def label_name(name: str) -> str:
    """`app.kubernetes.io/name` → `app_kubernetes_io_name`, as Kubernetes service discovery writes it."""
    return _INVALID.sub("_", name)


def metric_name(name: str) -> str:
    """`http.server.request.rate` → `http_server_request_rate`."""
    cleaned = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    return "_" + cleaned if cleaned[:1].isdigit() else cleaned


def candidates(name: str) -> list[str]:
    """Prometheus names a metric may be stored under, the plain translation first."""
    for part, suffix in HISTOGRAM_PARTS.items():
        if name.endswith(part):
            base = metric_name(name.removesuffix(part))
            return [base + unit + suffix for unit in _UNIT_SUFFIXES]
    base = metric_name(name)
    return [base + unit + total for unit in _UNIT_SUFFIXES for total in ("", "_total")]


def is_counter(prometheus_name: str, present: Collection[str]) -> bool:
    """Prometheus's naming convention: counters end in _total; a histogram's _bucket, _sum and _count are
    counters, known by the _bucket series beside them (a gauge may well be named `….count`)."""
    if prometheus_name.endswith("_total"):
        return True
    for suffix in HISTOGRAM_PARTS.values():
        if prometheus_name.endswith(suffix):
            return prometheus_name.removesuffix(suffix) + "_bucket" in present
    return False


@dataclass(frozen=True)
class Grouping:
    """The labels results are grouped by, and how a row's service, host and version are read from them."""

    service: tuple[str, ...]
    host: tuple[str, ...]
    version: tuple[str, ...]

    @classmethod
    def of(cls, labels: PrometheusLabels) -> Grouping:
        def names(values: Iterable[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(label_name(v) for v in values))

        return cls(names(labels.service), names(labels.host), names(labels.version))

    def by(self, *extra: str) -> str:
        return ", ".join(dict.fromkeys((*self.service, *self.host, *self.version, *extra)))

    @staticmethod
    def first(labels: dict[str, str], names: Sequence[str]) -> str | None:
        return next((labels[n] for n in names if labels.get(n)), None)


def window_range(start: datetime, end: datetime) -> str:
    """The range selector covering [start, end) when evaluated at end − 1 ms."""
    return f"[{max(_ms(end - start) - 1, 1)}ms]"


def last_instant(end: datetime) -> datetime:
    return end - timedelta(milliseconds=1)


def _ms(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def growth(counter: str, span: timedelta) -> str:
    """A counter's increase over the `span` ending at the evaluation time, as the store computes it: its
    last value minus its last value before the span, so a step between two buckets' samples is counted in
    the later bucket. `increase()` alone sees only the samples inside the span and extrapolates their
    slope to its edges: a restart counted between buckets would be lost, or doubled. Where that difference
    is negative the counter was reset, and `increase()` (which knows resets) answers instead."""
    ms = _ms(span)
    return f"(({counter} - {counter} offset {ms}ms) >= 0 or increase({counter}[{max(ms - 1, 1)}ms]))"


def tagged(expression: str, stat: str, name: str) -> str:
    return f'label_replace({expression}, "{TAG}", "{stat} {name}", "", "")'


def union(parts: Sequence[str]) -> str:
    return "\n or ".join(parts)


def parse_tag(value: str) -> tuple[str, str]:
    stat, _, name = value.partition(" ")
    return stat, name


@dataclass(frozen=True)
class Bucket:
    start: datetime  # the bucket's label (a multiple of its width since the epoch, as DuckDB's time_bucket)
    low: datetime  # what of it lies in the window
    high: datetime


def buckets(start: datetime, end: datetime, seconds: int) -> list[Bucket]:
    """The window cut into epoch-aligned buckets; the first and last may be partial."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    width = timedelta(seconds=seconds)
    at = epoch + width * ((start - epoch) // width)
    out = []
    while at < end:
        out.append(Bucket(at, max(at, start), min(at + width, end)))
        at += width
    return out


def runs(grid: Sequence[Bucket]) -> list[list[Bucket]]:
    """Consecutive buckets of equal extent form one query_range; a partial first or last bucket its own."""
    out: list[list[Bucket]] = []
    for bucket in grid:
        span = bucket.high - bucket.low
        if out and out[-1][-1].high - out[-1][-1].low == span and out[-1][-1].high == bucket.low:
            out[-1].append(bucket)
        else:
            out.append([bucket])
    return out
