"""The report as one self-contained HTML page: no network, no scripts, every picture inline SVG.

Made for the person who opens the link from the ticket: the verdict and the mitigation at the top, then
the incident as a timeline (error rate and p95 per minute, the symptom's onset, every change considered,
and where each agent's findings point in time), the service graph with the suspect highlighted, and
below that the ranked hypotheses, the evidence with the queries that reproduce it, impact and agents.
The JSON report is embedded too (`<script type="application/json" id="inquest-report">`), so a page
that travels keeps its machine-readable twin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from inquest import __version__
from inquest.core import BASELINE_FIX, Evidence, RankedHypothesis, Report, utc
from inquest.render import (
    best_lead,
    change_label,
    clock,
    count,
    duration,
    headline,
    lead_label,
    percent,
    ranked,
    report_to_dict,
    window_label,
)
from inquest.render.html_graph import service_graph_svg
from inquest.render.html_text import esc, number, rich
from inquest.render.html_timeline import timeline_svg

CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--bad:#cf222e;--warn:#bc4c00;--ok:#1a7f37;--blue:#0969da}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink)}
main{max-width:1000px;margin:0 auto;padding:24px}h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}.muted{color:var(--muted)}.verdict{font-size:17px;margin:12px 0}
.mitigation{background:#dafbe1;border-left:4px solid var(--ok);padding:8px 12px;margin:8px 0}
.lead{background:#fff8c5;border-left:4px solid #d4a72c;padding:8px 12px}
code,pre{font:12px/1.45 ui-monospace,Menlo,Consolas,monospace}
pre{background:var(--bg);padding:8px;overflow:auto;white-space:pre-wrap}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}th{background:var(--bg)}
.num{text-align:right;white-space:nowrap}.conf{display:inline-block;height:8px;background:var(--blue);border-radius:2px}.conf.quiet{background:#d1d9e0}
.status-ok{color:var(--ok)}.status-error,.status-timeout{color:var(--bad)}.status-no_data{color:var(--muted)}
.evidence{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.evidence:target{border-color:var(--blue)}
svg text{font:11px -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:var(--ink)}svg .axis{fill:var(--muted)}
.bar{fill:#ff8182}.bar.quiet{fill:#d1d9e0}.p95{fill:none;stroke:var(--blue);stroke-width:1.5}
.onset{stroke:var(--bad);stroke-width:2}.change{stroke:#8c959f;stroke-dasharray:4 3}
.change.suspect{stroke:var(--bad);stroke-width:2;stroke-dasharray:none}
.change-label.suspect{font-weight:700;fill:var(--bad)}.finding{fill:#8c959f}.finding.suspect{fill:var(--bad)}
.finding.against{fill:#fff;stroke:#8c959f;stroke-width:1.5}.lane{stroke:var(--line)}
.edge-label{fill:var(--bad)}.edge-label-bg{fill:#fff;opacity:.92}.edge{fill:none;stroke:#8c959f}
.edge.failing{stroke:var(--bad)}.node rect{fill:#fff;stroke:#8c959f;stroke-width:1.5;rx:6}
.node.anomalous rect{stroke:var(--warn);stroke-width:2}.node.suspect rect{fill:#ffebe9;stroke:var(--bad);stroke-width:3}
.node.suspect text{font-weight:700}.legend{font-size:12px;color:var(--muted)}
.baseline-band{fill:#eef1f4}.normal-p95{stroke:var(--blue);stroke-dasharray:2 3;opacity:.8}
svg .normal-label,svg .p95-tick{fill:var(--blue)}.tick{stroke:var(--muted)}svg .onset-label{fill:var(--bad)}
.empty-chart{background:#fff8c5;border-left:4px solid #d4a72c;padding:8px 12px}
.group{margin:16px 0}.group h3{font-size:15px;margin:0 0 4px}.group .against{border-style:dashed}
footer{margin-top:32px;border-top:1px solid var(--line);padding-top:8px;font-size:12px;color:var(--muted)}
"""


# --- the page -------------------------------------------------------------------------------------------


def _rows(cells: Iterable[Iterable[str]]) -> str:
    return "".join("<tr>" + "".join(cells_) + "</tr>" for cells_ in cells)


