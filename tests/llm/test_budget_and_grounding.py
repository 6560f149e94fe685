"""The pure parts of the LLM mode: budgets, grounding of the model's answers, prompt templates, briefings."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from inquest.agents.llm import briefing, templates
from inquest.agents.llm.budget import Budget, BudgetExhausted, ModelServiceError
from inquest.agents.llm.grounding import (
    CoordinatorAnswer,
    InvalidAnswer,
    ModelClaim,
    ModelHypothesis,
    SpecialistAnswer,
    Subjects,
    ground,
    parse_answer,
)
from inquest.agents.llm.ranking_guard import hold_to_the_run
from inquest.config import LLMBudgets, ModelPrice
from inquest.core import ChangeRef, Evidence, Finding, Hypothesis, Incident, RankedHypothesis, Scope, Window
from inquest.redact import Redactor

PRICE = ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_call_is_admitted_with_max_tokens_lowered_to_what_the_token_budget_has_left():
    budget = Budget(LLMBudgets(tokens=5000), PRICE)
    first = budget.admit(input_tokens=1000, max_tokens=4096)
    assert first.max_tokens == 4000
    budget.settle(first, input_tokens=1000, output_tokens=500)
    second = budget.admit(input_tokens=1000, max_tokens=4096)
    assert second.max_tokens == 5000 - 1500 - 1000
    assert budget.spend().llm_calls == 1 and budget.spend().input_tokens == 1000


def test_parallel_calls_reserve_their_worst_case_so_together_they_cannot_overrun():
    budget = Budget(LLMBudgets(tokens=6000), PRICE)
    a = budget.admit(1000, 2000)
    b = budget.admit(1000, 2000)
    with pytest.raises(BudgetExhausted, match="token budget"):
        budget.admit(1000, 2000)  # 6000 reserved by a and b: nothing left for a third
    budget.settle(a, 1000, 2000)
    budget.settle(b, 1000, 2000)
    assert budget.spend().input_tokens + budget.spend().output_tokens <= 6000


def test_the_dollar_budget_prices_the_worst_case_and_stops_when_too_little_is_left():
    budget = Budget(LLMBudgets(dollars=0.05), PRICE)
    call = budget.admit(input_tokens=10_000, max_tokens=4096)  # $0.03 in; $0.02 left buys 1333 output tokens
    assert call.max_tokens == 1333
    budget.settle(call, 10_000, 1333)
    assert budget.spend().cost_usd == pytest.approx(0.05, abs=1e-3)
    with pytest.raises(BudgetExhausted, match="dollar budget"):
        budget.admit(1000, 4096)
    with pytest.raises(BudgetExhausted):  # stopped stays stopped, for tools too
        budget.admit_tool_call()


def test_tool_calls_and_wall_time_are_capped():
    clock = Clock()
    budget = Budget(LLMBudgets(tool_calls=2, wall_seconds=10), PRICE, clock=clock)
    budget.admit_tool_call()
    budget.admit_tool_call()
    with pytest.raises(BudgetExhausted, match="tool-call budget"):
        budget.admit_tool_call()
    late = Budget(LLMBudgets(wall_seconds=10), PRICE, clock=clock)
    clock.now = 10.5
    with pytest.raises(BudgetExhausted, match="wall-time budget"):
        late.admit(10, 10)
    assert late.stopped_by_budget and late.remaining_seconds() == 0


def test_a_service_failure_stops_the_work_for_a_different_reason_than_a_budget():
    budget = Budget(LLMBudgets(), PRICE)
    budget.stop("the model service failed: HTTP 529", by_budget=False)
    budget.stop("a later reason", by_budget=True)
    with pytest.raises(ModelServiceError, match="HTTP 529"):
        budget.check()
    assert not budget.stopped_by_budget


def _h(evidence, change=None, contradicting=(), service="billing"):
    return ModelHypothesis(summary="s", service=service, change_id=change, confidence=0.5, evidence=list(evidence),
                           contradicting=list(contradicting))


# Invented names that occur in no shipped world: the billing service, its deploy, the mailer's.
ABOUT = {"db-1": Subjects(frozenset({"billing"}), frozenset({"dep-billing-7.1"})),
         "deployment-5": Subjects(frozenset({"mailer"}), frozenset({"dep-mailer-3.2"})),
         "impact-2": Subjects()}
OWNERS = {"dep-billing-7.1": "billing", "dep-mailer-3.2": "mailer"}


def test_the_models_latency_is_its_critical_path_not_the_sum_of_parallel_calls():
    from inquest.agents.llm.review import _critical_path, _stage_waits

    budget = Budget(LLMBudgets(), PRICE)

    def specialist(seconds: list[float]) -> None:
        for s in seconds:  # one agent's calls follow each other in its own thread
            budget.waited(s)

    threads = [threading.Thread(target=specialist, args=(calls,)) for calls in ([0.4, 0.3], [0.5], [0.2, 0.1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    specialists = budget.waits()
    assert sorted(specialists.values()) == pytest.approx([0.3, 0.5, 0.7])
    coordinator = threading.Thread(target=specialist, args=([0.25],))
    coordinator.start()
    coordinator.join()
    # the slowest specialist (0.7 s), then the coordinator: 0.95 s of the 1.75 s the calls took in all
    assert _critical_path([specialists, _stage_waits(budget, specialists)]) == pytest.approx(0.95)


def test_grounding_keeps_what_cites_existing_evidence_and_counts_the_rest():
    grounded = ground(
        [_h(["db-1"], "dep-billing-7.1"), _h([]), _h(["db-1", "db-9"]), _h(["db-1"], "dep-imaginary"),
         _h(["db-1"], contradicting=["nope-1"])],
        [ModelClaim(text="ok", evidence=["deployment-5"]), ModelClaim(text="bare", evidence=[])],
        ABOUT, OWNERS)
    assert [h.change_id for h in grounded.hypotheses] == ["dep-billing-7.1"]
    assert [c.text for c in grounded.claims] == ["ok"]
    assert grounded.dropped == 5
    assert any("db-9" in r for r in grounded.reasons) and any("dep-imaginary" in r for r in grounded.reasons)


@pytest.mark.parametrize("hypothesis, why", [
    (_h(["impact-2"], "dep-billing-7.1", service="mailer"), "change dep-billing-7.1 is billing's"),
    (_h(["impact-2"], "dep-billing-7.1"), "no evidence about service billing"),
    (_h(["deployment-5"], service="billing"), "no evidence about service billing"),
    (_h(["db-1"], "dep-mailer-3.2", service=None), "no evidence about change dep-mailer-3.2"),
])
def test_a_hypothesis_whose_evidence_is_about_something_else_is_dropped_and_counted(hypothesis, why):
    grounded = ground([hypothesis], [], ABOUT, OWNERS)
    assert grounded.hypotheses == () and grounded.dropped == 1 and why in grounded.reasons[0]


def _ranked(service, change, evidence=(), contradicting=(), rank=1):
    return RankedHypothesis(rank=rank, summary=f"{service} {change}", service=service, confidence=0.5,
                            evidence=tuple(evidence), contradicting=tuple(contradicting),
                            change=ChangeRef(change, "deploy") if change else None)


def test_the_model_reorders_only_candidates_and_keeps_the_deterministic_first_without_contrary_evidence():
    deterministic = [_ranked("billing", "dep-billing-7.1", ["db-1"]), _ranked("mailer", "dep-mailer-3.2", rank=2)]
    invented = _ranked("search", None, ["deployment-5"])
    held = hold_to_the_run([deterministic[1], invented, deterministic[0]], deterministic, ABOUT, set())
    assert [h.service for h in held.hypotheses] == ["billing", "mailer"] and [h.rank for h in held.hypotheses] == [1, 2]
    assert len(held.dropped) == 1 and "search" in held.dropped[0]
    assert "stays first" in held.notes[0]


def test_the_model_moves_the_deterministic_first_down_with_evidence_against_it_and_the_report_says_so():
    deterministic = [_ranked("billing", "dep-billing-7.1", ["db-1"]), _ranked("mailer", "dep-mailer-3.2", rank=2)]
    demoted = _ranked("billing", "dep-billing-7.1", ["db-1"], contradicting=["db-1"])
    tool_found = _ranked("search", None, ["llm-trace-1"])
    about = {**ABOUT, "llm-trace-1": Subjects(frozenset({"search"}))}
    held = hold_to_the_run([deterministic[1], demoted, tool_found], deterministic, about, {"llm-trace-1"})
    assert [h.service for h in held.hypotheses] == ["mailer", "billing", "search"] and held.dropped == ()
    assert "citing evidence against it: db-1" in held.notes[0]


@pytest.mark.parametrize("text, why", [
    ("I think it was the database.", "no JSON object"),
    ("{'ranking': []", "no JSON object"),
    ('{"ranking": [{"summary": "x", "confidence": 7, "evidence": ["a-1"]}]}', "ranking.0.confidence"),
    ('{"narrative": []}', "ranking"),
    ('{"ranking": [}', "does not parse"),
])
def test_an_invalid_answer_says_why(text, why):
    with pytest.raises(InvalidAnswer, match=why):
        parse_answer(text, CoordinatorAnswer)


def test_an_answer_in_a_code_fence_after_a_sentence_is_read():
    answer = parse_answer('Sure.\n```json\n{"hypotheses": [], "observations": [], "extra": 1}\n```', SpecialistAnswer)
    assert answer.hypotheses == []


def test_prompts_come_from_versioned_files_with_every_placeholder_filled():
    assert templates.prompt_version().startswith(f"{templates.PROMPT_VERSION}-")
    task = templates.render("specialist", "task", agent="db", incident_id="INC-1", nonce="abc", focus="f",
                            briefing='{"sql": "WHERE sku = $1"}')
    assert "<telemetry-abc>" in task and "WHERE sku = $1" in task and "$" not in task.replace("$1", "")
    with pytest.raises(KeyError):
        templates.render("specialist", "task", agent="db")  # a missing value is an error, not a gap
    assert set(templates.sections("focus")) >= {"trace", "db", "deployment", "code_diff", "impact", "default"}


def test_a_briefing_is_bounded_and_redacted():
    start = datetime(2026, 11, 3, 13, 40, tzinfo=UTC)
    window = Window(start, start + timedelta(minutes=30))
    incident = Incident("INC-9", "checkout down for jane@example.com", "frontend", start, window)
    scope = Scope(window, Window(start - timedelta(hours=1), start), Window(start - timedelta(hours=2), window.end))
    evidence = tuple(Evidence(f"db-{i}", "db", "telemetry:spans", "SELECT 1", "x" * 5000) for i in range(100))
    finding = Finding("db", "ok", evidence, (Hypothesis("slow", "orders", 0.5, ("db-1",)),))
    redactor = Redactor()
    text = briefing.to_prompt({**briefing.incident_brief(incident, scope),
                               "finding": briefing.finding_brief(finding)}, redactor)
    data = json.loads(text)
    assert len(data["finding"]["evidence"]) == briefing.MAX_EVIDENCE
    assert data["finding"]["evidence_not_shown"] == 100 - briefing.MAX_EVIDENCE
    assert max(len(e["summary"]) for e in data["finding"]["evidence"]) <= briefing.MAX_TEXT
    assert "jane@example.com" not in text and redactor.counts["email"] == 1
    assert len(text) < 25_000


def test_prompt_examples_name_no_service_or_change_of_a_world_we_ship():
    from inquest.evals.sim.demo import GUILTY_CHANGE_ID

    text = "".join(templates.render(name, part, agent="db", incident_id="INC-1", nonce="n", focus="f", briefing="{}")
                   for name in ("specialist", "coordinator") for part in ("task", "expected_output"))
    assert "ledger" in text and "orders" not in text and GUILTY_CHANGE_ID not in text
