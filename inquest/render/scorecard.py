"""The replay scorecard: a terminal table, Markdown for a PR or a wiki, and one self-contained HTML page
with charts of accuracy and latency across stored runs and a per-case grid. Pure: runs in, text out.

The HTML page embeds everything it draws (inline SVG and CSS, no script, no fonts or images to fetch),
so it can be mailed, attached to a CI run or opened from disk years later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from io import StringIO
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inquest.replay.history import Run
from inquest.replay.scoring import CaseDelta, CaseResult, Comparison, Summary

WIDTH = 132  # text written to files and pipes: a wide terminal, so the case table rarely wraps
GRID_RUNS = 20  # columns of the per-case grid: the most recent runs
VERDICT_STYLE = {"better": "green", "worse": "red", "same": "dim", "new": "cyan", "gone": "dim"}
RANK_COLOURS = {"first": "#15803d", "top3": "#ca8a04", "lower": "#ea580c", "miss": "#b91c1c",
                "error": "#4b5563", "absent": "#f3f4f6"}
DASHES = ("", "8 5", "3 4")  # first, second, later series
SERIES = {"top1": "#2563eb", "top3": "#16a34a", "mrr": "#9333ea", "p50": "#0891b2", "p95": "#ea580c"}


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _rank(result: CaseResult | None) -> str:
    if result is None:
        return ""
    if result.status == "error":
        return "error"
    return f"#{result.rank_of_truth}" if result.rank_of_truth else "missed"


def _answer(result: CaseResult) -> str:
    """The top answer, or "= truth" when it is the truth: the column then only draws the eye to misses."""
    if result.status == "error":
        return f"could not replay: {result.error}"
    if result.top is None:
        return "no hypothesis"
    if result.rank_of_truth == 1 and result.truth.service is not None:
        return f"= truth ({result.top.confidence:.0%})"
    if result.truth.service is None and result.rank_of_truth == 1:
        return f"no root cause claimed (best lead {result.top.confidence:.0%})"
    blamed = f"{result.top.service} / {result.top.change}" if result.top.change else f"{result.top.service}"
    return f"{blamed} ({result.top.confidence:.0%})"


def _failures(result: CaseResult) -> str:
    return ", ".join(f"{f.agent} ({f.status}{', expected' if f.expected else ''})" for f in result.agent_failures)


def headline(run: Run) -> str:
    s = run.summary
    parts = [f"top-1 {_pct(s.top1)}", f"top-3 {_pct(s.top3)}", f"MRR {s.mrr:.3f}",
             f"calibration error {s.ece:.3f} · Brier {s.brier:.3f}",
             f"time to report p50 {_seconds(s.p50_seconds)} · p95 {_seconds(s.p95_seconds)}"]
    if s.tokens or s.cost_usd:
        parts.append(f"{s.tokens:,} tokens · ${s.cost_usd:.2f}")
    return f"{s.cases} case(s): " + " · ".join(parts)


def _problems(run: Run) -> list[str]:
    s: Summary = run.summary
    lines = []
    if s.agent_failures:
        lines.append("agent failures: " + ", ".join(f"{agent} in {n} case(s)" for agent, n in s.agent_failures.items()))
    if s.errors:
        lines.append(f"{s.errors} case(s) could not be replayed")
    return lines


def _verdict(comparison: Comparison) -> str:
    if comparison.regressed:
        return f"REGRESSION against run {comparison.against}: " + "; ".join(comparison.regressions)
    return f"no regression against run {comparison.against}"


# --- terminal -------------------------------------------------------------------------------------


def render_text(run: Run, comparison: Comparison | None, console: Console) -> None:
    deltas = {d.case_id: d for d in comparison.deltas} if comparison else {}
    console.print(Text(f"Replay {run.id} · engine {run.engine_version} · config {run.config_hash}", style="bold"))
    console.print(headline(run))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("case", no_wrap=True)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("truth", overflow="fold", min_width=26)
    table.add_column("top answer", overflow="fold", min_width=16)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("failed agents", overflow="fold", max_width=20)
    if comparison:
        table.add_column("vs compared", no_wrap=True, min_width=17)
    for result in run.results:
        rank_style = "green" if result.rank_of_truth == 1 else "yellow" if result.rank_of_truth else "red"
        row = [Text(result.case_id), Text(_rank(result), style=rank_style), Text(result.truth.label()),
               Text(_answer(result)), Text(_seconds(result.seconds)), Text(_failures(result), style="red")]
        if comparison:
            delta = deltas.get(result.case_id)
            row.append(Text(_delta_label(delta, result), style=VERDICT_STYLE[delta.verdict]) if delta else Text(""))
        table.add_row(*row)
    console.print(table)
    for line in _problems(run):
        console.print(Text(line, style="red"))
    if comparison:
        console.print(Text(_verdict(comparison), style="bold red" if comparison.regressed else "green"))


def _delta_label(delta: CaseDelta, result: CaseResult | None = None) -> str:
    if delta.verdict in ("new", "gone", "same"):
        return delta.verdict
    before = f"#{delta.before}" if delta.before else "missed"
    after = "error" if result is not None and result.status == "error" else f"#{delta.after}" if delta.after \
        else "missed"
    return f"{delta.verdict} {before}→{after}"


def text(run: Run, comparison: Comparison | None = None) -> str:
    buffer = StringIO()
    console = Console(file=buffer, width=WIDTH, force_terminal=False, color_system=None, no_color=True,
                      highlight=False, emoji=False)
    render_text(run, comparison, console)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


# --- JSON -----------------------------------------------------------------------------------------


def _case_json(r: CaseResult) -> dict[str, Any]:
    return {
        "id": r.case_id, "incident": r.incident,
        "truth": {"service": r.truth.service, "change": r.truth.change, "fault": r.truth.fault},
        "rank_of_truth": r.rank_of_truth, "service_rank": r.service_rank, "seconds": r.seconds, "status": r.status,
        "top": None if r.top is None else {"service": r.top.service, "change": r.top.change,
                                           "confidence": r.top.confidence, "summary": r.top.summary},
        "root_cause_found": r.root_cause_found, "hypotheses": r.hypotheses, "tokens": r.tokens,
        "cost_usd": r.cost_usd,
        "agent_failures": [{"agent": f.agent, "status": f.status, "error": f.error, "expected": f.expected}
                           for f in r.agent_failures],
        "error": r.error,
    }


def to_json(run: Run, comparison: Comparison | None = None) -> dict[str, Any]:
    """The run as the stable JSON `replay --format json` prints: keys are only ever added."""
    s = run.summary
    out: dict[str, Any] = {
        "run": {"id": run.id, "started_at": run.started_at.isoformat().replace("+00:00", "Z"),
                "engine_version": run.engine_version, "config_hash": run.config_hash},
        "summary": {"cases": s.cases, "top1": s.top1, "top3": s.top3, "mrr": s.mrr, "p50_seconds": s.p50_seconds,
                    "p95_seconds": s.p95_seconds, "service_top1": s.service_top1, "errors": s.errors,
                    "agent_failures": dict(s.agent_failures), "tokens": s.tokens, "cost_usd": s.cost_usd,
                    "ece": s.ece, "brier": s.brier},
        "cases": [_case_json(r) for r in run.results],
        "comparison": None,
    }
    if comparison is not None:
        out["comparison"] = {
            "against": comparison.against, "regressed": comparison.regressed,
            "regressions": list(comparison.regressions),
            "cases": [{"id": d.case_id, "before": d.before, "after": d.after, "verdict": d.verdict,
                       "regression": d.regression} for d in comparison.deltas],
        }
    return out


# --- Markdown -------------------------------------------------------------------------------------


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(run: Run, comparison: Comparison | None = None) -> str:
    deltas = {d.case_id: d for d in comparison.deltas} if comparison else {}
    lines = [f"# Replay {run.id}", "",
             f"Engine `{run.engine_version}`, config `{run.config_hash}`, started {run.started_at:%Y-%m-%d %H:%M} UTC.",
             "", headline(run), "",
             "| case | rank | truth | top answer | time | failed agents |" + (" vs compared |" if comparison else ""),
             "| --- | ---: | --- | --- | ---: | --- |" + (" --- |" if comparison else "")]
    for r in run.results:
        cells = [r.case_id, _rank(r), r.truth.label(), _answer(r), _seconds(r.seconds), _failures(r)]
        if comparison:
            cells.append(_delta_label(deltas[r.case_id], r) if r.case_id in deltas else "")
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines.append("")
    lines.extend(f"- {_md(p)}" for p in _problems(run))
    if comparison:
        lines.extend(["", f"**{_md(_verdict(comparison))}**"])
    return "\n".join(lines).rstrip() + "\n"


# --- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;margin:24px;max-width:1040px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px} .meta{color:#4b5563}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0} .tile{border:1px solid #e5e7eb;border-radius:6px;
padding:8px 14px;min-width:110px} .tile b{display:block;font-size:22px} .tile span{color:#4b5563;font-size:12px}
table{border-collapse:collapse} td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
.grid td.cell{width:44px;text-align:center;color:#fff;font-weight:600}
.grid th{white-space:nowrap} .grid thead th{font-size:11px}
.verdict{padding:8px 12px;border-radius:6px;margin:12px 0;font-weight:600}
.verdict.bad{background:#fee2e2;color:#991b1b} .verdict.good{background:#dcfce7;color:#166534}
.problems{color:#991b1b} figure{margin:0 0 12px} figcaption{color:#4b5563;font-size:12px}
"""


