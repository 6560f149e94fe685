"""The report as a ticket comment for Jira, in both of Jira's languages: Atlassian Document Format (Cloud,
REST v3) and wiki markup (Server and Data Center, REST v2).

Both are written from one small block model, so the two flavours never say different things. A Jira
comment holds at most 32,767 characters, so the comment is the summary a reader acts on (headline,
mitigation, ranked table, the top hypothesis's evidence, impact); the full JSON report is attached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from inquest.attach.base import marker
from inquest.core import Report
from inquest.render import best_lead, change_label, clock, count, duration, headline, lead_label, percent, ranked

JIRA_MAX_BODY = 32767
MAX_QUERY_CHARS = 1200
TABLE_HYPOTHESES = 8

Style = Literal["plain", "strong", "code", "link"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"
    href: str | None = None


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    spans: tuple[Span, ...]
    quote: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Span, ...], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Code:
    text: str
    language: str


Block = Heading | Para | Bullets | Table | Code


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _clip(query: str) -> str:
    query = query.strip()
    return query if len(query) <= MAX_QUERY_CHARS else query[:MAX_QUERY_CHARS] + "\n-- … (cut; full query in the attached JSON)"


def report_blocks(report: Report, attachment: str, with_queries: bool = True) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"{report.incident.id}: {_one_line(report.incident.title)}")]
    cause = report.root_cause
    lead = cause or best_lead(report)
    if cause is not None:
        blocks.append(Para((Span("Root cause", "strong"), Span(f" ({percent(cause.confidence)} confidence): "),
                            Span(_one_line(cause.summary)))))
    elif lead is not None:
        blocks.append(Para((Span(f"{_one_line(headline(report))}.", "strong"),
                            Span(f" {lead_label(report, lead)}: {_one_line(lead.summary)}"))))
    else:
        blocks.append(Para((Span("No root cause found: no agent produced a hypothesis.", "strong"),)))
    if cause is not None and cause.mitigation:
        blocks.append(Para((Span("Try first: ", "strong"), Span(_one_line(cause.mitigation))), quote=True))
    hypotheses = ranked(report)
    if hypotheses:
        blocks.append(Heading(3, "Ranked hypotheses"))
        blocks.append(Table(("#", "Confidence", "Service", "Change", "Summary"), tuple(
            (str(h.rank), percent(h.confidence), h.service or "—", change_label(h.change), _one_line(h.summary))
            for h in hypotheses[:TABLE_HYPOTHESES])))
    if lead is not None and lead.evidence:
        by_id = report.evidence_by_id()
        blocks.append(Heading(3, f"Evidence for #{lead.rank}"))
        for evidence_id in lead.evidence:
            evidence = by_id.get(evidence_id)
            if evidence is None:
                continue
            blocks.append(Bullets(((Span(evidence.id, "code"), Span(f" {_one_line(evidence.summary)} — "
                                                                     f"{evidence.agent}, {evidence.source}")),)))
            if with_queries and evidence.query.strip():
                language = "sql" if re.match(r"\s*(select|with)\b", evidence.query, re.IGNORECASE) else "text"
                blocks.append(Code(_clip(evidence.query), language))
    impact = report.impact
    if impact.requests:
        blocks.append(Heading(3, "Impact"))
        blocks.append(Bullets((
            (Span("Requests: ", "strong"), Span(f"{count(impact.failed_requests)} of {count(impact.requests)} failed "
                                                f"({percent(impact.error_rate, 1)} vs {percent(impact.baseline_error_rate, 1)} baseline)")),
            (Span("Users affected: ", "strong"), Span(f"{count(impact.users)} across {count(impact.tenants)} tenants")),
            (Span("Onset: ", "strong"), Span(f"{clock(impact.onset)}, peak {clock(impact.peak)} at "
                                            f"{percent(impact.peak_error_rate, 1)} errors")),
        )))
    if report.agents:
        blocks.append(Para((Span("Agents: ", "strong"), Span(" · ".join(
            f"{run.agent} {run.status} ({duration(run.duration_ms)})" for run in report.agents)))))
    footer = [Span(f"Full report attached as {attachment}. Investigated in {duration(report.duration_ms)}, "
                   f"{report.mode} mode. "), Span(marker(report), "code")]
    if report.trace_id:
        footer += [Span(" trace "), Span(report.trace_id, "code")]
    blocks.append(Para(tuple(footer)))
    return blocks


# --- Atlassian Document Format (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/)


def _adf_text(span: Span) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": span.text}
    if span.style == "strong":
        node["marks"] = [{"type": "strong"}]
    elif span.style == "code":
        node["marks"] = [{"type": "code"}]
    elif span.style == "link" and span.href:
        node["marks"] = [{"type": "link", "attrs": {"href": span.href}}]
    return node


def _adf_para(spans: tuple[Span, ...]) -> dict[str, Any]:
    # ADF rejects empty text nodes.
    return {"type": "paragraph", "content": [_adf_text(s) for s in spans if s.text]}


def _adf_cell(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, "attrs": {}, "content": [_adf_para((Span(text or "—"),))]}


def _adf_block(block: Block) -> dict[str, Any]:
    if isinstance(block, Heading):
        return {"type": "heading", "attrs": {"level": block.level}, "content": [{"type": "text", "text": block.text}]}
    if isinstance(block, Para):
        para = _adf_para(block.spans)
        return {"type": "blockquote", "content": [para]} if block.quote else para
    if isinstance(block, Bullets):
        return {"type": "bulletList", "content": [{"type": "listItem", "content": [_adf_para(item)]}
                                                  for item in block.items]}
    if isinstance(block, Table):
        rows = [{"type": "tableRow", "content": [_adf_cell("tableHeader", h) for h in block.header]}]
        rows += [{"type": "tableRow", "content": [_adf_cell("tableCell", c) for c in row]} for row in block.rows]
        return {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": rows}
    return {"type": "codeBlock", "attrs": {"language": block.language}, "content": [{"type": "text", "text": block.text}]}


def to_adf(blocks: list[Block]) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": [_adf_block(b) for b in blocks]}


def adf_text(node: Any) -> str:
    """All the text in an ADF document, for finding the marker in comments Jira hands back."""
    if isinstance(node, dict):
        return (node.get("text") or "") + "".join(adf_text(c) for c in node.get("content", ()))
    if isinstance(node, list):
        return "".join(adf_text(c) for c in node)
    return ""


# --- wiki markup (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all) -----------

# Braces, brackets, pipes and bangs open macros, links, cells and images anywhere; the effect characters
# (*bold*, _em_, -strike-, +ins+, ^sup^, ~sub~) only next to a space or the ends, so "dep-orders-2.14.0"
# and "N+1" stay readable.
_WIKI_ALWAYS = re.compile(r"([\\|{}\[\]!])")
_WIKI_EFFECT = re.compile(r"(?<!\w)([*_+^~-])|([*_+^~-])(?!\w)")


def _wiki_escape(text: str) -> str:
    text = _WIKI_ALWAYS.sub(r"\\\1", text)
    return _WIKI_EFFECT.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)


def _wiki_span(span: Span) -> str:
    if span.style == "strong":
        return f"*{_wiki_escape(span.text.strip())}*" + (" " if span.text.endswith(" ") else "")
    if span.style == "code":
        return "{{" + span.text.replace("}", "\\}") + "}}"
    if span.style == "link" and span.href:
        return f"[{_wiki_escape(span.text)}|{span.href}]"
    return _wiki_escape(span.text)


def _wiki_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"h{block.level}. {_wiki_escape(block.text)}"
    if isinstance(block, Para):
        text = "".join(_wiki_span(s) for s in block.spans)
        return f"bq. {text}" if block.quote else text
    if isinstance(block, Bullets):
        return "\n".join("* " + "".join(_wiki_span(s) for s in item) for item in block.items)
    if isinstance(block, Table):
        lines = ["||" + "||".join(_wiki_escape(h) for h in block.header) + "||"]
        lines += ["|" + "|".join(_wiki_escape(c) or " " for c in row) + "|" for row in block.rows]
        return "\n".join(lines)
    language = block.language if block.language in ("sql", "java", "python", "javascript") else "none"
    return f"{{code:{language}}}\n{block.text}\n{{code}}"


def to_wiki(blocks: list[Block]) -> str:
    return "\n\n".join(_wiki_block(b) for b in blocks) + "\n"


def comment_body(report: Report, flavour: str, attachment: str) -> dict[str, Any] | str:
    """The comment body for the flavour, without queries if they would push it past Jira's size limit."""
    for with_queries in (True, False):
        blocks = report_blocks(report, attachment, with_queries)
        body: dict[str, Any] | str = to_adf(blocks) if flavour == "cloud" else to_wiki(blocks)
        size = len(json.dumps(body)) if isinstance(body, dict) else len(body)
        if size <= JIRA_MAX_BODY:
            return body
    return body
