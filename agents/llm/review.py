"""The LLM stage: Claude-backed crewai agents review what the deterministic agents found.

The coordinator calls `review_findings` after its own ranking, handing in its fan-out. One specialist
agent per deterministic finding runs in parallel through that fan-out — same deadlines, failures become
Findings — each briefed with its deterministic counterpart's findings and holding read-only tools. Then
the coordinator agent merges everything into a ranking and a narrative.

What comes back is always a report the coordinator can use:
- everything worked: the model's grounded ranking and narrative (mode "llm");
- a budget stopped the work: the deterministic ranking with the specialists' grounded additions after
  it, marked partial — the best report so far;
- the model service failed, or the coordinator's answer was invalid twice: the deterministic report,
  with a note saying why. Never a crash and never a hang: every call is bounded by the wall-time budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from inquest.agents.base import Deps
from inquest.agents.llm import briefing, templates
from inquest.agents.llm.budget import Budget
from inquest.agents.llm.gateway import ModelGateway
from inquest.agents.llm.grounding import (
    CoordinatorAnswer,
    Grounded,
    InvalidAnswer,
    ModelHypothesis,
    SpecialistAnswer,
    Subjects,
    ground,
    parse_answer,
)
from inquest.agents.llm.ranking_guard import hold_to_the_run
from inquest.core import (
    AgentProgress,
    AgentRun,
    ChangeRef,
    Claim,
    Evidence,
    Finding,
    Hypothesis,
    Incident,
    ModelReview,
    RankedHypothesis,
    Scope,
    Usage,
)
from inquest.deadline import current as current_deadline
from inquest.errors import ConfigError
from inquest.redact import Redactor, describe

MODE = "llm"
COORDINATOR = "llm-coordinator"
GRACE_S = 2.0  # past the wall-time budget, for agents to notice the refusal of their next call
MAX_EVIDENCE_BRIEFED = 80

RunParallel = Callable[..., list[Finding]]  # coordinator.fanout.fan_out's shape, handed in
A = TypeVar("A", SpecialistAnswer, CoordinatorAnswer)


@dataclass(frozen=True)
class Review:
    hypotheses: tuple[RankedHypothesis, ...]
    evidence: tuple[Evidence, ...]  # evidence the LLM agents' tool calls produced and the report cites
    agents: tuple[AgentRun, ...]
    narrative: tuple[Claim, ...]
    usage: Usage
    notes: tuple[str, ...]
    mode: str


@dataclass
class Session:
    """What the LLM agents of one investigation share: the budget, the redactor, the model."""

    incident: Incident
    scope: Scope
    findings: Sequence[Finding]
    ranked: Sequence[RankedHypothesis]
    deps: Deps
    budget: Budget
    redactor: Redactor
    llm: Any  # crewai's LLM: typed by crew.py, which only the LLM stage imports
    changes: dict[str, ChangeRef]
    owners: dict[str, str | None]  # change id → the service it changed
    nonce: str = field(default_factory=briefing.nonce)
    retried: list[str] = field(default_factory=list)  # who needed the retry, and why

    def about(self, extra: Sequence[Evidence] = ()) -> dict[str, Subjects]:
        """Every citable evidence id → what it is about: the subjects its agent gave it, and the services
        and changes of the deterministic hypotheses that cite it (the fusion ties evidence across agents)."""
        services: dict[str, set[str]] = {}
        changes: dict[str, set[str]] = {}
        for e in [*(e for f in self.findings for e in f.evidence), *extra]:
            services.setdefault(e.id, set()).update(e.services)
            changes.setdefault(e.id, set()).update(e.changes)
        for h in self.ranked:
            for evidence_id in (*h.evidence, *h.contradicting):
                if h.service and evidence_id in services:
                    services[evidence_id].add(h.service)
                if h.change and evidence_id in changes:
                    changes[evidence_id].add(h.change.id)
        return {i: Subjects(frozenset(services[i]), frozenset(changes[i])) for i in services}

    def ask(self, who: str, shape: type[A], template: str, values: dict[str, str], tools: Sequence[Any] = ()) -> A:
        """Runs one agent's task and validates its answer; one retry, told why, on an invalid answer."""
        from inquest.agents.llm.crew import run_task

        parts = {s: templates.render(template, s, **values)
                 for s in ("role", "goal", "backstory", "task", "expected_output")}
        description = parts["task"]
        for attempt in (1, 2):
            text = run_task(self.llm, role=parts["role"], goal=parts["goal"], backstory=parts["backstory"],
                            description=description, expected_output=parts["expected_output"], tools=tools,
                            max_iter=self.deps.config.llm.max_iterations)
            try:
                return parse_answer(text, shape)
            except InvalidAnswer as exc:
                if attempt == 2:
                    raise
                self.retried.append(f"{who}: {exc}")
                description = parts["task"] + "\n\n" + templates.render("retry", "note", problem=str(exc))
        raise AssertionError("unreachable")

    def hypothesis(self, h: ModelHypothesis) -> Hypothesis:
        return Hypothesis(summary=h.summary, service=h.service, confidence=h.confidence, supports=tuple(h.evidence),
                          contradicts=tuple(h.contradicting), change=self.changes.get(h.change_id or ""),
                          fault=h.fault)