def _rank_colour(result: CaseResult | None) -> str:
    if result is None:
        return RANK_COLOURS["absent"]
    if result.status == "error":
        return RANK_COLOURS["error"]
    k = result.rank_of_truth
    return RANK_COLOURS["miss" if k is None else "first" if k == 1 else "top3" if k <= 3 else "lower"]


def _when(run: Run) -> str:
    return f"{run.started_at:%m-%d %H:%M}"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 4, 5 times a power of ten at or above `value`: axis ticks at quarters of it
    read as round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 4, 5, 10) if m * power >= value - 1e-12)


Series = tuple[str, str, Sequence[float | None]]  # name, colour, one value per run (None: no value)


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], y_max: float,
               y_label: str, unit: str = "") -> str:
    """An SVG line chart: one polyline and one point per value, a legend, and y grid lines."""
    width, height, left, right, top, bottom = 700, 230, 72, 44, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = y_max or 1.0
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    out = [f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
           f'<title>{escape(title)}</title>']
    for step in range(5):
        value = y_max * step / 4
        tick = f"{value * 100:.0f}%" if unit == "%" else f"{value:g}{unit}"
        out.append(f'<line class="gridline" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#4b5563">{tick}</text>')
    out.append(f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="11" fill="#4b5563" '
               f'transform="rotate(-90 12 {top + plot_h / 2:.0f})" text-anchor="middle">{escape(y_label)}</text>')
    # At most ~6 run labels under the axis, so they never overlap; counted from the latest run, which
    # is always labelled.
    labelled = set(range(n - 1, -1, -max(1, math.ceil(n / 6))))
    for i, label in enumerate(labels):
        if i in labelled:
            out.append(f'<text class="xlabel" x="{x(i):.1f}" y="{height - 12}" font-size="10" text-anchor="middle" '
                       f'fill="#4b5563">{escape(label)}</text>')
    for k, (name, colour, values) in enumerate(series):
        points = [(x(i), y(min(v, y_max))) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            # Wider lines first and dashes on top, so series that coincide (all 100%) all stay visible.
            out.append(f'<polyline class="series {name}" fill="none" stroke="{colour}" '
                       f'stroke-width="{max(2.0, 6.0 - 2 * k)}" stroke-dasharray="{DASHES[min(k, 2)]}" '
                       f'stroke-linejoin="round" points="{path}"/>')
        for (px, py), (i, v) in zip(points, [(i, v) for i, v in enumerate(values) if v is not None]):
            shown = f"{v * 100:.0f}%" if unit == "%" else f"{v:.3f}{unit}"
            out.append(f'<circle class="point {name}" data-run="{escape(labels[i])}" data-value="{v}" cx="{px:.1f}" '
                       f'cy="{py:.1f}" r="{max(3.0, 6.0 - 1.5 * k)}" fill="{colour}"><title>{escape(name)} '
                       f'{escape(labels[i])}: {shown}</title></circle>')
        lx = left + 8 + k * 90
        out.append(f'<rect x="{lx}" y="8" width="14" height="10" fill="{colour}"/><text x="{lx + 18}" y="17" '
                   f'font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return f'<figure>{"".join(out)}<figcaption>{escape(title)}</figcaption></figure>'


def _case_grid(runs: Sequence[Run]) -> str:
    runs = runs[-GRID_RUNS:]
    case_ids = list(dict.fromkeys(r.case_id for run in runs for r in run.results))
    by_run = [{r.case_id: r for r in run.results} for run in runs]
    head = "".join(f'<th title="{escape(run.id)}">{escape(_when(run))}</th>' for run in runs)
    rows = []
    for case_id in case_ids:
        cells = []
        for run, results in zip(runs, by_run):
            result = results.get(case_id)
            tip = f"{run.id}: {_rank(result) or 'not replayed'}" + (f" — {_answer(result)}" if result else "")
            cells.append(f'<td class="cell" data-run="{escape(run.id)}" data-rank="{escape(_rank(result))}" '
                         f'style="background:{_rank_colour(result)}" title="{escape(tip)}">'
                         f'{escape(_rank(result).replace("missed", "✗").replace("error", "!"))}</td>')
        rows.append(f'<tr data-case="{escape(case_id)}"><th>{escape(case_id)}</th>{"".join(cells)}</tr>')
    return (f'<table class="grid" id="case-grid"><thead><tr><th>case \\ run</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            '<p class="meta">Cells: the rank of the true root cause (✗ missed, ! the case could not be replayed).</p>')


def reliability_diagram(bins: Sequence[tuple[float, float, int]], size: int = 260) -> str:
    """Confidence (x) against how often the top answer was right (y), one dot per bin sized by its cases;
    a calibrated engine's dots sit on the diagonal."""
    pad = 36
    span = size - 2 * pad

    def at(v: float) -> float:
        return pad + v * span

    dots = "".join(
        f'<circle cx="{at(conf):.1f}" cy="{size - at(acc):.1f}" r="{3 + min(n, 30) ** 0.5 * 1.5:.1f}" fill="#2563eb" '
        f'fill-opacity="0.7"><title>{n} case(s): confidence {conf:.0%}, right {acc:.0%}</title></circle>'
        for conf, acc, n in bins)
    return (f'<svg id="reliability" width="{size}" height="{size}" role="img" aria-label="reliability diagram">'
            f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#cbd5e1"/>'
            f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#94a3b8" stroke-dasharray="4 3"/>'
            f'{dots}<text x="{size / 2}" y="{size - 8}" text-anchor="middle" font-size="11">confidence of the top answer</text>'
            f'<text x="12" y="{size / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 12 {size / 2})">'
            f'share right</text></svg>')


def html(run: Run, history: Sequence[Run], comparison: Comparison | None = None) -> str:
    """The scorecard page for `run`, with charts over `history` (stored runs, oldest first)."""
    runs = list(history) if any(h.id == run.id for h in history) else [*history, run]
    labels = [_when(r) for r in runs]
    summaries = [r.summary for r in runs]
    accuracy = line_chart("accuracy-chart", "Accuracy across stored runs", labels, [
        ("top1", SERIES["top1"], [s.top1 for s in summaries]), ("top3", SERIES["top3"], [s.top3 for s in summaries]),
        ("mrr", SERIES["mrr"], [s.mrr for s in summaries])], 1.0, "accuracy / MRR", "%")
    slowest = max((v for s in summaries for v in (s.p50_seconds, s.p95_seconds) if v is not None), default=1.0)
    latency = line_chart("latency-chart", "Time to report across stored runs", labels, [
        ("p50", SERIES["p50"], [s.p50_seconds for s in summaries]),
        ("p95", SERIES["p95"], [s.p95_seconds for s in summaries])], nice_ceiling(slowest * 1.1), "seconds", " s")
    s = run.summary
    tiles = [("top-1", _pct(s.top1)), ("top-3", _pct(s.top3)), ("MRR", f"{s.mrr:.3f}"),
             ("calibration error (ECE)", f"{s.ece:.3f}"), ("Brier score", f"{s.brier:.3f}"),
             ("p50 time to report", _seconds(s.p50_seconds)), ("p95 time to report", _seconds(s.p95_seconds)),
             ("cases", str(s.cases))]
    if s.tokens or s.cost_usd:
        tiles.append(("tokens · cost", f"{s.tokens:,} · ${s.cost_usd:.2f}"))
    detail = "".join(
        f"<tr><td>{escape(r.case_id)}</td><td>{escape(_rank(r))}</td><td>{escape(r.truth.label())}</td>"
        f"<td>{escape(_answer(r))}</td><td>{escape(_seconds(r.seconds))}</td><td>{escape(_failures(r))}</td></tr>"
        for r in run.results)
    verdict = ""
    if comparison:
        verdict = (f'<div class="verdict {"bad" if comparison.regressed else "good"}" id="verdict">'
                   f"{escape(_verdict(comparison))}</div>")
    problems = "".join(f"<li>{escape(p)}</li>" for p in _problems(run))
    tiles_html = "".join(f'<div class="tile"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in tiles)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Inquest replay scorecard {escape(run.id)}</title>
<style>{_CSS}</style></head><body>
<h1>Replay scorecard</h1>
<p class="meta">Run {escape(run.id)} · engine {escape(run.engine_version)} · config {escape(run.config_hash)} ·
started {run.started_at:%Y-%m-%d %H:%M} UTC · {len(runs)} stored run(s) shown</p>
<div class="tiles">{tiles_html}</div>
{verdict}{f'<ul class="problems">{problems}</ul>' if problems else ''}
<h2>Accuracy</h2>{accuracy}
<h2>Calibration</h2>{reliability_diagram(s.reliability)}
<h2>Latency</h2>{latency}
<h2>Per case, across runs</h2>{_case_grid(runs)}
<h2>This run</h2>
<table id="cases"><thead><tr><th>case</th><th>rank</th><th>truth</th><th>top answer</th><th>time</th>
<th>failed agents</th></tr></thead><tbody>{detail}</tbody></table>
</body></html>
"""
