"""What an agent is told: compact, bounded, redacted summaries of the incident and the findings.

Pure. The model never sees raw rows or evidence data — only ids, sources and one-line summaries, cut
to a fixed size — so a prompt's size does not grow with the telemetry, and everything passes through
the redactor before it is put into words.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from inquest.core import Finding, Incident, RankedHypothesis, Scope
from inquest.redact import Redactor

MAX_TEXT = 400  # characters of one summary
MAX_EVIDENCE = 40  # evidence entries per finding
MAX_HYPOTHESES = 10


def nonce() -> str:
    """A fresh marker for the telemetry envelope: text in the data cannot close an envelope it cannot name."""
    return secrets.token_hex(6)


def cut(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit - 1] + "…"


def incident_brief(incident: Incident, scope: Scope) -> dict[str, Any]:
    return {
        "incident": {"id": incident.id, "title": cut(incident.title), "alerting_service": incident.service,
                     "started_at": incident.started_at.isoformat(), "symptoms": [cut(s) for s in incident.symptoms]},
        "scope": {"incident_window": str(scope.window), "baseline_window": str(scope.baseline),
                  "changes_considered_from": scope.lookback.start.isoformat(),
                  "onset": scope.onset.isoformat() if scope.onset else None, "entry_service": scope.entry_service},
    }


def finding_brief(finding: Finding) -> dict[str, Any]:
    return {
        "agent": finding.agent,
        "status": finding.status,
        "error": cut(finding.error),
        "hypotheses": [{"summary": cut(h.summary), "service": h.service, "confidence": round(h.confidence, 3),
                        "fault": h.fault, "change_id": h.change.id if h.change else None,
                        "evidence": list(h.supports), "contradicting": list(h.contradicts)}
                       for h in finding.hypotheses[:MAX_HYPOTHESES]],
        "evidence": [{"id": e.id, "source": e.source, "summary": cut(e.summary)}
                     for e in finding.evidence[:MAX_EVIDENCE]],
        "evidence_not_shown": max(0, len(finding.evidence) - MAX_EVIDENCE),
    }


def ranking_brief(ranked: Sequence[RankedHypothesis]) -> list[dict[str, Any]]:
    return [{"rank": h.rank, "summary": cut(h.summary), "service": h.service, "confidence": round(h.confidence, 3),
             "change_id": h.change.id if h.change else None, "fault": h.fault, "evidence": list(h.evidence),
             "contradicting": list(h.contradicting), "agents": list(h.agents)} for h in ranked[:MAX_HYPOTHESES]]


def specialists_brief(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """What the LLM specialists reported (their grounded hypotheses), or why one has nothing."""
    out = []
    for f in findings:
        item = finding_brief(f)
        item["observations"] = [{"text": cut(c.text), "evidence": list(c.evidence)}
                                for c in (f.review.claims if f.review else ())]
        out.append(item)
    return out


def to_prompt(value: Mapping[str, Any] | Sequence[Any], redactor: Redactor) -> str:
    """JSON for a prompt, redacted value by value (before serialising, so a pattern never has to see
    through JSON escapes). Indented one level so a person reading a request can follow it."""
    return json.dumps(redactor.value(value), indent=1, ensure_ascii=False, default=str)
