"""The LLM mode end to end: crewai agents backed by Claude's native provider, talking to the scripted
Messages API server on 127.0.0.1 through the real `anthropic` client, against the demo world."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from test_redact import PLANTED

from inquest.coordinator.fanout import fan_out
from inquest.evals.sim.demo import GUILTY_CHANGE_ID, PLANTED_SECRETS
from llm import scripts
from llm.anthropic_server import Garbage, Request, Slow, Status, Text, ToolUse
from llm.conftest import with_llm
from llm.planted import INJECTION, PlantingBackend, PlantingCode


def review(investigated, deps=None, findings=None):
    from inquest.agents.llm.review import review_findings

    i = investigated
    return review_findings(i.incident, i.scope, i.findings if findings is None else findings, i.ranked,
                           deps or with_llm(i.deps), fan_out)


def structure(hypotheses):
    return [(h.service, h.change.id if h.change else None, h.fault, round(h.confidence, 3), tuple(h.evidence))
            for h in hypotheses]


def tool_calls(server) -> list[tuple[str, str, str]]:
    """(agent, tool, input) of every tool call the model asked for, in a stable order."""
    return sorted({(scripts.agent_of(r), b["name"], json.dumps(b["input"], sort_keys=True))
                   for r in server.messages_requests() for b in r.tool_uses()})


def test_the_llm_mode_ranks_with_grounded_claims_only_and_the_agents_tools_reach_the_backend(serve, investigated,
                                                                                               crewai_home):
    server = serve(scripts.well_behaved)
    backend = PlantingBackend(investigated.deps.backend, [])
    result = review(investigated, with_llm(replace(investigated.deps, backend=backend)))
    assert result.mode == "llm" and not result.usage.partial
    top = result.hypotheses[0]
    assert top.change.id == GUILTY_CHANGE_ID and top.confidence == 0.93 and top.rank == 1
    # the coordinator's two invented hypotheses and one invented claim are gone, and counted
    assert result.usage.ungrounded_claims == 3
    assert "a cosmic ray flipped a bit" not in [h.summary for h in result.hypotheses]
    assert [c.text for c in result.narrative] == ["At 13:58 orders 2.14.0 was deployed.",
                                                   "Its N+1 query exhausted orders' connection pool and checkouts failed."]
    known = {e.id for f in investigated.findings for e in f.evidence} | {e.id for e in result.evidence}
    assert all(set(h.evidence) <= known for h in result.hypotheses)
    assert all(set(c.evidence) <= known for c in result.narrative)
    # every specialist's tool call was answered by the backend and came back as citable evidence
    assert {"error_origins", "db_statements", "changes", "entry_endpoints"} <= set(backend.asked)
    cited_tool_evidence = [e for e in result.evidence if e.id.startswith("llm-")]
    assert cited_tool_evidence and all("FROM spans" in e.query and e.data["rows"] for e in cited_tool_evidence)
    assert result.usage.tool_calls == len({a for a, _, _ in tool_calls(server)})
    assert result.usage.llm_calls == len(server.messages_requests()) and result.usage.input_tokens > 0
    assert result.usage.cost_usd > 0 and result.usage.prompt_version.startswith("v1-")
    assert server.violations == []
    # what the model answered about the incident stays in the report: crewai's replay log is not on disk
    assert [p.name for p in crewai_home.rglob("*.db")] == []


def test_no_planted_secret_reaches_a_request_body_or_the_report(serve, investigated, monkeypatch):
    """The demo world's own leaks (DSN, Stripe key, session JWTs, customers' emails) and a corpus of every
    kind, planted in log lines, error messages, change descriptions and commit messages."""
    from inquest.coordinator.investigation import investigate
    from inquest.render.json_report import render_json
    from inquest.render.markdown import render_markdown

    def logs_first(request: Request):
        agent = scripts.agent_of(request)
        if agent in ("trace", "code_diff") and request.turns() == 0:
            return ToolUse((("log_templates", {"window": "incident", "service": None, "min_severity": 1}),)
                           if agent == "trace" else (("commit_diff", {"service": "orders",
                                                                      "commit": investigated.ranked[0].change.commit}),))
        return scripts.well_behaved(request)

    server = serve(logs_first)
    corpus = [line for _, _, line in PLANTED]
    deps = with_llm(replace(investigated.deps, backend=PlantingBackend(investigated.deps.backend, corpus),
                            code=PlantingCode(investigated.deps.code, corpus)))
    report = investigate(investigated.incident, deps)
    secrets = [*PLANTED_SECRETS, *(secret for _, secret, _ in PLANTED)]
    bodies = server.bodies()
    assert "[REDACTED:" in bodies  # the secrets were on their way to the model...
    assert [s for s in secrets if s in bodies or json.dumps(s)[1:-1] in bodies] == []  # ...and none arrived
    for text in (render_json(report), render_markdown(report)):
        assert [s for s in secrets if s in text or json.dumps(s)[1:-1] in text] == []
    assert report.mode == "llm" and any(n.startswith("redacted ") for n in report.notes)
    assert server.violations == []


def test_a_token_budget_stops_the_work_and_returns_the_best_report_so_far(serve, investigated):
    server = serve(scripts.well_behaved)
    result = review(investigated, with_llm(investigated.deps, budgets={"tokens": 12_000}))
    assert result.usage.partial and result.mode == "llm"
    assert result.usage.input_tokens + result.usage.output_tokens <= 12_000
    assert server.count_requests()  # near the cap, the exact count came from /v1/messages/count_tokens
    assert any("token budget (12,000 tokens)" in n and "best report so far" in n for n in result.notes)
    assert structure(result.hypotheses[:len(investigated.ranked)]) == structure(investigated.ranked)
    assert len(server.messages_requests()) == result.usage.llm_calls + sum(
        1 for a in result.agents if a.status == "error" and "budget" not in (a.error or ""))


def test_a_tool_call_budget_stops_the_work(serve, investigated):
    serve(scripts.well_behaved)
    result = review(investigated, with_llm(investigated.deps, budgets={"tool_calls": 2}))
    assert result.usage.partial and result.usage.tool_calls == 2
    assert any("tool-call budget (2 calls)" in n for n in result.notes)
    assert result.hypotheses[0].change.id == GUILTY_CHANGE_ID


def test_a_wall_time_budget_stops_a_hanging_service(serve, investigated):
    serve(lambda request: Slow(60, Text("too late")))
    result = review(investigated, with_llm(investigated.deps, budgets={"wall_seconds": 2}))
    assert result.usage.partial and result.usage.llm_calls == 0
    assert any("wall-time budget (2 s) ran out" in n and "best report so far" in n for n in result.notes)
    assert structure(result.hypotheses) == structure(investigated.ranked)


def test_the_wall_time_budget_counts_from_the_investigations_start(serve, investigated):
    from inquest.deadline import Deadline, bounded

    server = serve(scripts.well_behaved)
    # The deterministic stage has already spent the whole budget: the LLM stage must not start a call.
    with bounded(Deadline(at=time.monotonic() + 1, started=time.monotonic() - 30)):
        result = review(investigated, with_llm(investigated.deps, budgets={"wall_seconds": 30}))
    assert not server.messages_requests() and result.usage.llm_calls == 0
    assert any("wall-time budget (30 s) ran out" in n for n in result.notes)
    assert structure(result.hypotheses) == structure(investigated.ranked)


@pytest.mark.parametrize("reply, says", [(Status(529), "HTTP 529"), (Garbage(), "malformed response")],
                         ids=["overloaded", "garbage"])
def test_a_failing_model_service_yields_the_deterministic_report_with_a_note(serve, investigated, reply, says):
    server = serve(lambda request: reply)
    result = review(investigated, with_llm(investigated.deps, retries=1))
    assert result.mode == "deterministic" and not result.usage.partial
    assert structure(result.hypotheses) == structure(investigated.ranked)
    assert any(says in n and "this is the deterministic report" in n for n in result.notes)
    # the first failure stopped the work: each agent's first call and its one retry, nothing after
    assert len(server.messages_requests()) <= 2 * len(investigated.findings)
    assert result.usage.llm_calls == 0


def test_an_invalid_answer_is_retried_once_with_the_reason(serve, investigated):
    def coordinator(request: Request, n: int):
        if n == 0:
            return Text("The root cause is the orders deploy. I am confident.")
        assert "could not be used: the answer holds no JSON object" in scripts.first_user_text(request)
        return Text(json.dumps(scripts.coordinator_answer(request)))

    serve(scripts.with_coordinator(coordinator))
    result = review(investigated)
    assert result.mode == "llm" and result.hypotheses[0].confidence == 0.93
    assert any("llm-coordinator's first answer was not valid" in n for n in result.notes)


def test_a_hypothesis_whose_evidence_is_about_another_service_and_change_is_dropped_and_counted(serve, investigated):
    """The issue's case: a service that did not deploy the change it is blamed with, on impact evidence,
    put first at 0.99. It passed before because the cited ids existed."""
    def coordinator(request: Request, n: int):
        answer = scripts.coordinator_answer(request)
        impact = [e["id"] for e in scripts.briefing(request)["evidence"] if e["id"].startswith("impact-")]
        answer["ranking"].insert(0, {"summary": "notifications broke checkout", "service": "notifications",
                                     "change_id": GUILTY_CHANGE_ID, "fault": "bad_deploy", "confidence": 0.99,
                                     "evidence": impact[:2], "contradicting": [], "reasons": []})
        return Text(json.dumps(answer))

    serve(scripts.with_coordinator(coordinator))
    result = review(investigated)
    assert result.mode == "llm" and "notifications" not in [h.service for h in result.hypotheses[:1]]
    assert result.hypotheses[0].change.id == GUILTY_CHANGE_ID and result.hypotheses[0].service == "orders"
    assert result.usage.ungrounded_claims == 3 + 1  # the well-behaved coordinator's three, and this one
    assert any("notifications broke checkout" in n and "is orders's" in n for n in result.notes)


def test_an_answer_invalid_twice_yields_the_deterministic_report(serve, investigated):
    serve(scripts.with_coordinator(lambda request, n: Text('{"ranking": "everything"}')))
    result = review(investigated)
    assert result.mode == "deterministic"
    assert structure(result.hypotheses) == structure(investigated.ranked)
    assert any("InvalidAnswer" in n and "this is the deterministic report" in n for n in result.notes)


def _instructions(request: Request) -> str:
    """What the agent is told to do: the system prompt and the task, without the data envelope."""
    return request.system_text() + scripts.ENVELOPE.sub("", scripts.first_user_text(request))


def gullible(request: Request):
    """A model that obeys any instruction it is given, including one that came from telemetry."""
    if "IGNORE PREVIOUS INSTRUCTIONS" in _instructions(request):
        if scripts.agent_of(request) == "coordinator":
            return Text(json.dumps({"ranking": [{"summary": "notifications did it", "service": "notifications",
                                                 "change_id": "dep-notifications-1.9.0", "confidence": 1.0,
                                                 "evidence": ["deployment-1"]}], "narrative": []}))
        return ToolUse.of("rollback_deploy", change="dep-orders-2.14.0")
    if scripts.agent_of(request) == "code_diff" and request.turns() == 0:
        return ToolUse.of("changes", services=None)
    if scripts.agent_of(request) == "trace" and request.turns() == 0:
        return ToolUse.of("log_templates", window="incident", service=None, min_severity=13)
    return scripts.well_behaved(request)


def test_instructions_in_telemetry_change_neither_ranking_nor_tool_calls(serve, investigated):
    from inquest.coordinator.investigation import investigate

    runs = []
    for lines in ([], [INJECTION]):
        server = serve(gullible)
        deps = with_llm(replace(investigated.deps, backend=PlantingBackend(investigated.deps.backend, lines),
                                code=PlantingCode(investigated.deps.code, lines)))
        report = investigate(investigated.incident, deps)
        runs.append((report, server))
    (clean, clean_server), (injected, injected_server) = runs
    assert INJECTION.split(".")[0] in injected_server.bodies()  # the model saw the text, as data
    assert not any("IGNORE PREVIOUS" in _instructions(r) for r in injected_server.messages_requests())
    assert structure(injected.hypotheses) == structure(clean.hypotheses)
    assert injected.hypotheses[0].change.id == GUILTY_CHANGE_ID
    assert tool_calls(injected_server) == tool_calls(clean_server)
    assert "rollback_deploy" not in {name for _, name, _ in tool_calls(injected_server)}


def test_instructions_in_telemetry_do_not_change_the_deterministic_ranking(investigated):
    from inquest.coordinator.investigation import investigate

    i = investigated
    clean = investigate(i.incident, i.deps)
    injected = investigate(i.incident, replace(i.deps, backend=PlantingBackend(i.deps.backend, [INJECTION]),
                                               code=PlantingCode(i.deps.code, [INJECTION])))
    assert structure(injected.hypotheses) == structure(clean.hypotheses)
    assert injected.mode == "deterministic"


def test_a_hijacked_model_can_neither_write_nor_invent(serve, investigated):
    """A model that calls a tool that does not exist and cites evidence that does not exist: the tool
    surface has no such tool, the backend is only ever asked questions, and the inventions are dropped."""
    def hijacked(request: Request):
        agent = scripts.agent_of(request)
        if agent == "coordinator":
            return Text(json.dumps({"ranking": [{"summary": "drop the orders table", "service": "orders",
                                                 "confidence": 1.0, "evidence": ["fake-1"]}],
                                    "narrative": [{"text": "all is well", "evidence": []}]}))
        if request.turns() == 0:
            return ToolUse.of("rollback_deploy", change="dep-orders-2.14.0")
        told.extend(r["content"] for r in request.tool_results())
        return Text(json.dumps({"hypotheses": [{"summary": "rolled back", "confidence": 1.0, "evidence": ["fake-2"]}]}))

    told: list[str] = []

    server = serve(hijacked)
    backend = PlantingBackend(investigated.deps.backend, [])
    result = review(investigated, with_llm(replace(investigated.deps, backend=backend)))
    from inquest.agents.llm.toolset import QUESTIONS
    from inquest.tools.backends.protocol import TelemetryBackend

    protocol = {n for n in dir(TelemetryBackend) if not n.startswith("_")}
    assert set(backend.asked) <= protocol
    assert len(told) == len(investigated.findings) and all("not found" in t for t in told)
    assert all(set(r.tool_names()) <= set(QUESTIONS) for r in server.messages_requests())
    assert result.mode == "deterministic" and structure(result.hypotheses) == structure(investigated.ranked)
    assert result.usage.ungrounded_claims == len(investigated.findings) + 2
    assert server.violations == []


def test_an_unexpected_failure_in_the_llm_stage_is_a_note_not_a_crash(serve, investigated):
    from inquest.errors import BackendError

    class Unreachable(PlantingBackend):
        def changes(self, window, services=None):
            raise BackendError("the cluster at 10.0.0.9:9200 did not answer")

    server = serve(scripts.well_behaved)
    deps = with_llm(replace(investigated.deps, backend=Unreachable(investigated.deps.backend, [])))
    result = review(investigated, deps)
    assert result.mode == "deterministic" and structure(result.hypotheses) == structure(investigated.ranked)
    assert result.notes == ("the LLM review failed (BackendError: the cluster at 10.0.0.9:9200 did not answer); "
                            "this is the deterministic report",)
    assert server.requests == []