def _header(report: Report) -> str:
    incident, cause, lead = report.incident, report.root_cause, best_lead(report)
    parts = [f"<h1>{esc(incident.id)}: {rich(incident.title)}</h1>",
             f'<p class="muted">alert on {esc(incident.service)} · window {esc(window_label(report.scope.window))}'
             + (f" · ticket {esc(incident.ticket)}" if incident.ticket else "") + "</p>"]
    if cause is not None:
        parts.append(f'<p class="verdict"><strong>Root cause</strong> ({percent(cause.confidence)} confidence): '
                     f"{rich(cause.summary)}</p>")
        if cause.mitigation:
            parts.append(f'<div class="mitigation"><strong>Try first:</strong> {rich(cause.mitigation)}</div>')
    else:
        parts.append(f'<p class="verdict"><strong>{rich(headline(report))}</strong></p>')
        if report.scope.inconclusive:
            parts.append(f'<p class="muted">{rich(BASELINE_FIX[0].upper() + BASELINE_FIX[1:])}.</p>')
        if lead is not None:
            parts.append(f'<div class="lead">{esc(lead_label(report, lead))}: {rich(lead.summary)}</div>')
    return "".join(parts)


def _summary_cell(h: RankedHypothesis) -> str:
    cell = rich(h.summary)
    if h.rank == 1 and h.mitigation:
        cell += f"<br><strong>Mitigation:</strong> {rich(h.mitigation)}"
    details = "".join(f"<li>{rich(r)}</li>" for r in h.reasons)
    if details:
        cell += f"<details><summary>why</summary><ul>{details}</ul></details>"
    sides = [f"{n} {word}" for n, word in ((len(h.evidence), "for"), (len(h.contradicting), "against")) if n]
    if sides:
        cell += f'<div class="muted"><a href="#hyp-{h.rank}">evidence: {", ".join(sides)}</a></div>'
    return f"<td>{cell}</td>"


def _hypotheses(report: Report) -> str:
    if not report.hypotheses:
        return '<p class="muted">No agent produced a hypothesis.</p>'
    # Inconclusive: the order still says where to look first, but the bars are grey, not a confirmed measure.
    bar = "conf quiet" if report.scope.inconclusive else "conf"
    rows = [[f'<td class="num">{h.rank}</td>',
             f'<td class="num">{percent(h.confidence)} <span class="{bar}" style="width:{h.confidence * 60:.0f}px">'
             "</span></td>", f"<td>{esc(h.service or '—')}</td><td>{esc(change_label(h.change))}</td>", _summary_cell(h)]
            for h in ranked(report)]
    unconfirmed = ('<p class="legend">Unconfirmed: these confidences assume a normal the baseline does not show; '
                   "the order says where to look first.</p>") if report.scope.inconclusive else ""
    return (unconfirmed + '<table id="hypotheses"><tr><th class="num">#</th><th class="num">Confidence</th><th>Service</th>'
            f"<th>Change</th><th>Summary</th></tr>{_rows(rows)}</table>")


def _card(e: Evidence, side: str = "") -> str:
    query = ""
    if e.query.strip():
        query = (f"<details><summary>Reproduce ({esc(e.source)})</summary>"
                 f"<pre><code>{esc(e.query.strip())}</code></pre></details>")
    return (f'<div class="evidence{side}" id="ev-{esc(e.id)}"><code>{esc(e.id)}</code> {rich(e.summary)} '
            f'<span class="muted">— {esc(e.agent)}, {esc(e.source)}</span>{query}</div>')


def _evidence(report: Report) -> str:
    """Evidence under the hypothesis it supports (or rules out), in rank order; a piece cited by several
    is shown under the first and linked from the others; what no hypothesis cites comes last."""
    by_id, shown, groups = report.evidence_by_id(), set(), []
    for h in ranked(report):
        items = []
        for ids, side, word in ((h.evidence, "", "for"), (h.contradicting, " against", "against")):
            for i in (i for i in ids if i in by_id):
                items.append(f'<p class="muted">{word}: see <a href="#ev-{esc(i)}"><code>{esc(i)}</code></a> '
                             "above</p>" if i in shown else _card(by_id[i], side))
                shown.add(i)
        if items:
            groups.append(f'<div class="group" id="hyp-{h.rank}"><h3>#{h.rank} {rich(h.summary)}</h3>'
                          + "".join(items) + "</div>")
    rest = [e for e in report.evidence if e.id not in shown]
    if rest:
        title = "Other evidence" if groups else "Evidence"
        groups.append(f'<div class="group" id="hyp-none"><h3>{title} (no hypothesis cites it)</h3>'
                      + "".join(_card(e) for e in rest) + "</div>")
    return "".join(groups) or '<p class="muted">No evidence.</p>'


