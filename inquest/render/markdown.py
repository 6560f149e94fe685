"""The report as Markdown, for pasting into a GitHub issue or a Jira ticket.

A ticket is read top-down by someone deciding what to do next: the headline and the mitigation come first,
the ranked table next, then the evidence for whoever wants to check the reasoning. Queries sit in collapsed
blocks so the ticket stays short but every claim stays reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from inquest.core import BASELINE_FIX, Evidence, RankedHypothesis, Report
from inquest.render import (
    best_lead,
    change_label,
    clock,
    count,
    duration,
    headline,
    lead_label,
    llm_cost,
    percent,
    ranked,
    window_label,
)

# Runners-up beyond this are in the table; explaining every one of them buries the answer.
EXPLAINED_HYPOTHESES = 3
TOP_ENDPOINTS = 5


def render_markdown(report: Report) -> str:
    sections = [
        _headline(report),
        _hypotheses_table(report),
        *(_explanation(h, report) for h in ranked(report)[:EXPLAINED_HYPOTHESES]),
        _impact(report),
        _agents(report),
        _scope_and_notes(report),
    ]
    return "\n\n".join(s for s in sections if s).rstrip() + "\n"


# --- escaping ---------------------------------------------------------------------------------------


# A mention (@here, @channel, @user, @org/team) pings people wherever the ticket is shown; in code it is text.
_MENTION = re.compile(r"(?<![\w`/@.])@[A-Za-z0-9][\w-]*(?:/[\w.-]+)?")


def _text(value: str) -> str:
    """Free text from agents and telemetry, made safe to inline: one line, no raw HTML a ticket would
    interpret, no link or image (its label hides the target, and `javascript:` works there: with the
    brackets escaped the target is shown as text), and no live mention."""
    value = " ".join(value.split()).replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace("[", "\\[").replace("]", "\\]")
    return _MENTION.sub(lambda m: _code(m.group(0)), value)


def _cell(value: str) -> str:
    # GFM splits cells on every unescaped pipe, even inside code spans, so escape them all.
    return _text(value).replace("|", "\\|")


def _code(value: str) -> str:
    """An inline code span that survives backticks in `value`."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _code_block(query: str, language: str, indent: str = "") -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", query)), default=2)
    fence = "`" * max(3, longest + 1)
    body = [f"{indent}{line}" if line else "" for line in query.strip("\n").splitlines()]
    return [f"{indent}{fence}{language}", *body, f"{indent}{fence}"]


def _language(evidence: Evidence) -> str:
    query = evidence.query.lstrip().lower()
    if query.startswith(("git ", "gh ", "curl ", "kubectl ")):
        return "shell"
    if evidence.source.startswith("telemetry") or query.startswith(("select", "with", "explain")):
        return "sql"
    return ""


