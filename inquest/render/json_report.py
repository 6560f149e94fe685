"""The report as JSON: the one stable, machine-readable output (documented in docs/report-schema.md).

Scripts, ticket bots and dashboards parse this, so the shape is a promise: keys are only ever added;
anything that removes or changes the meaning of a key bumps SCHEMA_VERSION. Keep this module free of
rich so `--format json` stays fast and importable anywhere.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

from inquest.core import (
    AgentRun,
    ChangeRef,
    Evidence,
    Impact,
    Incident,
    RankedHypothesis,
    Report,
    Scope,
    Usage,
    Window,
    utc,
)

SCHEMA_VERSION = "1"

# The confidence is a ranking score, not a measurement: three decimals are all the precision it has.
CONFIDENCE_DECIMALS = 3


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with a "Z" suffix, the form every log tool and JS Date parses without fuss."""
    return utc(value).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """`value` made of only dict, list, str, int, float, bool and None, recursively.

    Evidence data comes from agents, which put whatever their backend returned in it (DuckDB hands back
    datetimes and Decimals, agents freeze their dicts into MappingProxy), and the report must never fail
    to serialise because of one odd value: anything unknown falls back to its str().
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # NaN and infinities are not JSON; json.dumps would write them anyway and break strict parsers.
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Window):
        return _window(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        # Sets have no order; sort so the same report always serialises to the same bytes.
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (PurePath, UUID)):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return jsonable(value.tolist())
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    converted = jsonable(key)
    return converted if isinstance(converted, str) else json.dumps(converted)


def _window(window: Window) -> dict[str, str]:
    return {"start": iso_utc(window.start), "end": iso_utc(window.end)}


def _optional_time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def _incident(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "service": incident.service,
        "started_at": iso_utc(incident.started_at),
        "window": _window(incident.window),
        "symptoms": list(incident.symptoms),
        "ticket": incident.ticket,
    }


def _change(change: ChangeRef | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"id": change.id, "kind": change.kind, "version": change.version, "commit": change.commit}


def _hypothesis(hypothesis: RankedHypothesis) -> dict[str, Any]:
    return {
        "rank": hypothesis.rank,
        "summary": hypothesis.summary,
        "service": hypothesis.service,
        "change": _change(hypothesis.change),
        "confidence": round(hypothesis.confidence, CONFIDENCE_DECIMALS),
        "evidence": list(hypothesis.evidence),
        "contradicting": list(hypothesis.contradicting),
        "agents": list(hypothesis.agents),
        "query": hypothesis.query,
        "fault": hypothesis.fault,
        "reasons": list(hypothesis.reasons),
        "mitigation": hypothesis.mitigation,
    }


def _evidence(evidence: Evidence) -> dict[str, Any]:
    return {
        "id": evidence.id,
        "agent": evidence.agent,
        "source": evidence.source,
        "query": evidence.query,
        "summary": evidence.summary,
        "data": jsonable(evidence.data),
    }


def _agent(run: AgentRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "duration_ms": run.duration_ms,
        "evidence_count": run.evidence_count,
        "error": run.error,
        "note": run.note,
    }


def _impact(impact: Impact) -> dict[str, Any]:
    return {
        "requests": impact.requests,
        "failed_requests": impact.failed_requests,
        "slow_requests": impact.slow_requests,
        "users": impact.users,
        "tenants": impact.tenants,
        "endpoints": jsonable(impact.endpoints),
        "error_rate": jsonable(impact.error_rate),
        "baseline_error_rate": jsonable(impact.baseline_error_rate),
        "error_budget_burn": jsonable(impact.error_budget_burn),
        "onset": _optional_time(impact.onset),
        "peak": _optional_time(impact.peak),
        "peak_error_rate": jsonable(impact.peak_error_rate),
    }


def _scope(scope: Scope) -> dict[str, Any]:
    return {"window": _window(scope.window), "baseline": _window(scope.baseline), "lookback": _window(scope.lookback),
            "inconclusive": scope.inconclusive}


def _usage(mode: str, usage: Usage) -> dict[str, Any]:
    return {
        "mode": mode,
        "llm_calls": usage.llm_calls,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": jsonable(usage.cost_usd),
        "tool_calls": usage.tool_calls,
        "ungrounded_claims": usage.ungrounded_claims,
        "model": usage.model,
        "prompt_version": usage.prompt_version,
        "partial": usage.partial,
        "llm_stage_ms": usage.llm_stage_ms,
        "llm_model_ms": usage.llm_model_ms,
    }


def _narrative(report: Report) -> list[dict[str, Any]]:
    return [{"text": c.text, "evidence": list(c.evidence)} for c in report.narrative]


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report in the stable schema (version SCHEMA_VERSION); every value is plain JSON."""
    return {
        "schema_version": SCHEMA_VERSION,
        "incident": _incident(report.incident),
        "root_cause_found": report.root_cause is not None,
        # Sorted defensively: consumers are promised rank order, whatever order the ranker handed over.
        "hypotheses": [_hypothesis(h) for h in sorted(report.hypotheses, key=lambda h: h.rank)],
        "evidence": [_evidence(e) for e in report.evidence],
        "agents": {run.agent: _agent(run) for run in report.agents},
        "impact": _impact(report.impact),
        "scope": _scope(report.scope),
        "timing": {"started_at": iso_utc(report.started_at), "duration_ms": report.duration_ms,
                   "trace_id": report.trace_id},
        # The narrative sits with the LLM mode's other output: the top-level keys are a fixed set.
        "usage": {**_usage(report.mode, report.usage), "narrative": _narrative(report)},
        "notes": list(report.notes),
    }


def render_json(report: Report) -> str:
    # allow_nan=False: jsonable has already turned non-finite floats into null, so a NaN here is a bug.
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, allow_nan=False)
