"""Scripted model behaviours for the stand-in Messages API: what a well-behaved Claude would answer, read
off the request like a model reads its prompt (the briefing between the telemetry markers, the tool
results), plus the ways a model goes wrong (ungrounded claims, invalid JSON, obeying an injection)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from llm.anthropic_server import Reply, Request, Text, ToolUse

ENVELOPE = re.compile(r"<telemetry-([0-9a-f]+)>\n(.*?)\n</telemetry-\1>", re.DOTALL)

# The tool each specialist calls first, with its arguments.
FIRST_TOOL: dict[str, tuple[str, dict[str, Any]]] = {
    "trace": ("error_origins", {"window": "incident"}),
    "db": ("db_statements", {"window": "incident", "service": "orders"}),
    "metrics": ("metric_summary", {"window": "incident", "names": ["db.client.connection.count"], "service": None}),
    "deployment": ("changes", {"services": None}),
    "code_diff": ("changes", {"services": ["orders"]}),
    "impact": ("entry_endpoints", {"window": "incident", "service": "frontend"}),
}


def first_user_text(request: Request) -> str:
    content = request.body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content if b.get("type") == "text")


def briefing(request: Request) -> dict[str, Any]:
    match = ENVELOPE.search(first_user_text(request))
    assert match, "the task carries no telemetry envelope"
    return json.loads(match.group(2))


def agent_of(request: Request) -> str:
    """'db' for the db specialist, 'coordinator' for the coordinator agent."""
    system = request.system_text()
    if "incident coordinator" in system:
        return "coordinator"
    match = re.search(r"You are (\w+) specialist", system)
    assert match, f"unknown agent in system prompt {system[:120]!r}"
    return match.group(1)


def tool_evidence_ids(request: Request) -> list[str]:
    ids = []
    for message in request.body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else ():
            if block.get("type") == "tool_result":
                content = block["content"] if isinstance(block["content"], str) else \
                    "".join(c.get("text", "") for c in block["content"])
                try:
                    ids.append(json.loads(content)["evidence_id"])
                except (ValueError, KeyError):
                    pass  # a tool error: crewai reports it as text
    return ids


def specialist_answer(request: Request) -> dict[str, Any]:
    finding = briefing(request)["deterministic_finding"]
    extra = tool_evidence_ids(request)
    hypotheses = [{"summary": h["summary"], "service": h["service"], "change_id": h["change_id"], "fault": h["fault"],
                   "confidence": h["confidence"], "evidence": h["evidence"][:3] + extra, "contradicting": [],
                   "reasons": ["the deterministic evidence holds up"]}
                  for h in finding["hypotheses"][:2] if h["evidence"]]
    observations = [{"text": f"{finding['agent']} looked at {len(finding['evidence'])} pieces of evidence",
                     "evidence": [finding["evidence"][0]["id"]]}] if finding["evidence"] else []
    return {"hypotheses": hypotheses, "observations": observations}


def coordinator_answer(request: Request) -> dict[str, Any]:
    brief = briefing(request)
    ranking = brief["deterministic_ranking"]
    top = ranking[0]
    llm_ids = [e["id"] for e in brief["evidence"] if e["id"].startswith("llm-")]
    return {
        "ranking": [
            {"summary": "orders 2.14.0 shipped an N+1 price lookup that exhausted orders' connection pool",
             "service": top["service"], "change_id": top["change_id"], "fault": top["fault"], "confidence": 0.93,
             "evidence": top["evidence"][:4] + llm_ids[:1], "contradicting": [],
             "reasons": ["deployed minutes before onset on the failing path", "the database ran the new query"]},
            *({"summary": h["summary"], "service": h["service"], "change_id": h["change_id"], "fault": h["fault"],
               "confidence": min(h["confidence"], 0.3), "evidence": h["evidence"], "contradicting": [],
               "reasons": ["a symptom, not the cause"]} for h in ranking[1:3] if h["evidence"]),
            {"summary": "a cosmic ray flipped a bit", "service": "orders", "change_id": None, "fault": "hardware",
             "confidence": 0.5, "evidence": ["db-999"], "contradicting": [], "reasons": []},
            {"summary": "the moon was full", "service": None, "change_id": None, "fault": None, "confidence": 0.4,
             "evidence": [], "contradicting": [], "reasons": []},
        ],
        "narrative": [
            {"text": "At 13:58 orders 2.14.0 was deployed.", "evidence": top["evidence"][:1]},
            {"text": "Its N+1 query exhausted orders' connection pool and checkouts failed.",
             "evidence": top["evidence"][1:3]},
            {"text": "Everyone was affected.", "evidence": ["impact-42"]},
        ],
    }


def well_behaved(request: Request) -> Reply:
    """A model that calls one tool, then answers grounded JSON; the coordinator adds two ungrounded
    hypotheses and one ungrounded claim, which the report must drop and count (3)."""
    agent = agent_of(request)
    if agent == "coordinator":
        return Text(json.dumps(coordinator_answer(request)))
    if request.turns() == 0 and agent in FIRST_TOOL:
        name, arguments = FIRST_TOOL[agent]
        return ToolUse.of(name, **arguments)
    return Text("Here is my answer:\n```json\n" + json.dumps(specialist_answer(request)) + "\n```")


def with_coordinator(replies: Callable[[Request, int], Reply]) -> Callable[[Request], Reply]:
    """Well-behaved specialists; the coordinator's n-th request (0-based) answered by `replies`."""
    seen = {"n": 0}

    def script(request: Request) -> Reply:
        if agent_of(request) != "coordinator":
            return well_behaved(request)
        n, seen["n"] = seen["n"], seen["n"] + 1
        return replies(request, n)

    return script