class ModelSpecialist:
    """An LLM agent reviewing one deterministic agent's finding; runs in the coordinator's fan-out."""

    def __init__(self, base: Finding, session: Session) -> None:
        self.base = base
        self.session = session
        self.name = f"llm-{base.agent}"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        from inquest.agents.llm.toolset import Toolbox, tools_for  # crewai tools: imported once crewai is wanted

        started = time.perf_counter()
        s = self.session
        box = Toolbox(self.name, deps, scope, s.budget, s.redactor)
        # Redacted before a brief cuts long text: a secret cut in half no longer matches a rule.
        brief = {**briefing.incident_brief(s.redactor.value(incident), scope),
                 "deterministic_finding": briefing.finding_brief(s.redactor.value(self.base))}
        values = {"agent": self.base.agent, "incident_id": incident.id, "nonce": s.nonce,
                  "focus": templates.sections("focus").get(self.base.agent, templates.sections("focus")["default"]),
                  "briefing": briefing.to_prompt(brief, s.redactor)}
        answer = s.ask(self.name, SpecialistAnswer, "specialist", values, tools_for(self.base.agent, box))
        grounded = ground(answer.hypotheses, answer.observations, s.about(box.evidence), s.owners)
        return Finding(
            agent=self.name, status="ok", evidence=tuple(box.evidence),
            hypotheses=tuple(s.hypothesis(h) for h in grounded.hypotheses),
            duration_ms=int((time.perf_counter() - started) * 1000),
            review=ModelReview(claims=_claims(grounded), ungrounded=grounded.dropped, dropped=grounded.reasons,
                               asked=tuple(question for question, _ in box.asked)))


class ModelCoordinator:
    """The coordinator agent, run through the fan-out too so its deadline is enforced the same way."""

    name = COORDINATOR

    def __init__(self, session: Session, specialists: Sequence[Finding]) -> None:
        self.session = session
        self.specialists = specialists

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        started = time.perf_counter()
        s = self.session
        evidence = [e for f in [*s.findings, *self.specialists] for e in f.evidence]
        brief = {**briefing.incident_brief(s.redactor.value(incident), scope),
                 "deterministic_ranking": briefing.ranking_brief(s.redactor.value(list(s.ranked))),
                 "evidence": [{"id": e.id, "agent": e.agent, "source": e.source,
                               "summary": briefing.cut(s.redactor.text(e.summary))}
                              for e in evidence[:MAX_EVIDENCE_BRIEFED]],
                 "specialists": briefing.specialists_brief(s.redactor.value(list(self.specialists)))}
        values = {"incident_id": incident.id, "nonce": s.nonce, "briefing": briefing.to_prompt(brief, s.redactor)}
        answer = s.ask(self.name, CoordinatorAnswer, "coordinator", values)
        grounded = ground(answer.ranking, answer.narrative, s.about([e for f in self.specialists for e in f.evidence]),
                          s.owners)
        return Finding(agent=self.name, status="ok", hypotheses=tuple(s.hypothesis(h) for h in grounded.hypotheses),
                       duration_ms=int((time.perf_counter() - started) * 1000),
                       review=ModelReview(claims=_claims(grounded),
                                          reasons=tuple(tuple(h.reasons) for h in grounded.hypotheses),
                                          ungrounded=grounded.dropped, dropped=grounded.reasons))


def _claims(grounded: Grounded) -> tuple[Claim, ...]:
    return tuple(Claim(c.text, tuple(c.evidence)) for c in grounded.claims)


