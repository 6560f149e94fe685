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
import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from typing import Any

from inquest.core import CallEdge, RankedHypothesis, Report, utc
from inquest.render import (
    best_lead,
    change_label,
    clock,
    count,
    duration,
    headline,
    percent,
    ranked,
    report_to_dict,
    window_label,
)

WIDTH, LEFT, RIGHT = 960, 120, 56  # the timeline: label column on the left, the p95 axis on the right
PLOT_TOP, PLOT_HEIGHT, LANE = 70, 170, 24
NODE_W, NODE_H, COLUMN, ROW = 132, 38, 236, 58
PAD = 12  # keeps the earliest marks clear of the lane labels
CHAR_PX = 6.6  # average glyph width of the 11 px labels, for keeping change labels apart

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
.num{text-align:right;white-space:nowrap}.conf{display:inline-block;height:8px;background:var(--blue);border-radius:2px}
.status-ok{color:var(--ok)}.status-error,.status-timeout{color:var(--bad)}.status-no_data{color:var(--muted)}
.evidence{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.evidence:target{border-color:var(--blue)}
svg text{font:11px -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:var(--ink)}svg .axis{fill:var(--muted)}
.bar{fill:#ff8182}.bar.quiet{fill:#d1d9e0}.p95{fill:none;stroke:var(--blue);stroke-width:1.5}
.onset{stroke:var(--bad);stroke-width:2}.change{stroke:#8c959f;stroke-dasharray:4 3}
.change.suspect{stroke:var(--bad);stroke-width:2;stroke-dasharray:none}
.change-label.suspect{font-weight:700;fill:var(--bad)}.finding{fill:#8c959f}.finding.suspect{fill:var(--bad)}
.finding.against{fill:#fff;stroke:#8c959f;stroke-width:1.5}.lane{stroke:var(--line)}
.edge-label{fill:var(--bad);paint-order:stroke;stroke:#fff;stroke-width:4px}.edge{fill:none;stroke:#8c959f}
.edge.failing{stroke:var(--bad)}.node rect{fill:#fff;stroke:#8c959f;stroke-width:1.5;rx:6}
.node.anomalous rect{stroke:var(--warn);stroke-width:2}.node.suspect rect{fill:#ffebe9;stroke:var(--bad);stroke-width:3}
.node.suspect text{font-weight:700}.legend{font-size:12px;color:var(--muted)}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _when(value: Any) -> datetime | None:
    """A timeline bucket's time: a datetime, or an ISO string where a backend handed one back."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


# --- what the pictures are made of --------------------------------------------------------------------


def _changes(report: Report) -> list[dict[str, Any]]:
    """Each change the deployment agent considered, with its time; the top hypothesis's is the suspect."""
    lead = best_lead(report) or report.root_cause
    blamed = lead.change.id if lead and lead.change else None
    seen: dict[str, dict[str, Any]] = {}
    for evidence in report.evidence:
        data = evidence.data
        at = _when(data.get("at"))
        if evidence.agent == "deployment" and data.get("change") and at is not None:
            seen.setdefault(str(data["change"]), {
                "id": str(data["change"]), "at": at, "service": data.get("service"), "kind": data.get("kind"),
                "label": f"{data.get('service') or '?'} {data.get('version') or data['change']}",
                "suspect": data["change"] == blamed})
    return sorted(seen.values(), key=lambda c: c["at"])


def _findings_in_time(report: Report, changes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per agent, where its findings point in time: the change a hypothesis blames, else the onset."""
    change_at = {c["id"]: c["at"] for c in changes}
    onset = report.scope.onset or report.impact.onset
    lead = best_lead(report) or report.root_cause
    by_id = report.evidence_by_id()
    marks: dict[str, list[dict[str, Any]]] = {run.agent: [] for run in report.agents}
    for h in ranked(report):
        at = change_at.get(h.change.id) if h.change else onset
        if at is None:
            continue
        for agent in h.agents:
            marks.setdefault(agent, []).append({"at": at, "kind": "suspect" if h is lead else "supports",
                                                "text": f"#{h.rank} {percent(h.confidence)} {h.summary}"})
        for agent in {by_id[e].agent for e in h.contradicting if e in by_id}:
            marks.setdefault(agent, []).append({"at": at, "kind": "against",
                                                "text": f"rules out #{h.rank}: {h.summary}"})
    impact = report.impact
    peak = f"peak {percent(impact.peak_error_rate, 1)} errors"
    for at, text in ((impact.onset, "errors start rising"), (impact.peak, peak)):
        if at is not None and "impact" in marks:
            marks["impact"].append({"at": utc(at), "kind": "supports", "text": text})
    return marks


# --- the timeline ---------------------------------------------------------------------------------------


def _tick_step(span: timedelta) -> timedelta:
    for minutes in (5, 10, 15, 30, 60, 120, 240):
        if span / timedelta(minutes=minutes) <= 10:
            return timedelta(minutes=minutes)
    return timedelta(hours=12)


def _label_rows(items: list[tuple[float, str]]) -> list[int]:
    """A row for each label so that labels on one row never overlap: greedy, left to right."""
    row_ends: list[float] = []
    rows = []
    for x, text in items:
        width = len(text) * CHAR_PX + 8
        row = next((i for i, end in enumerate(row_ends) if end <= x), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = x + width
        rows.append(row)
    return rows


def timeline_svg(report: Report) -> str:
    points = [(at, p) for p in report.timeline if (at := _when(p.at)) is not None]
    changes = _changes(report)
    marks = _findings_in_time(report, changes)
    times = [report.scope.window.start, report.scope.window.end, *(c["at"] for c in changes)]
    start, end = min(times), max(times)
    plot_w = WIDTH - LEFT - RIGHT - 2 * PAD

    def x(at: datetime) -> float:
        return LEFT + PAD + (at - start) / (end - start) * plot_w

    rates = [(_number(p.errors) / _number(p.requests)) if _number(p.requests) else 0.0 for _, p in points]
    top_rate = max([0.05, *rates])
    top_rate = math.ceil(top_rate * 10) / 10 if top_rate > 0.1 else math.ceil(top_rate * 100) / 100
    p95s = [_number(p.p95_ms) for _, p in points]
    top_p95 = max([1.0, *p95s]) * 1.1
    base = PLOT_TOP + PLOT_HEIGHT
    lanes = list(marks)
    height = base + 40 + LANE * len(lanes) + 10
    out = [f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
           f'role="img" aria-label="incident timeline">']
    for i in range(5):  # error-rate gridlines and axis
        y = base - PLOT_HEIGHT * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="lane"/>'
                   f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{percent(top_rate * i / 4)}</text>'
                   f'<text class="axis" x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}">{top_p95 * i / 4:.0f} ms</text>')
    out.append(f'<text class="axis" x="{LEFT - 6}" y="{PLOT_TOP - 8}" text-anchor="end">errors</text>'
               f'<text class="axis" x="{WIDTH - RIGHT + 6}" y="{PLOT_TOP - 8}" fill="#0969da">p95</text>')
    bar_w = max(1.0, x(start + timedelta(minutes=1)) - x(start) - 1)
    for (at, p), rate in zip(points, rates):
        h = PLOT_HEIGHT * rate / top_rate
        out.append(f'<rect class="bar{" quiet" if not rate else ""}" x="{x(at):.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                   f'height="{max(h, 1):.1f}"><title>{clock(at)}: {count(int(_number(p.errors)))} of '
                   f'{count(int(_number(p.requests)))} requests failed ({percent(rate, 1)}), p95 '
                   f'{_number(p.p95_ms):.0f} ms</title></rect>')
    if points:
        path = " ".join(f"{x(at) + bar_w / 2:.1f},{base - PLOT_HEIGHT * v / top_p95:.1f}"
                        for (at, _), v in zip(points, p95s))
        out.append(f'<polyline class="p95" points="{path}"/>')
    labels = [(x(c["at"]), f"{c['label']} {c['at']:%H:%M}") for c in changes]
    for change, (cx, text), row in zip(changes, labels, _label_rows(labels)):
        cls = " suspect" if change["suspect"] else ""
        out.append(f'<line class="change{cls}" x1="{cx:.1f}" x2="{cx:.1f}" y1="{PLOT_TOP - 6 - 14 * row:.1f}" y2="{base}">'
                   f'<title>{_e(change["kind"])} {_e(change["id"])} at {clock(change["at"])}</title></line>'
                   f'<text class="change-label{cls}" x="{cx + 3:.1f}" y="{PLOT_TOP - 9 - 14 * row:.1f}">{_e(text)}</text>')
    onset = report.scope.onset or report.impact.onset
    if onset is not None:
        ox = x(utc(onset))
        out.append(f'<line class="onset" x1="{ox:.1f}" x2="{ox:.1f}" y1="{PLOT_TOP}" y2="{base + 30 + LANE * len(lanes)}"/>'
                   f'<text class="onset-label" x="{ox + 4:.1f}" y="{PLOT_TOP + 12}" fill="#cf222e">onset {onset:%H:%M}</text>')
    tick, step = start.replace(minute=0, second=0, microsecond=0), _tick_step(end - start)
    while tick <= end:
        if tick >= start:
            out.append(f'<text class="axis" x="{x(tick):.1f}" y="{base + 16}" text-anchor="middle">{tick:%H:%M}</text>')
        tick += step
    for i, agent in enumerate(lanes):
        y = base + 36 + LANE * i
        out.append(f'<g class="agent-lane" data-agent="{_e(agent)}"><line class="lane" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                   f'y1="{y}" y2="{y}"/><text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{_e(agent)}</text>')
        for mark in marks[agent]:
            out.append(f'<circle class="finding {mark["kind"]}" cx="{x(mark["at"]):.1f}" cy="{y}" r="5">'
                       f'<title>{_e(agent)}: {_e(mark["text"])}</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# --- the service graph ------------------------------------------------------------------------------------


def _depths(edges: list[CallEdge], entry: str | None) -> dict[str, int]:
    """Each service's column: the longest call chain from where requests enter, so that every edge of an
    acyclic graph points to the right. Relaxation stops after len(nodes) rounds, which a cycle would exceed."""
    nodes = sorted({e.caller for e in edges} | {e.callee for e in edges})
    callees = {e.callee for e in edges}
    roots = [entry] if entry in nodes else [n for n in nodes if n not in callees] or nodes[:1]
    depth = {root: 0 for root in roots}
    for _ in nodes:
        moved = False
        for e in edges:
            caller, callee = e.caller, e.callee
            if caller in depth and depth.get(callee, -1) < depth[caller] + 1 and callee not in roots:
                depth[callee] = depth[caller] + 1
                moved = True
        if not moved:
            break
    deepest = max(depth.values(), default=0)
    return {n: min(depth.get(n, deepest + 1), len(nodes)) for n in nodes}


def _ordered_columns(edges: list[CallEdge], depth: dict[str, int]) -> dict[int, list[str]]:
    """Nodes per column, each column ordered by where its callers sit (barycentre), which keeps most edges
    from crossing; ties go by name so the picture is the same every time."""
    columns: dict[int, list[str]] = {}
    for node in sorted(depth):
        columns.setdefault(depth[node], []).append(node)
    row: dict[str, float] = {n: float(i) for i, n in enumerate(columns.get(0, []))}
    for d in sorted(columns)[1:]:
        def centre(node: str) -> float:
            callers = [row[e.caller] for e in edges if e.callee == node and e.caller in row]
            return sum(callers) / len(callers) if callers else math.inf
        columns[d].sort(key=lambda n: (centre(n), n))
        row.update({n: float(i) for i, n in enumerate(columns[d])})
    return columns


def service_graph_svg(report: Report) -> str:
    edges = [e for e in report.call_graph if e.caller and e.callee]
    if not edges:
        return '<p class="muted">No call graph: the trace agent saw no calls between services.</p>'
    lead = best_lead(report) or report.root_cause
    suspect = lead.service if lead else None
    anomalous = set(report.anomalous_services)
    depth = _depths(edges, report.scope.entry_service)
    columns = _ordered_columns(edges, depth)
    at = {n: (20 + COLUMN * d, 20 + ROW * i) for d, names in columns.items() for i, n in enumerate(names)}
    width = 40 + COLUMN * (max(columns) + 1)
    height = 40 + ROW * max(len(names) for names in columns.values())
    most = max(_number(e.calls) for e in edges) or 1.0
    out = [f'<svg id="service-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" role="img" aria-label="service graph"><defs><marker id="arrow" '
           'viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>']
    for e in edges:
        (x1, y1), (x2, y2) = at[e.caller], at[e.callee]
        sx, sy, ty = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        if x2 > x1:
            # An edge that skips a column arcs over the row instead of running behind the nodes in between.
            tx, bend, lift = x2, max(40.0, (x2 - sx) / 2), (NODE_H if x2 - x1 > COLUMN else 0)
            curve = f"C{sx + bend},{sy - lift} {tx - bend},{ty - lift} {tx},{ty}"
        else:  # a call within a column or back to the left (a cycle): loop out to the right and back in
            tx = x2 + NODE_W
            curve = f"C{sx + 60},{sy} {tx + 60},{ty} {tx},{ty}"
        calls, errors = _number(e.calls), _number(e.errors)
        stroke = 1 + 3 * math.log10(1 + calls) / math.log10(1 + most)
        out.append(f'<path class="edge{" failing" if errors else ""}" stroke-width="{stroke:.1f}" marker-end="url(#arrow)" '
                   f'd="M{sx},{sy} {curve}"><title>{_e(e.caller)} → '
                   f'{_e(e.callee)}: {count(int(calls))} calls, {count(int(errors))} failed</title></path>')
        if errors:
            out.append(f'<text class="edge-label" x="{(sx + tx) / 2:.0f}" y="{(sy + ty) / 2 + 4:.0f}" '
                       f'text-anchor="middle">{count(int(errors))} failed</text>')
    for node, (nx, ny) in sorted(at.items()):
        cls = "suspect" if node == suspect else "anomalous" if node in anomalous else ""
        tag = " (suspect)" if cls == "suspect" else ""
        out.append(f'<g class="node {cls}" data-service="{_e(node)}"><rect x="{nx}" y="{ny}" width="{NODE_W}" '
                   f'height="{NODE_H}" rx="6"/><text x="{nx + NODE_W / 2}" y="{ny + NODE_H / 2 + 4}" '
                   f'text-anchor="middle">{_e(node)}{tag}</text></g>')
    out.append("</svg>")
    return "".join(out)


# --- the page -------------------------------------------------------------------------------------------


def _rows(cells: Iterable[Iterable[str]]) -> str:
    return "".join("<tr>" + "".join(cells_) + "</tr>" for cells_ in cells)


def _header(report: Report) -> str:
    incident, cause, lead = report.incident, report.root_cause, best_lead(report)
    parts = [f"<h1>{_e(incident.id)}: {_e(incident.title)}</h1>",
             f'<p class="muted">alert on {_e(incident.service)} · window {_e(window_label(report.scope.window))}'
             + (f" · ticket {_e(incident.ticket)}" if incident.ticket else "") + "</p>"]
    if cause is not None:
        parts.append(f'<p class="verdict"><strong>Root cause</strong> ({percent(cause.confidence)} confidence): '
                     f"{_e(cause.summary)}</p>")
        if cause.mitigation:
            parts.append(f'<div class="mitigation"><strong>Try first:</strong> {_e(cause.mitigation)}</div>')
    else:
        parts.append(f'<p class="verdict"><strong>{_e(headline(report))}</strong></p>')
        if lead is not None:
            parts.append(f'<div class="lead">Best lead ({percent(lead.confidence)}): {_e(lead.summary)}</div>')
    return "".join(parts)


def _links(ids: Iterable[str]) -> str:
    return " ".join(f'<a href="#ev-{_e(i)}"><code>{_e(i)}</code></a>' for i in ids)


def _summary_cell(h: RankedHypothesis) -> str:
    cell = _e(h.summary)
    if h.rank == 1 and h.mitigation:
        cell += f"<br><strong>Mitigation:</strong> {_e(h.mitigation)}"
    details = "".join(f"<li>{_e(r)}</li>" for r in h.reasons)
    details = f"<ul>{details}</ul>" if details else ""
    if h.evidence:
        details += f"<p>for: {_links(h.evidence)}</p>"
    if h.contradicting:
        details += f"<p>against: {_links(h.contradicting)}</p>"
    if details:
        cell += f"<details><summary>why, evidence</summary>{details}</details>"
    return f"<td>{cell}</td>"


def _hypotheses(report: Report) -> str:
    if not report.hypotheses:
        return '<p class="muted">No agent produced a hypothesis.</p>'
    rows = [[f'<td class="num">{h.rank}</td>',
             f'<td class="num">{percent(h.confidence)} <span class="conf" style="width:{h.confidence * 60:.0f}px"></span></td>',
             f"<td>{_e(h.service or '—')}</td><td>{_e(change_label(h.change))}</td>", _summary_cell(h)]
            for h in ranked(report)]
    return ('<table id="hypotheses"><tr><th class="num">#</th><th class="num">Confidence</th><th>Service</th>'
            f"<th>Change</th><th>Summary</th></tr>{_rows(rows)}</table>")


def _evidence(report: Report) -> str:
    items = []
    for e in report.evidence:
        query = ""
        if e.query.strip():
            query = (f"<details><summary>Reproduce ({_e(e.source)})</summary>"
                     f"<pre><code>{_e(e.query.strip())}</code></pre></details>")
        items.append(f'<div class="evidence" id="ev-{_e(e.id)}"><code>{_e(e.id)}</code> {_e(e.summary)} '
                     f'<span class="muted">— {_e(e.agent)}, {_e(e.source)}</span>{query}</div>')
    return "".join(items) or '<p class="muted">No evidence.</p>'


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
    rows = [[f"<td>{_e(e.get('endpoint', '?'))}</td>", f'<td class="num">{count(int(_number(e.get("requests"))))}</td>',
             f'<td class="num">{count(int(_number(e.get("failed"))))}</td>',
             f'<td class="num">{percent(_number(e.get("error_rate")), 1)}</td>'] for e in i.endpoints]
    table = ('<table><tr><th>Endpoint</th><th class="num">Requests</th><th class="num">Failed</th>'
             f'<th class="num">Error rate</th></tr>{_rows(rows)}</table>') if rows else ""
    return facts + table


def _agents(report: Report) -> str:
    rows = [[f"<td>{_e(r.agent)}</td>", f'<td class="status-{_e(r.status)}">{_e(r.status)}</td>',
             f'<td class="num">{duration(r.duration_ms)}</td>', f'<td class="num">{r.evidence_count}</td>',
             f"<td>{_e(r.error or '')}</td>"] for r in report.agents]
    return ('<table id="agents"><tr><th>Agent</th><th>Status</th><th class="num">Duration</th>'
            f'<th class="num">Evidence</th><th>Note</th></tr>{_rows(rows)}</table>')


def render_html(report: Report) -> str:
    data = json.dumps(report_to_dict(report), ensure_ascii=False).replace("</", "<\\/")
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    run = f"Investigated in {duration(report.duration_ms)}, {report.mode} mode"
    entry = report.scope.entry_service or "the entry service"
    if report.trace_id:
        run += f" · trace <code>{_e(report.trace_id)}</code>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{_e(report.incident.id)}: {_e(headline(report))}</title><style>{CSS}</style></head><body><main>"
        f"{_header(report)}"
        f'<h2>Timeline</h2><p class="legend">Bars: share of requests at {_e(entry)} that failed, per minute; '
        "blue line: p95 latency; red line: onset; dashed lines: changes (the blamed one in red); dots: where each "
        "agent's findings point (filled red: the top hypothesis, hollow: ruled out).</p>"
        f"{timeline_svg(report)}"
        '<h2>Service graph</h2><p class="legend">Calls between services in the incident window; red edges failed; '
        "orange: services whose behaviour changed; red: the suspect.</p>"
        f"{service_graph_svg(report)}"
        f"<h2>Hypotheses</h2>{_hypotheses(report)}<h2>Impact</h2>{_impact(report)}"
        f"<h2>Evidence</h2>{_evidence(report)}<h2>Agents</h2>{_agents(report)}"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f'<p class="muted">{run}. Changes considered: {_e(window_label(report.scope.lookback))}.</p>'
        f'<script type="application/json" id="inquest-report">{data}</script></main></body></html>\n'
    )