def _impact(report: Report) -> str:
    i = report.impact
    if not i.requests:
        return '<p class="muted">No request data for the incident window.</p>'
    facts = (f"<ul><li><strong>{count(i.failed_requests)}</strong> of {count(i.requests)} requests failed "
             f"({percent(i.error_rate, 1)} vs {percent(i.baseline_error_rate, 1)} baseline), "
             f"{count(i.slow_requests)} slow</li>"
             f"<li><strong>{count(i.users)}</strong> users across {count(i.tenants)} tenants</li>"
             f"<li>error-budget burn {i.error_budget_burn:.1f}× · onset {clock(i.onset)} · peak {clock(i.peak)} "
             f"at {percent(i.peak_error_rate, 1)}</li></ul>")
    rows = [[f"<td>{esc(e.get('endpoint', '?'))}</td>", f'<td class="num">{count(int(number(e.get("requests"))))}</td>',
             f'<td class="num">{count(int(number(e.get("failed"))))}</td>',
             f'<td class="num">{percent(number(e.get("error_rate")), 1)}</td>'] for e in i.endpoints]
    table = ('<table><tr><th>Endpoint</th><th class="num">Requests</th><th class="num">Failed</th>'
             f'<th class="num">Error rate</th></tr>{_rows(rows)}</table>') if rows else ""
    return facts + table


def _agents(report: Report) -> str:
    rows = [[f"<td>{esc(r.agent)}</td>", f'<td class="status-{esc(r.status)}">{esc(r.status)}</td>',
             f'<td class="num">{duration(r.duration_ms)}</td>', f'<td class="num">{r.evidence_count}</td>',
             f"<td>{rich(r.reason)}</td>"] for r in report.agents]
    return ('<table id="agents"><tr><th>Agent</th><th>Status</th><th class="num">Duration</th>'
            f'<th class="num">Evidence</th><th>Note</th></tr>{_rows(rows)}</table>')


def _footer(report: Report) -> str:
    finished = utc(report.started_at) + timedelta(milliseconds=report.duration_ms)
    run = (f"Generated {finished:%Y-%m-%d %H:%M:%S} UTC by Inquest {esc(__version__)} · investigated in "
           f"{duration(report.duration_ms)}, {esc(report.mode)} mode · changes considered from "
           f"{esc(window_label(report.scope.lookback))}")
    if report.trace_id:
        run += f" · trace <code>{esc(report.trace_id)}</code>"
    return f"<footer>{run}</footer>"


# Inside <script>, "</script>" ends the element and "<!--" switches the parser into a state where it no
# longer does; U+2028/9 end a line in older JavaScript. JSON lets each be written as an escape instead.
_SCRIPT_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                                "\u2029": "\\u2029"})


def _script_json(value: object) -> str:
    """JSON that is inert inside a <script> element whatever text telemetry put in it."""
    return json.dumps(value, ensure_ascii=False).translate(_SCRIPT_UNSAFE)


def render_html(report: Report) -> str:
    data = _script_json(report_to_dict(report))
    notes = "".join(f"<li>{rich(n)}</li>" for n in report.notes)
    timeline = timeline_svg(report)
    graph, graph_caption = service_graph_svg(report)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{esc(report.incident.id)}: {esc(headline(report))}</title><style>{CSS}</style></head><body><main>"
        f"{_header(report)}"
        f'<h2>Timeline</h2><p class="legend">{esc(timeline.caption)}</p>{timeline.svg}'
        f'<h2>Service graph</h2><p class="legend">{esc(graph_caption)}</p>{graph}'
        f"<h2>Hypotheses</h2>{_hypotheses(report)}<h2>Impact</h2>{_impact(report)}"
        f'<h2>Evidence</h2><div id="evidence-groups">{_evidence(report)}</div><h2>Agents</h2>{_agents(report)}'
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f"{_footer(report)}"
        f'<script type="application/json" id="inquest-report">{data}</script></main></body></html>\n'
    )
