"""What "the same answer" means for each question, when two backends answer it on the same data.

Group keys and counts must be equal. Percentiles may differ by the width of the Elasticsearch
backend's duration buckets (1% of the value, tools/backends/elasticsearch/percentiles.py) plus the rounding to 0.01 ms
both backends apply. Means and sums may differ in the last rounded digit: the backends add the same
numbers in a different order, and a sum that lands on a rounding boundary goes either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inquest.tools.backends.elasticsearch.percentiles import BUCKET_WIDTH
from inquest.tools.backends.protocol import Table


@dataclass(frozen=True)
class Spec:
    keys: tuple[str, ...]
    exact: tuple[str, ...] = ()
    percentiles: tuple[str, ...] = ()
    rounded: tuple[tuple[str, float], ...] = ()  # column, the rounding step
    limit: int | None = None  # the question returns at most this many rows (ties at the cut may differ)


def _steps(step: float, *columns: str) -> tuple[tuple[str, float], ...]:
    return tuple((c, step) for c in columns)


SPECS: dict[str, Spec] = {
    "services": Spec(("service",), ("spans", "logs")),
    "span_stats": Spec(("service", "operation", "kind", "peer", "is_db"), ("requests", "errors"), ("p50_ms", "p95_ms"),
                       _steps(0.01, "mean_self_ms") + _steps(0.1, "total_self_ms")),
    # `message` is the most common status message; among equally common ones either backend may pick
    # any, so the test checks it against the counts (most_common_messages) rather than for equality.
    "error_origins": Spec(("service", "operation", "kind", "peer", "is_db"), ("origins",), limit=50),
    "call_graph": Spec(("caller", "callee"), ("calls", "errors"), ("p95_ms",)),
    "db_statements": Spec(("service", "statement"), ("calls", "traces", "errors"), ("p95_ms",),
                          _steps(0.01, "calls_per_trace", "calls_per_request", "mean_ms"), limit=100),
    "db_query_stats": Spec(("service", "statement"), ("calls",), (),
                           _steps(0.01, "mean_ms", "rows_per_call") + _steps(0.1, "lock_wait_ms"), limit=100),
    "metric_summary": Spec(("service", "host", "name"), ("points",), (), _steps(0.001, "mean", "max", "last")),
    "metric_stats": Spec(("service", "host", "name"), ("points",), (),
                         _steps(0.0001, "median", "mad", "p90", "max", "first", "last")),
    "version_stats": Spec(("service", "version"), ("requests", "errors"), ("p95_ms",)),
    "log_templates": Spec(("service", "template"), ("count", "severity", "example"), limit=50),
    "log_patterns": Spec(("service", "pattern"), ("lines", "errors", "example", "total")),
    "log_origins": Spec(("service", "origin"), ("lines",)),
    "entry_services": Spec(("service",), ("requests",)),
    "service_timeline": Spec(("bucket",), ("requests", "errors"), ("p95_ms",)),
    "entry_summary": Spec((), ("requests", "failed", "slow", "users", "tenants", "failed_users", "failed_tenants")),
    "span_minutes": Spec((), ("minutes",), (), _steps(0.001, "covered_minutes")),
    "operation_latency": Spec(("service", "operation", "kind"), ("requests",),
                              ("p50_ms", "p99_ms", "self_p50_ms", "self_p99_ms"), _steps(0.001, "min_ms")),
    "edge_latency": Spec(("caller", "callee", "client"), ("calls",),
                         ("caller_p50_ms", "callee_p50_ms", "callee_p90_ms", "callee_self_p50_ms", "callee_self_p90_ms",
                          "gap_p50_ms", "gap_p90_ms")),
    "trace_spectrum": Spec(("service",), ("own_ef", "own_ep", "judged", "slow_self", "failing_traces", "traces"), (),
                           _steps(0.1, "over_self_ms")),
    "entry_endpoints": Spec(("endpoint",), ("requests", "failed"), ("p95_ms",), limit=20),
    "entry_timeline": Spec(("bucket",), ("requests", "failed"), ("p95_ms",)),
}


def close_enough(expected: Any, actual: Any, step: float) -> bool:
    if expected is None or actual is None:
        return expected is actual
    # One rounding step either way, plus a hair for magnitudes where doubles run out of digits.
    return abs(float(expected) - float(actual)) <= step * 1.01 + abs(float(expected)) * 1e-12


def percentile_close(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is actual
    return abs(float(expected) - float(actual)) <= BUCKET_WIDTH * abs(float(expected)) + 0.0101


def differences(question: str, expected: Table, actual: Table) -> list[str]:
    """Every way `actual` departs from `expected`, in words; empty when they are the same answer."""
    spec = SPECS[question]
    if expected.columns != actual.columns:
        return [f"columns {actual.columns} != {expected.columns}"]
    want = {_key(r, spec): r for r in expected.records()}
    got = {_key(r, spec): r for r in actual.records()}
    problems = []
    truncated = spec.limit is not None and len(expected.rows) >= spec.limit
    if not truncated:
        problems += [f"missing group {k}" for k in want.keys() - got.keys()]
        problems += [f"unexpected group {k}" for k in got.keys() - want.keys()]
    for key in want.keys() & got.keys():
        a, b = want[key], got[key]
        problems += [f"{key} {c}: {b[c]!r} != {a[c]!r}" for c in spec.exact if a[c] != b[c]]
        problems += [f"{key} {c}: {b[c]!r} not within 1% of {a[c]!r}" for c in spec.percentiles
                     if not percentile_close(a[c], b[c])]
        problems += [f"{key} {c}: {b[c]!r} != {a[c]!r} (step {step})" for c, step in spec.rounded
                     if not close_enough(a[c], b[c], step)]
    return problems


def _key(record: dict, spec: Spec) -> tuple:
    return tuple(record[k] for k in spec.keys)
