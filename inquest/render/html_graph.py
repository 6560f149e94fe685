"""The service graph: who called whom in the incident window, failing calls in red, the suspect
highlighted. Columns follow the longest call chain from the entry service; edge labels are drawn after
every edge, on a white halo beside the curve's midpoint, so no edge strikes one through."""

from __future__ import annotations

import math

from inquest.core import CallEdge, Report
from inquest.render import best_lead, count
from inquest.render.html_text import esc, number, text_width

NODE_W, NODE_H, COLUMN, ROW = 132, 38, 236, 58
LABEL_H = 14


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


def _curve(start: tuple[float, float], end: tuple[float, float]) -> tuple[str, tuple[float, float]]:
    """The edge's path from caller to callee, and the point halfway along it (the cubic at t = 1/2)."""
    (x1, y1), (x2, y2) = start, end
    sx, sy, ty = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
    if x2 > x1:
        # An edge that skips a column arcs over the row instead of running behind the nodes in between.
        tx, bend, lift = x2, max(40.0, (x2 - sx) / 2), (NODE_H if x2 - x1 > COLUMN else 0)
        c1, c2 = (sx + bend, sy - lift), (tx - bend, ty - lift)
    else:  # a call within a column or back to the left (a cycle): loop out to the right and back in
        tx = x2 + NODE_W
        c1, c2 = (sx + 60, sy), (tx + 60, ty)
    mid = ((sx + 3 * c1[0] + 3 * c2[0] + tx) / 8, (sy + 3 * c1[1] + 3 * c2[1] + ty) / 8)
    return f"M{sx},{sy} C{c1[0]},{c1[1]} {c2[0]},{c2[1]} {tx},{ty}", mid


def _place_labels(wanted: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Labels centred above their edge's midpoint, moved up a line at a time until none overlaps another."""
    placed: list[tuple[float, float, str]] = []
    for x, y, text in wanted:
        half = text_width(text) / 2
        y -= 6
        while any(abs(x - px) < half + text_width(pt) / 2 and abs(y - py) < LABEL_H for px, py, pt in placed):
            y -= LABEL_H
        placed.append((x, y, text))
    return placed


def service_graph_svg(report: Report) -> tuple[str, str]:
    """The graph's SVG and its caption, which names only what was drawn."""
    edges = [e for e in report.call_graph if e.caller and e.callee]
    if not edges:
        return '<p class="muted">No call graph: the trace agent saw no calls between services.</p>', ""
    lead = best_lead(report) or report.root_cause
    suspect = lead.service if lead else None
    anomalous = set(report.anomalous_services)
    columns = _ordered_columns(edges, _depths(edges, report.scope.entry_service))
    at = {n: (20 + COLUMN * d, 20 + ROW * i) for d, names in columns.items() for i, n in enumerate(names)}
    width = 40 + COLUMN * (max(columns) + 1)
    height = 40 + ROW * max(len(names) for names in columns.values())
    most = max(number(e.calls) for e in edges) or 1.0
    out = [f'<svg id="service-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" role="img" aria-label="service graph"><defs><marker id="arrow" '
           'viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>']
    labels = []
    for e in edges:
        path, (mx, my) = _curve(at[e.caller], at[e.callee])
        calls, errors = number(e.calls), number(e.errors)
        stroke = 1 + 3 * math.log10(1 + calls) / math.log10(1 + most)
        out.append(f'<path class="edge{" failing" if errors else ""}" stroke-width="{stroke:.1f}" '
                   f'marker-end="url(#arrow)" d="{path}"><title>{esc(e.caller)} → {esc(e.callee)}: '
                   f"{count(int(calls))} calls, {count(int(errors))} failed</title></path>")
        if errors:
            labels.append((mx, my, f"{count(int(errors))} failed"))
    out.extend(f'<rect class="edge-label-bg" x="{x - text_width(text) / 2:.0f}" y="{y - 11:.0f}" '
               f'width="{text_width(text):.0f}" height="{LABEL_H}" rx="3"/>'
               f'<text class="edge-label" x="{x:.0f}" y="{y:.0f}" text-anchor="middle">{esc(text)}</text>'
               for x, y, text in _place_labels(labels))
    drawn = set()
    for node, (nx, ny) in sorted(at.items()):
        cls = "suspect" if node == suspect else "anomalous" if node in anomalous else ""
        drawn.add(cls)
        tag = " (suspect)" if cls == "suspect" else ""
        out.append(f'<g class="node {cls}" data-service="{esc(node)}"><rect x="{nx}" y="{ny}" width="{NODE_W}" '
                   f'height="{NODE_H}" rx="6"/><text x="{nx + NODE_W / 2}" y="{ny + NODE_H / 2 + 4}" '
                   f'text-anchor="middle">{esc(node)}{tag}</text></g>')
    out.append("</svg>")
    return "".join(out), _caption(drawn, bool(labels))


def _caption(drawn: set[str], failing: bool) -> str:
    parts = ["Calls between services in the incident window (line width: how many)"]
    if failing:
        parts.append("red edges: calls that failed, labelled with how many")
    if "anomalous" in drawn:
        parts.append("orange outline: services whose own behaviour changed")
    if "suspect" in drawn:
        parts.append("red box: the suspect")
    return "; ".join(parts) + "."
