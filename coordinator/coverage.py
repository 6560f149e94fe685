"""Before any agent runs: does the store hold what the comparison needs? An empty baseline makes every
agent compare against nothing, and a window without root spans has no entry service to measure
customers' requests at; both are said first, with the fix, instead of surfacing as odd evidence later."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import partial

from inquest.agents.base import ask_together
from inquest.core import BASELINE_FIX, Counts, Coverage, Held, Incident, Scope, Window
from inquest.errors import BackendError
from inquest.tools.backends.protocol import Table, TelemetryBackend

# Thin: an order of magnitude fewer records per minute than the incident window holds. "Normal" is then
# estimated from a handful of points while the incident is measured from many.
THIN_RATIO = 10.0


def measure(backend: TelemetryBackend, scope: Scope, incident: Incident) -> Coverage:
    """Asks its four questions together (one round trip to a remote store). The service watched is the
    incident's, else the busiest entry service: the one triage names from the same answer."""
    window, baseline, stats, entries = ask_together(partial(backend.services, scope.window),
                                                    partial(backend.services, scope.baseline),
                                                    partial(backend.span_stats, scope.window),
                                                    partial(backend.entry_services, scope.window))
    counts_now, counts_before = _per_service(window), _per_service(baseline)
    service = incident.service or busiest(entries)
    kinds = sorted({str(r["kind"]) for r in stats.records() if r.get("kind")})
    roots = sum(int(r["requests"] or 0) for r in entries.records())
    return Coverage(window=_sum(counts_now.values()), baseline=_sum(counts_before.values()), service=service,
                    service_window=counts_now.get(service or "", Counts()),
                    service_baseline=counts_before.get(service or "", Counts()), span_kinds=tuple(kinds),
                    root_spans=roots)


def busiest(entries: Table) -> str | None:
    """The entry service (root spans) with the most requests: entry_services answers busiest first."""
    return entries.rows[0][0] if entries.rows else None


def baseline_problem(coverage: Coverage, scope: Scope) -> str | None:
    """Why the baseline cannot say what normal is (empty, or thin), or None. Every agent's anomaly is measured
    against it, so with it the verdict is withheld: a confidence computed against nothing is not one."""
    if coverage.baseline.total == 0:
        return f"the baseline {scope.baseline} holds no spans or logs, so there is no normal to compare with"
    if _rate(coverage.baseline.total, scope.baseline) * THIN_RATIO < _rate(coverage.window.total, scope.window):
        return (f"the baseline {scope.baseline} is thin ({coverage.baseline.total:,} spans and logs against "
                f"{coverage.window.total:,} in the incident window), so normal is guessed from too little")
    return None


def coverage_notes(coverage: Coverage, scope: Scope) -> list[str]:
    """What the report must say first about the data, each with what to do about it."""
    problem = baseline_problem(coverage, scope)
    notes = [f"verdict inconclusive: {problem}: {BASELINE_FIX}"] if problem else []
    if coverage.window.spans and not coverage.root_spans:
        notes.append(f"no root spans in the incident window (span kinds present: {', '.join(coverage.span_kinds)}), "
                     "so there is no entry service: requests, errors and latency where customers enter are unknown")
    return notes


def with_time_range(scope: Scope, backend: TelemetryBackend) -> Scope:
    """The scope whose coverage also says what time range the store holds, so a report with no root cause can
    show where the data is (a window set on the wrong day, telemetry that ends before the incident). Asked
    only for a weak verdict: first and last of every record is a scan the confident case need not pay for."""
    if scope.coverage is None:
        return scope
    try:
        rows = backend.time_range().records()
    except BackendError:  # the coverage block then shows the windows alone; the agents' notes say what failed
        return scope
    held = tuple(Held(str(r["kind"]), int(r["records"] or 0), r["first"], r["last"]) for r in rows)
    return replace(scope, coverage=replace(scope.coverage, held=held))


def _per_service(services: Table) -> dict[str, Counts]:
    return {str(r["service"]): Counts(int(r["spans"] or 0), int(r["logs"] or 0)) for r in services.records()}


def _sum(counts: Iterable[Counts]) -> Counts:
    items = list(counts)
    return Counts(sum(c.spans for c in items), sum(c.logs for c in items))


def _rate(records: int, window: Window) -> float:
    return records / max(window.minutes, 1e-9)
