"""The incident as a timeline: error rate and p95 per minute over the baseline and the incident window,
the onset, every change considered, and where each agent's findings point in time.

Drawn for a person pasting it into the incident channel: the baseline is shaded and its p95 drawn, so
"normal" is visible beside the incident; axes step 1-2-5; no label is crossed by another's line; the
caption names only what was drawn.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from inquest.core import Bucket, Report, utc
from inquest.render import best_lead, clock, count, percent, ranked
from inquest.render.html_text import esc, ms_label, nice_ticks, number, share_label, text_width, when

WIDTH, LEFT, RIGHT = 960, 120, 64  # the label column on the left, the p95 axis on the right
PLOT_HEIGHT, LANE, ROW_H = 170, 24, 14
PAD = 12  # keeps the earliest marks clear of the lane labels


@dataclass(frozen=True)
class Drawing:
    svg: str
    caption: str


@dataclass(frozen=True)
class Marker:
    """A labelled vertical line: a change, or the symptom's onset."""

    at: datetime
    text: str
    kind: str  # "change", "suspect" (the blamed change) or "onset"
    title: str


@dataclass
class Frame:
    start: datetime
    end: datetime
    top: float  # the plot's top edge
    lanes: int
    plot: bool = True
    parts: list[str] = field(default_factory=list)
    drawn: set[str] = field(default_factory=set)

    @property
    def base(self) -> float:
        return self.top + (PLOT_HEIGHT if self.plot else 0)

    @property
    def bottom(self) -> float:
        return self.base + 36 + LANE * self.lanes

    def x(self, at: datetime) -> float:
        span = (self.end - self.start) or timedelta(minutes=1)
        return LEFT + PAD + (at - self.start) / span * (WIDTH - LEFT - RIGHT - 2 * PAD)


def changes(report: Report) -> list[dict[str, Any]]:
    """Each change the deployment agent considered, with its time; the top hypothesis's is the suspect."""
    lead = best_lead(report) or report.root_cause
    blamed = lead.change.id if lead and lead.change else None
    seen: dict[str, dict[str, Any]] = {}
    for evidence in report.evidence:
        data = evidence.data
        at = when(data.get("at"))
        if evidence.agent == "deployment" and data.get("change") and at is not None:
            seen.setdefault(str(data["change"]), {
                "id": str(data["change"]), "at": at, "kind": data.get("kind"),
                "label": f"{data.get('service') or '?'} {data.get('version') or data['change']}",
                "suspect": data["change"] == blamed})
    return sorted(seen.values(), key=lambda c: c["at"])