def _table(header: Iterable[str], align: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- sections ---------------------------------------------------------------------------------------


def _headline(report: Report) -> str:
    incident = report.incident
    lines = [f"# {_text(incident.id)}: {_text(incident.title)}", ""]
    cause = report.root_cause
    if cause is not None:
        lines.append(f"**Root cause** ({percent(cause.confidence)} confidence): {_text(cause.summary)}")
        where = [f"service {_code(cause.service)}"] if cause.service else []
        if cause.change is not None:
            where.append(f"change {_code(change_label(cause.change))}")
        if where:
            lines += ["", " · ".join(where)]
        if cause.mitigation:
            lines += ["", f"> **Try first:** {_text(cause.mitigation)}"]
    else:
        lines.append(f"**{_text(headline(report))}.**" + (f" {BASELINE_FIX[0].upper()}{BASELINE_FIX[1:]}."
                                                          if report.scope.inconclusive else ""))
        lead = best_lead(report)
        if lead is not None:
            lines += ["", f"{lead_label(report, lead)}: {_text(lead.summary)}"]
    return "\n".join(lines)


def _hypotheses_table(report: Report) -> str:
    hypotheses = ranked(report)
    if not hypotheses:
        return ""
    rows = [
        [str(h.rank), percent(h.confidence), _cell(h.service or "—"), _cell(change_label(h.change)), _cell(h.summary)]
        for h in hypotheses
    ]
    table = _table(["#", "Confidence", "Service", "Change", "Summary"], ["---:", "---:", "---", "---", "---"], rows)
    return "## Ranked hypotheses\n\n" + table


def _explanation(hypothesis: RankedHypothesis, report: Report) -> str:
    lines = [f"### {hypothesis.rank}. {_text(hypothesis.summary)}"]
    facts = [f"{percent(hypothesis.confidence)} confidence"]
    if hypothesis.fault:
        facts.append(f"fault {_code(hypothesis.fault)}")
    lines += ["", " · ".join(facts)]
    if hypothesis.query:
        lines += ["", "Suspected statement:", "", *_code_block(hypothesis.query, "sql")]
    if hypothesis.reasons:
        lines += ["", "**Why**", ""] + [f"- {_text(r)}" for r in hypothesis.reasons]
    by_id = report.evidence_by_id()
    for title, ids in (("Evidence", hypothesis.evidence), ("Against", hypothesis.contradicting)):
        if ids:
            lines += ["", f"**{title}**"]
            for evidence_id in ids:
                lines += ["", *_evidence_item(evidence_id, by_id.get(evidence_id))]
    return "\n".join(lines)


def _evidence_item(evidence_id: str, evidence: Evidence | None) -> list[str]:
    if evidence is None:
        # Say so rather than drop it: a dangling citation is a bug someone should see.
        return [f"- {_code(evidence_id)}: (not in this report)"]
    item = [f"- {_code(evidence.id)} {_text(evidence.summary)} — {evidence.agent}, {_code(evidence.source)}"]
    if evidence.query.strip():
        # Indented so the block belongs to the list item and GitHub keeps the list together.
        item += ["", "  <details><summary>Reproduce</summary>", "",
                 *_code_block(evidence.query, _language(evidence), indent="  "), "", "  </details>"]
    return item


def _impact(report: Report) -> str:
    impact = report.impact
    if impact.requests == 0 and not impact.endpoints:
        return "## Impact\n\nNo request data for the incident window."
    lines = [
        "## Impact",
        "",
        f"- **Requests:** {count(impact.requests)} in the window, {count(impact.failed_requests)} failed "
        f"({percent(impact.error_rate, 1)} vs {percent(impact.baseline_error_rate, 1)} baseline), "
        f"{count(impact.slow_requests)} slow",
        f"- **Users affected:** {count(impact.users)} across {count(impact.tenants)} tenants",
        f"- **Error-budget burn:** {impact.error_budget_burn:.1f}× the SLO's allowed rate",
        f"- **Onset:** {clock(impact.onset)} · **peak:** {clock(impact.peak)} "
        f"at {percent(impact.peak_error_rate, 1)} errors",
    ]
    endpoints = sorted(impact.endpoints, key=lambda e: _number(e, "failed"), reverse=True)[:TOP_ENDPOINTS]
    if endpoints:
        rows = [
            [_cell(str(e.get("endpoint", "?"))), count(int(_number(e, "requests"))),
             count(int(_number(e, "failed"))), percent(_number(e, "error_rate"), 1)]
            for e in endpoints
        ]
        lines += ["", "Top endpoints by failed requests:", "",
                  _table(["Endpoint", "Requests", "Failed", "Error rate"], ["---", "---:", "---:", "---:"], rows)]
    return "\n".join(lines)


def _number(mapping: Mapping[str, Any], key: str) -> float:
    value = mapping.get(key)
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _agents(report: Report) -> str:
    if not report.agents:
        return ""
    rows = [
        [_cell(run.agent), _STATUS.get(run.status, run.status), duration(run.duration_ms),
         str(run.evidence_count), _cell(run.reason)]
        for run in report.agents
    ]
    return "## Agents\n\n" + _table(
        ["Agent", "Status", "Duration", "Evidence", "Note"], ["---", "---", "---:", "---:", "---"], rows
    )


_STATUS = {"ok": "✅ ok", "no_data": "➖ no data", "skipped": "➖ skipped", "error": "❌ error", "timeout": "⏱️ timeout"}


def _scope_and_notes(report: Report) -> str:
    scope = report.scope
    usage = report.usage
    lines = [
        "## Scope",
        "",
        f"- **Incident window:** {window_label(scope.window)}",
        f"- **Baseline:** {window_label(scope.baseline)}",
        f"- **Changes considered:** {window_label(scope.lookback)}",
    ]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {_text(n)}" for n in report.notes]
    run = f"Investigated in {duration(report.duration_ms)}, {report.mode} mode"
    run += llm_cost(usage)
    lines += ["", f"_{run}._"]
    return "\n".join(lines)
