"""Triage: decide where the agents look before any of them starts.

The baseline is a window of the configured length that ends a little before the incident window
starts: long enough to be stable, close enough to share the traffic pattern, and separated by a gap so
that a slowly building fault does not leak into what "normal" means.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from inquest.agents.base import ask_together
from inquest.agents.baseline import detect_onset
from inquest.config import InvestigationConfig
from inquest.coordinator.coverage import baseline_problem, busiest, coverage_notes, measure
from inquest.core import Bucket, Coverage, Incident, Scope, Window
from inquest.errors import BackendError
from inquest.tools.backends.protocol import TelemetryBackend


def plan_scope(incident: Incident, settings: InvestigationConfig) -> Scope:
    window = incident.window
    baseline_end = window.start - timedelta(minutes=settings.baseline_gap_minutes)
    baseline = incident.baseline or Window(baseline_end - timedelta(minutes=settings.baseline_minutes), baseline_end)
    lookback = Window(window.start - timedelta(minutes=settings.lookback_minutes), window.end)
    return Scope(window=window, baseline=baseline, lookback=lookback)


def triage(incident: Incident, backend: TelemetryBackend, settings: InvestigationConfig) -> tuple[Scope, list[str]]:
    """The scope, refined with the entry service and the symptom's onset when the backend can tell.
    A backend that cannot answer here is noted, not fatal: the agents will report it in their own words."""
    scope = plan_scope(incident, settings)
    notes: list[str] = []
    try:
        entry, series, coverage = _ask(incident, backend, scope)
        onset = detect_onset(series[0], series[1])
    except BackendError as exc:
        notes.append(f"triage could not refine the scope: {exc}")
        return scope, notes
    if not incident.service:
        notes.append("the incident names no service" + (f"; investigating from the entry service {entry}"
                                                        if entry else " and the window has no entry service"))
    if onset is None:
        notes.append(f"no clear onset at {incident.service or entry or 'any service'} in {scope.window}; changes are judged "
                     f"against the incident start {incident.started_at:%H:%M} UTC")
    # What the data lacks is said before anything else: it explains every weak finding after it.
    notes = coverage_notes(coverage, scope) + notes
    return Scope(window=scope.window, baseline=scope.baseline, lookback=scope.lookback, onset=onset,
                 entry_service=entry, coverage=coverage, inconclusive=baseline_problem(coverage, scope)), notes


def _ask(incident: Incident, backend: TelemetryBackend, scope: Scope) -> tuple[str | None, list[list[Bucket]], Coverage]:
    """The entry service, the alerting service's timeline in both windows and what the windows hold, asked
    together: against a remote store each question is a round trip, and triage delays every agent. Only an
    incident that names no service waits for the entry service before asking for its timeline."""

    def timelines(alerting: str | None) -> list[list[Bucket]]:
        if not alerting:
            return [[], []]
        tables = ask_together(*(partial(backend.service_timeline, w, alerting) for w in (scope.baseline, scope.window)))
        return [[Bucket(r["bucket"], r["requests"], r["errors"], r["p95_ms"] or 0.0) for r in t.records()]
                for t in tables]

    def entry_then_timelines() -> tuple[str | None, list[list[Bucket]]]:
        entry = busiest(backend.entry_services(scope.window))
        # An alert that named no service (ingest says why) is watched where customers' requests enter.
        return entry, timelines(incident.service or entry)

    if incident.service:
        entries, series, coverage = ask_together(partial(backend.entry_services, scope.window),
                                                 partial(timelines, incident.service),
                                                 partial(measure, backend, scope, incident))
        return busiest(entries), series, coverage
    (entry, series), coverage = ask_together(entry_then_timelines, partial(measure, backend, scope, incident))
    return entry, series, coverage