def findings_in_time(report: Report, known: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per agent, where its findings point in time: the change a hypothesis blames, else the onset."""
    change_at = {c["id"]: c["at"] for c in known}
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


def label_rows(items: list[tuple[float, str]]) -> list[int]:
    """A row for each label (0 = nearest the plot) that sits right of its line, so that no two labels
    overlap and no line crosses a label: each label goes one row above every line that starts under
    it. Placed right to left, the lines under a label already have their rows."""
    rows = [0] * len(items)
    placed: list[int] = []
    for i in sorted(range(len(items)), key=lambda k: -items[k][0]):
        x, text = items[i]
        under = [rows[j] for j in placed if x <= items[j][0] < x + text_width(text)]
        rows[i] = 1 + max(under) if under else 0
        placed.append(i)
    return rows


def _markers(report: Report, known: list[dict[str, Any]]) -> list[Marker]:
    out = [Marker(c["at"], f"{c['label']} {c['at']:%H:%M}", "suspect" if c["suspect"] else "change",
                  f"{c['kind']} {c['id']} at {clock(c['at'])}") for c in known]
    onset = report.scope.onset or report.impact.onset
    if onset is not None:
        out.append(Marker(utc(onset), f"onset {utc(onset):%H:%M}", "onset", f"the symptom began at {clock(onset)}"))
    return sorted(out, key=lambda m: m.at)


def timeline_svg(report: Report) -> Drawing:
    points = [(at, p) for p in report.timeline if (at := when(p.at)) is not None]
    known = changes(report)
    marks = findings_in_time(report, known)
    markers = _markers(report, known)
    scope = report.scope
    times = [scope.baseline.start, scope.window.end, *(m.at for m in markers)]
    frame = Frame(min(times), max(times), 0.0, len(marks), plot=bool(points))
    rows = label_rows([(frame.x(m.at), m.text) for m in markers])
    frame.top = 34 + ROW_H * (max(rows, default=-1) + 1)
    if points:
        _plot(frame, report, points)
    _draw_markers(frame, markers, rows)
    _time_axis(frame)
    _lanes(frame, marks)
    svg = (f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {frame.bottom + 10:.0f}" '
           f'width="100%" role="img" aria-label="incident timeline">{"".join(frame.parts)}</svg>')
    empty = "" if points else (
        f'<p class="empty-chart"><strong>No request timeline to draw:</strong> '
        f"{esc(_why_no_timeline(report))}. Changes and findings are placed in time below.</p>")
    return Drawing(empty + svg, _caption(frame.drawn, report.scope.entry_service))


def _why_no_timeline(report: Report) -> str:
    if report.scope.entry_service is None:
        return "no root spans in the incident window, so there is no entry service whose requests could be counted"
    return f"no requests at {report.scope.entry_service} in the baseline or the incident window"


def _plot(frame: Frame, report: Report, points: list[tuple[datetime, Bucket]]) -> None:
    out, base = frame.parts, frame.base
    rates = [number(p.errors) / number(p.requests) if number(p.requests) else 0.0 for _, p in points]
    rate_ticks = nice_ticks(max([0.05, *rates]))
    p95_ticks = nice_ticks(max([1.0, *(number(p.p95_ms) for _, p in points)]))
    top_rate, top_p95 = rate_ticks[-1], p95_ticks[-1]
    baseline = report.scope.baseline
    bx1, bx2 = frame.x(max(baseline.start, frame.start)), frame.x(baseline.end)
    normal = [number(p.p95_ms) for at, p in points if at < baseline.end and number(p.requests)]
    level = statistics.median(normal) if normal else None
    out.append(f'<rect class="baseline-band" x="{bx1:.1f}" y="{frame.top}" width="{bx2 - bx1:.1f}" '
               f'height="{PLOT_HEIGHT}"/><text class="axis" x="{bx1 + 4:.1f}" y="{frame.top + 12}">baseline'
               + (f' · <tspan class="normal-label">median p95 {ms_label(level)}</tspan>' if level is not None else "")
               + "</text>")
    frame.drawn.add("baseline")
    for tick in rate_ticks:
        y = base - PLOT_HEIGHT * tick / top_rate
        out.append(f'<line class="lane" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{share_label(tick)}</text>')
    for tick in p95_ticks:
        y = base - PLOT_HEIGHT * tick / top_p95
        out.append(f'<line class="tick" x1="{WIDTH - RIGHT}" x2="{WIDTH - RIGHT + 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="axis p95-tick" x="{WIDTH - RIGHT + 7}" y="{y + 4:.1f}">{ms_label(tick)}</text>')
    out.append(f'<text class="axis" x="{LEFT - 6}" y="{frame.top - 8}" text-anchor="end">errors</text>'
               f'<text class="axis p95-tick" x="{WIDTH - RIGHT + 7}" y="{frame.top - 8}">p95</text>')
    step = min((b[0] - a[0] for a, b in zip(points, points[1:]) if b[0] > a[0]), default=timedelta(minutes=1))
    bar_w = max(1.0, frame.x(frame.start + step) - frame.x(frame.start) - 1)
    for (at, p), rate in zip(points, rates):
        h = PLOT_HEIGHT * rate / top_rate
        out.append(f'<rect class="bar{" quiet" if not rate else ""}" x="{frame.x(at):.1f}" y="{base - h:.1f}" '
                   f'width="{bar_w:.1f}" height="{max(h, 1):.1f}"><title>{clock(at)}: {count(int(number(p.errors)))} '
                   f'of {count(int(number(p.requests)))} requests failed ({percent(rate, 1)}), p95 '
                   f'{number(p.p95_ms):,.0f} ms</title></rect>')
    frame.drawn.add("bars")
    _p95_lines(frame, points, step, bar_w, top_p95, level)


def _p95_lines(frame: Frame, points: list[tuple[datetime, Bucket]], step: timedelta, bar_w: float,
               top_p95: float, level: float | None) -> None:
    """The p95 as one line per run of consecutive buckets (a gap is not drawn as a slope), and the
    baseline's median p95 as a dashed reference across the whole plot."""
    base = frame.base
    runs: list[list[str]] = []
    run: list[str] = []
    for i, (at, p) in enumerate(points):
        if run and at - points[i - 1][0] > step * 1.5:
            runs.append(run)
            run = []
        run.append(f"{frame.x(at) + bar_w / 2:.1f},{base - PLOT_HEIGHT * number(p.p95_ms) / top_p95:.1f}")
    runs.append(run)
    frame.parts.extend(f'<polyline class="p95" points="{" ".join(r)}"/>' for r in runs if len(r) > 1)
    frame.drawn.add("p95")
    if level is not None:
        y = base - PLOT_HEIGHT * level / top_p95
        frame.parts.append(f'<line class="normal-p95" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
                           f"<title>the baseline's median p95: {ms_label(level)}</title></line>")
        frame.drawn.add("normal")


def _draw_markers(frame: Frame, markers: list[Marker], rows: list[int]) -> None:
    for marker, row in zip(markers, rows):
        mx, label_y = frame.x(marker.at), frame.top - 22 - ROW_H * row
        bottom = frame.bottom - 6 if marker.kind == "onset" else frame.base
        line, label = {"change": ("change", "change-label"), "suspect": ("change suspect", "change-label suspect"),
                       "onset": ("onset", "onset-label")}[marker.kind]
        frame.parts.append(
            f'<line class="{line}" x1="{mx:.1f}" x2="{mx:.1f}" y1="{label_y - 9:.1f}" y2="{bottom:.1f}">'
            f"<title>{esc(marker.title)}</title></line>"
            f'<text class="{label}" x="{mx + 3:.1f}" y="{label_y:.1f}">{esc(marker.text)}</text>')
        frame.drawn.add(marker.kind)


def _tick_step(span: timedelta) -> timedelta:
    for minutes in (5, 10, 15, 30, 60, 120, 240):
        if span / timedelta(minutes=minutes) <= 10:
            return timedelta(minutes=minutes)
    return timedelta(hours=12)


def _time_axis(frame: Frame) -> None:
    tick, step = frame.start.replace(minute=0, second=0, microsecond=0), _tick_step(frame.end - frame.start)
    while tick <= frame.end:
        if tick >= frame.start:
            frame.parts.append(f'<text class="axis" x="{frame.x(tick):.1f}" y="{frame.base + 16}" '
                               f'text-anchor="middle">{tick:%H:%M}</text>')
        tick += step


def _lanes(frame: Frame, marks: dict[str, list[dict[str, Any]]]) -> None:
    for i, (agent, found) in enumerate(marks.items()):
        y = frame.base + 36 + LANE * i
        frame.parts.append(f'<g class="agent-lane" data-agent="{esc(agent)}"><line class="lane" x1="{LEFT}" '
                           f'x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/><text x="{LEFT - 6}" y="{y + 4}" '
                           f'text-anchor="end">{esc(agent)}</text>')
        for mark in found:
            frame.parts.append(f'<circle class="finding {mark["kind"]}" cx="{frame.x(mark["at"]):.1f}" cy="{y}" '
                               f'r="5"><title>{esc(agent)}: {esc(mark["text"])}</title></circle>')
            frame.drawn.add(f"dot-{mark['kind']}")
        frame.parts.append("</g>")


def _caption(drawn: set[str], entry: str | None) -> str:
    """The legend, naming only what the picture holds."""
    parts = []
    if "bars" in drawn:
        parts.append(f"bars: share of requests at {entry or 'the entry service'} that failed, per minute (grey: none)")
    if "p95" in drawn:
        parts.append("blue line: their p95 latency")
    if "baseline" in drawn:
        parts.append("shaded: the baseline, what normal looked like"
                     + (" (dashed blue: its median p95)" if "normal" in drawn else ""))
    if "onset" in drawn:
        parts.append("red line: onset")
    if drawn & {"change", "suspect"}:
        parts.append("dashed lines: changes" + (" (the blamed one in red)" if "suspect" in drawn else ""))
    dots = [text for key, text in (("dot-suspect", "filled red: the top hypothesis"),
                                   ("dot-supports", "grey: other hypotheses"),
                                   ("dot-against", "hollow: ruled out")) if key in drawn]
    if dots:
        parts.append(f"dots: where each agent's findings point ({', '.join(dots)})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""