def review_findings(incident: Incident, scope: Scope, findings: Sequence[Finding], ranked: Sequence[RankedHypothesis],
                    deps: Deps, run_parallel: RunParallel,
                    on_progress: Callable[[AgentProgress], None] | None = None) -> Review:
    """The review; its usage says how long the model service took along the critical path (the stage's
    own wall time is the caller's to measure: it includes importing this module)."""
    review, waits = _review(incident, scope, findings, ranked, deps, run_parallel, on_progress)
    return replace(review, usage=replace(review.usage, llm_model_ms=int(_critical_path(waits) * 1000)))


def _critical_path(stages: Sequence[Mapping[threading.Thread, float]]) -> float:
    """The model's latency along the critical path: per stage, its slowest thread's waits."""
    return sum(max(waits.values(), default=0.0) for waits in stages)


def _stage_waits(budget: Budget, before: Mapping[threading.Thread, float]) -> dict[threading.Thread, float]:
    """Each thread's waits on the model since `before`, the earlier stages' (the fan-out's threads are new
    per stage, but a caller's own thread may serve both)."""
    return {thread: waited - before.get(thread, 0.0) for thread, waited in budget.waits().items()}


def _review(incident: Incident, scope: Scope, findings: Sequence[Finding], ranked: Sequence[RankedHypothesis],
            deps: Deps, run_parallel: RunParallel, on_progress: Callable[[AgentProgress], None] | None,
            ) -> tuple[Review, list[dict[threading.Thread, float]]]:
    """The review, and per stage (specialists, coordinator) each thread's seconds waited on the model."""
    settings = deps.config.llm
    api_key = settings.api_key()  # a missing key is the user's to fix: it propagates, as a usage error
    try:
        from inquest.agents.llm.crew import claude, token_counter  # crewai is imported here, on this path only
    except ImportError as exc:
        raise ConfigError(f"the LLM mode needs crewai and anthropic ({exc}): install Inquest with its llm extra, "
                          "e.g. pip install 'inquest[llm]'") from None
    # Counted from the investigation's start (its deadline's), so the deterministic stage's time is spent too.
    running = current_deadline()
    budget = Budget(settings.budgets, settings.prices[settings.model],
                    started=running.started if running is not None else None)
    try:
        gateway = ModelGateway(budget, Redactor(settings.redact_ips), retries=settings.retries,
                               request_timeout_s=settings.request_timeout_s,
                               count_tokens=token_counter(settings, api_key))
        known = deps.backend.changes(scope.lookback).items
        session = Session(incident, scope, findings, ranked, deps, budget, Redactor(settings.redact_ips),
                          claude(settings, api_key, gateway), {c.id: ChangeRef.of(c) for c in known},
                          {c.id: c.service for c in known})
        specialists = [ModelSpecialist(f, session) for f in findings]
        done = run_parallel(specialists, incident, scope, deps, budget.remaining_seconds() + GRACE_S, on_progress)
        stages = [budget.waits()]
        coordinator: Finding | None = None
        if budget.stop_reason is None:
            coordinator = run_parallel([ModelCoordinator(session, done)], incident, scope, deps,
                                       budget.remaining_seconds() + GRACE_S, on_progress)[0]
            stages.append(_stage_waits(budget, stages[0]))
        return _assemble(session, done, coordinator), stages
    except Exception as exc:  # noqa: BLE001 - the LLM stage's boundary: its failure is a note, never a crash
        return Review(hypotheses=tuple(ranked), evidence=(), agents=(), narrative=(),
                      usage=_usage(budget, settings.model, 0, partial=False),
                      notes=(f"the LLM review failed ({type(exc).__name__}: {exc}); this is the deterministic report",),
                      mode="deterministic"), [budget.waits()]


def _usage(budget: Budget, model: str, ungrounded: int, partial: bool) -> Usage:
    spend = budget.spend()
    return Usage(llm_calls=spend.llm_calls, input_tokens=spend.input_tokens, output_tokens=spend.output_tokens,
                 cost_usd=spend.cost_usd, tool_calls=spend.tool_calls, ungrounded_claims=ungrounded, model=model,
                 prompt_version=templates.prompt_version(), partial=partial)


