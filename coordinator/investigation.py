"""One investigation, start to finish: triage → fan-out → merge and rank → Report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from opentelemetry import trace

from inquest.agents import build_agents
from inquest.agents.base import Agent, Deps
from inquest.config import InvestigationConfig
from inquest.coordinator.coverage import with_time_range
from inquest.coordinator.fanout import Progress, fan_out, started
from inquest.coordinator.mitigation import mitigation_for
from inquest.coordinator.ranking import rank
from inquest.coordinator.shared_answers import SharedAnswers
from inquest.coordinator.traced_backend import TracedBackend
from inquest.coordinator.triage import plan_scope, triage
from inquest.core import (
    ROOT_CAUSE_CONFIDENCE,
    AgentProgress,
    AgentRun,
    Finding,
    Impact,
    Incident,
    RankedHypothesis,
    Report,
    Scope,
)
from inquest.deadline import Deadline, bounded
from inquest.redact import describe, redact_report

if TYPE_CHECKING:
    from inquest.agents.llm.review import Review

_tracer = trace.get_tracer("inquest.coordinator")
T = TypeVar("T")


def _first(findings: Sequence[Finding], channel: Callable[[Finding], T | None]) -> T | None:
    """The first finding's value on a channel one agent fills (impact, call graph, ...)."""
    return next((value for f in findings if (value := channel(f))), None)


def _notes(findings: Sequence[Finding]) -> list[str]:
    notes = []
    for f in findings:
        if f.status in ("error", "timeout"):
            notes.append(f"the {f.agent} agent {'failed' if f.status == 'error' else 'timed out'} ({f.error}); "
                         "its view is missing from this report")
        elif f.status == "no_data":
            notes.append(f"the {f.agent} agent found no data to examine")
        # What an agent could not check, or checked against too little, belongs in the report too.
        notes.extend(f"{f.agent}: {note}" for note in f.notes)
    return notes


def _topology(findings: Sequence[Finding], deps: Deps, scope: Scope) -> list[tuple[str, str]]:
    """Who calls whom when no agent saw it in the incident window (no spans there): the declared call
    graph (a service catalogue, a dataset's dependency file), else the one observed over the look-back,
    since services call the same services an hour earlier. The fusion walks it."""
    if any(f.call_graph for f in findings):
        return []
    edges: list[tuple[str, str]] = []
    for ask in (deps.backend.dependencies, partial(deps.backend.call_graph, scope.lookback)):
        try:
            edges = [(r["caller"], r["callee"]) for r in ask().records()]
        except Exception:  # noqa: BLE001 - a topology is a help, never a reason to fail the report
            edges = []
        if edges:
            break
    return edges


def _start_triage(incident: Incident, deps: Deps, settings: InvestigationConfig,
                  deadline: Deadline) -> Callable[[], tuple[Scope, list[str]]]:
    """Starts triage under the deadline; the returned function waits for its scope. It only refines where
    agents look, so it gets at most half of what is left (and no more than an agent would): a backend that
    hangs here must not leave the agents no time. Started before the agents are built, its questions run in
    the store (which releases the GIL) while their modules import."""
    allowed = min(settings.agent_timeout_s, deadline.remaining() / 2)
    until = time.perf_counter() + allowed
    wait = started("triage", lambda: triage(incident, deps.backend, settings))

    def scope() -> tuple[Scope, list[str]]:
        try:
            return wait(until - time.perf_counter())
        except TimeoutError:
            return plan_scope(incident, settings), [
                f"triage did not finish within {allowed:.3g} s; the agents look at the incident window as declared"]

    return scope


def _llm_stage(incident: Incident, scope: Scope, findings: Sequence[Finding], ranked: Sequence[RankedHypothesis],
               deps: Deps, deadline: Deadline, on_progress: Progress | None) -> Review:
    """The LLM agents' review, timed from here: what is left of importing crewai is the stage's cost too."""
    started = time.perf_counter()
    from inquest.agents.llm.review import review_findings  # crewai is imported on this path only

    # The LLM stage's wall-time budget counts from the investigation's start, not from its own.
    llm_deadline = Deadline(at=deadline.started + deps.config.llm.budgets.wall_seconds, started=deadline.started)
    with bounded(llm_deadline):
        review = review_findings(incident, scope, findings, ranked, deps, fan_out, on_progress)
    return replace(review, usage=replace(review.usage, llm_stage_ms=int((time.perf_counter() - started) * 1000)))


def investigate(incident: Incident, deps: Deps, agents: Sequence[Agent] | None = None,
                on_progress: Progress | None = None) -> Report:
    settings = deps.config.investigation
    deadline = Deadline.after(settings.deadline)
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    with (_tracer.start_as_current_span("investigation", attributes={"inquest.incident.id": incident.id}) as span,
          bounded(deadline)):
        if not isinstance(deps.backend, TracedBackend):
            # Each distinct question is computed once per investigation, however many agents ask it.
            deps = replace(deps, backend=TracedBackend(SharedAnswers(deps.backend)))
        context = span.get_span_context()
        trace_id = format(context.trace_id, "032x") if context.is_valid else None
        triaged = _start_triage(incident, deps, settings, deadline)
        team = list(agents) if agents is not None else build_agents(settings.agents)
        for agent in team:
            (on_progress or (lambda _p: None))(AgentProgress(agent.name, "queued"))
        scope, notes = triaged()
        if not incident.service and scope.entry_service:
            incident = replace(incident, service=scope.entry_service)  # the agents start where requests enter
        findings = fan_out(team, incident, scope, deps, min(settings.agent_timeout_s, deadline.remaining()),
                           on_progress)
        evidence = tuple(e for f in findings for e in f.evidence)
        ranked = rank(findings, {e.id: e for e in evidence}, scope.entry_service, _topology(findings, deps, scope),
                      alerting=incident.service)
        review = None
        if deps.config.llm.enabled:
            review = _llm_stage(incident, scope, findings, ranked, deps, deadline, on_progress)
            ranked, evidence = list(review.hypotheses), evidence + review.evidence
        if not ranked or ranked[0].confidence < ROOT_CAUSE_CONFIDENCE or scope.inconclusive:
            scope = with_time_range(scope, deps.backend)
    rollback_to: dict[str, str] = {}
    for f in findings:
        rollback_to.update(f.rollback_to)
    ranked = [replace(h, mitigation=mitigation_for(h.service, h.change, h.fault, rollback_to)) for h in ranked]
    report = Report(
        incident=incident, scope=scope, hypotheses=tuple(ranked), evidence=evidence,
        agents=tuple(AgentRun.of(f) for f in findings),
        impact=_first(findings, lambda f: f.impact) or Impact(), started_at=started_at,
        duration_ms=int((time.perf_counter() - clock) * 1000),
        notes=tuple(notes + _notes(findings)), facts={f.agent: dict(f.facts) for f in findings},
        trace_id=trace_id, timeline=_first(findings, lambda f: f.timeline) or (),
        call_graph=_first(findings, lambda f: f.call_graph) or (),
        anomalous_services=_first(findings, lambda f: f.anomalous_services) or (),
    )
    if review is not None:
        report = replace(report, mode=review.mode, usage=review.usage, narrative=review.narrative,
                         agents=report.agents + review.agents, notes=report.notes + review.notes)
    # Every renderer and the JSON see only redacted text: telemetry leaks secrets into what agents quote.
    report, found = redact_report(report, ips=deps.config.llm.redact_ips)
    return replace(report, notes=report.notes + (f"redacted {describe(found)} from this report",)) if found else report