def _assemble(s: Session, specialists: list[Finding], coordinator: Finding | None) -> Review:
    budget, settings = s.budget, s.deps.config.llm
    # An agent refused because the work had already stopped says nothing the stop's own note does not.
    notes = [f"the {f.agent} agent {'failed' if f.status == 'error' else 'timed out'} ({f.error})"
             for f in specialists if f.status in ("error", "timeout") and "LLM work stopped" not in (f.error or "")]
    notes += [f"{who}'s first answer was not valid ({why}); it was asked once more" for who, why in
              (r.split(": ", 1) for r in s.retried)]
    runs = [*specialists, *([coordinator] if coordinator else [])]
    dropped = [r for f in runs if f.review for r in f.review.dropped]
    notes += [f"dropped an ungrounded claim: {r}" for r in dropped[:5]]
    if s.redactor.counts:
        notes.append(f"redacted {describe(s.redactor.counts)} from what was sent to the model")
    partial = budget.stop_reason is not None and budget.stopped_by_budget
    narrative: tuple[Claim, ...] = ()
    hypotheses, mode, held_out = tuple(s.ranked), MODE, 0
    if coordinator is not None and coordinator.status == "ok" and coordinator.hypotheses:
        tools = [e for f in specialists for e in f.evidence]
        held = hold_to_the_run(_ranked(coordinator, s, specialists), s.ranked, s.about(tools), {e.id for e in tools})
        hypotheses, held_out = held.hypotheses, len(held.dropped)
        notes += [*held.notes, *(f"dropped an ungrounded claim: {r}" for r in held.dropped[:5])]
        narrative = coordinator.review.claims if coordinator.review else ()
    elif partial:
        hypotheses = tuple(s.ranked) + _leads(s, specialists, budget.stop_reason or "")
        notes.append(f"the LLM review stopped early: {budget.stop_reason}; this is the best report so far "
                     "(the deterministic ranking, then what the LLM agents added)")
    else:
        mode = "deterministic"
        why = (budget.stop_reason if budget.stop_reason
               else coordinator.error if coordinator is not None and coordinator.error
               else "its ranking cited no existing evidence")
        notes.append(f"the LLM review was abandoned ({why}); this is the deterministic report")
    cited = {i for h in hypotheses for i in (*h.evidence, *h.contradicting)} | {i for c in narrative for i in c.evidence}
    usage = _usage(budget, settings.model, held_out + sum(f.review.ungrounded for f in runs if f.review), partial)
    return Review(
        hypotheses=hypotheses, evidence=tuple(e for f in specialists for e in f.evidence if e.id in cited),
        agents=tuple(AgentRun.of(f) for f in runs),
        narrative=narrative, usage=usage, notes=tuple(notes), mode=mode)


def _agents_of(ids: Sequence[str], by_id: dict[str, str]) -> tuple[str, ...]:
    return tuple(sorted({by_id[i] for i in ids if i in by_id}))


def _ranked(coordinator: Finding, s: Session, specialists: Sequence[Finding]) -> tuple[RankedHypothesis, ...]:
    by_id = {e.id: e.agent for f in [*s.findings, *specialists] for e in f.evidence}
    queries = {(h.service, h.change.id if h.change else None): h.query for h in s.ranked if h.query}
    reasons = coordinator.review.reasons if coordinator.review else ()
    return tuple(RankedHypothesis(
        rank=i + 1, summary=h.summary, service=h.service, confidence=h.confidence, evidence=h.supports,
        contradicting=h.contradicts, agents=_agents_of(h.supports, by_id), change=h.change,
        query=queries.get((h.service, h.change.id if h.change else None)), fault=h.fault,
        reasons=reasons[i] if i < len(reasons) else ()) for i, h in enumerate(coordinator.hypotheses))


def _leads(s: Session, specialists: Sequence[Finding], stop_reason: str) -> tuple[RankedHypothesis, ...]:
    """What the specialists proposed that the deterministic ranking does not already hold."""
    by_id = {e.id: e.agent for f in [*s.findings, *specialists] for e in f.evidence}
    known = {(h.service, h.change.id if h.change else None, h.fault) for h in s.ranked}
    leads, rank = [], len(s.ranked)
    for f in specialists:
        for h in f.hypotheses:
            key = (h.service, h.change.id if h.change else None, h.fault)
            if key in known:
                continue
            known.add(key)
            rank += 1
            leads.append(RankedHypothesis(
                rank=rank, summary=h.summary, service=h.service, confidence=h.confidence, evidence=h.supports,
                contradicting=h.contradicts, agents=_agents_of(h.supports, by_id), change=h.change, fault=h.fault,
                reasons=(f"proposed by {f.agent}; not reviewed by the coordinator agent ({stop_reason})",)))
    return tuple(leads)
