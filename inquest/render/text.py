"""The report in the terminal, with rich.

The on-call engineer reads this mid-incident: the answer and what to try first must be visible without
scrolling, the ranking and its reasons next, the supporting detail last. Everything agents wrote goes
through Text objects, never markup, because a summary like "[orders]" must not be read as a style tag.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from inquest.core import BASELINE_FIX, ROOT_CAUSE_CONFIDENCE, RankedHypothesis, Report
from inquest.render import (
    best_lead,
    change_label,
    clock,
    count,
    duration,
    lead_label,
    llm_cost,
    percent,
    ranked,
    window_label,
)
from inquest.render.summary import coverage_block, summary_panel

STATUS_STYLE = {"ok": "green", "no_data": "dim", "skipped": "dim", "error": "red", "timeout": "yellow"}
STATUS_LABEL = {"ok": "ok", "no_data": "no data", "skipped": "skipped", "error": "error", "timeout": "timeout"}

# Below this width the hypothesis table folds service and change into one column and counts agents
# instead of naming them; 80 columns must still be readable, 100 should look good.
WIDE = 96
TOP_ENDPOINTS = 3


def render_text(report: Report, console: Console, full: bool = True) -> None:
    """The report; `full=False` (the terminal's default) leaves out the evidence, the runners-up's reasons
    and the impact panel. Either way it ends with the summary, so the answer is the last screen."""
    wide = console.width >= WIDE
    if full:
        console.print(_headline(report))
        cause = report.root_cause
        if cause is not None and cause.mitigation:
            console.print(Text.assemble(("Try first: ", "bold cyan"), cause.mitigation))
    hypotheses = ranked(report)
    if hypotheses:
        console.print()
        console.print(_hypotheses_table(hypotheses, wide, supported=report.scope.inconclusive is None))
        if full:
            console.print()
            console.print(_top(hypotheses[0], report))
            if len(hypotheses) > 1:
                console.print()
                console.print(_runners_up(hypotheses[1:]))
    if full:
        console.print()
        console.print(_impact(report, wide))
    if report.agents:
        console.print(_agents(report))
    console.print(_footer(report, notes=full))
    if report.root_cause is None and report.scope.coverage is not None:
        console.print(coverage_block(report.scope.coverage))
    console.print(summary_panel(report, full))


def _headline(report: Report) -> Panel:
    incident = report.incident
    title = Text(f"{incident.id} · {incident.title}", style="bold")
    cause = report.root_cause
    if cause is not None:
        lines = [
            Text.assemble(("ROOT CAUSE", "bold green"), f"  {percent(cause.confidence)} confidence"),
            Text(cause.summary, style="bold"),
        ]
        where = _where(cause)
        if where:
            lines.append(Text(where, style="cyan"))
        return Panel(Group(*lines), title=title, title_align="left", border_style="green", padding=(0, 1))
    inconclusive = report.scope.inconclusive
    lines = [Text("INCONCLUSIVE" if inconclusive else "NO ROOT CAUSE FOUND", style="bold yellow")]
    if inconclusive:  # said first: it is why no number below can be trusted, and it says what to do
        lines.append(Text(f"{inconclusive[0].upper()}{inconclusive[1:]}: {BASELINE_FIX}."))
    lead = best_lead(report)
    if lead is None:
        lines.append(Text("No agent produced a hypothesis; see the agents below for why."))
    else:
        lines.append(Text.assemble(f"{lead_label(report, lead)}: ", (lead.summary, "bold")))
    return Panel(Group(*lines), title=title, title_align="left", border_style="yellow", padding=(0, 1))


def _where(hypothesis: RankedHypothesis) -> str:
    parts = [hypothesis.service] if hypothesis.service else []
    if hypothesis.change is not None:
        parts.append(change_label(hypothesis.change))
    return " · ".join(parts)


def _hypotheses_table(hypotheses: list[RankedHypothesis], wide: bool, supported: bool = True) -> Table:
    # Inconclusive: the order still says where to look first, but no number is shown as a confirmed one.
    title = "Ranked hypotheses" if supported else "Ranked hypotheses (unconfirmed: no usable baseline)"
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Conf.", justify="right", no_wrap=True)
    if wide:
        table.add_column("Service", no_wrap=True, max_width=14, overflow="ellipsis")
        table.add_column("Change", max_width=18, overflow="fold")
        table.add_column("Summary", ratio=1, overflow="fold")
        table.add_column("Agents", max_width=20, overflow="fold", style="dim")
    else:
        table.add_column("Suspect", max_width=20, overflow="fold")
        table.add_column("Summary", ratio=1, overflow="fold")
        table.add_column("Ag.", justify="right", no_wrap=True, style="dim")
    for h in hypotheses:
        style = "bold" if h.rank == hypotheses[0].rank else ""
        confident = supported and h.confidence >= ROOT_CAUSE_CONFIDENCE
        confidence = Text(percent(h.confidence), style="green" if confident else "dim" if not supported else "")
        # The commit is in the headline and under each hypothesis; the table keeps room for the summary.
        change = Text("—" if h.change is None else change_label(h.change, commit=False))
        if wide:
            agents = Text(", ".join(h.agents) or "—")
            table.add_row(str(h.rank), confidence, Text(h.service or "—"), change, Text(h.summary), agents,
                          style=style)
        else:
            suspect = Text(h.service or "—")
            if h.change is not None:
                suspect.append("\n" + change_label(h.change, commit=False), style="dim")
            table.add_row(str(h.rank), confidence, suspect, Text(h.summary), str(len(h.agents)), style=style)
    return table


def _top(top: RankedHypothesis, report: Report) -> Group:
    parts: list[Text | Table] = [Text(f"Why #{top.rank} ranks first", style="bold")]
    if top.reasons:  # the ranking's reasons open with which agents corroborate it
        parts.append(_bullets(top.reasons, indent=2))
    if top.query:
        parts.append(Text.assemble(("  Suspected statement: ", "dim"), (" ".join(top.query.split()), "magenta")))
    by_id = report.evidence_by_id()
    cited = [(eid, False) for eid in top.evidence] + [(eid, True) for eid in top.contradicting]
    if cited:
        parts.append(Text("Evidence", style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(ratio=1, overflow="fold")
        for evidence_id, against in cited:
            evidence = by_id.get(evidence_id)
            summary = Text(evidence.summary if evidence else "(not in this report)")
            if evidence is not None:
                summary.append(f"  ({evidence.agent})", style="dim")
            if against:
                summary = Text.assemble(("against: ", "red"), summary)
            grid.add_row(Text(f"  [{evidence_id}]"), summary)
        parts.append(grid)
    return Group(*parts)


def _runners_up(runners_up: list[RankedHypothesis]) -> Group:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for h in runners_up:
        line = Text(h.summary)
        where = _where(h)
        if where:
            line.append(f"  ({where})", style="dim")
        grid.add_row(Text.assemble((f"  #{h.rank}", "bold"), f" {percent(h.confidence):>4}"), line)
        if h.reasons:
            grid.add_row("", _bullets(h.reasons, indent=0))
    return Group(Text("Runners-up", style="bold"), grid)


def _bullets(items: tuple[str, ...], indent: int) -> Table:
    # A grid gives wrapped lines a hanging indent, so a long reason stays visibly one item.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for item in items:
        grid.add_row(" " * indent + "•", Text(item))
    return grid


def _impact(report: Report, wide: bool) -> Panel:
    impact = report.impact
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    if impact.requests == 0 and not impact.endpoints:
        grid.add_row("Requests", Text("no request data for the incident window", style="dim"))
    else:
        grid.add_row("Requests", f"{count(impact.requests)} in the window, {count(impact.slow_requests)} slow")
        grid.add_row("Failed", Text.assemble(
            (count(impact.failed_requests), "red"),
            f" ({percent(impact.error_rate, 1)} vs {percent(impact.baseline_error_rate, 1)} baseline)",
        ))
        grid.add_row("Users", f"{count(impact.users)} across {count(impact.tenants)} tenants")
        grid.add_row("Error budget", f"burning {impact.error_budget_burn:.1f}× the SLO's allowed rate")
        grid.add_row("Onset", f"{clock(impact.onset)}, peak {clock(impact.peak)} "
                              f"at {percent(impact.peak_error_rate, 1)} errors")
        endpoints = sorted(impact.endpoints, key=lambda e: _number(e.get("failed")), reverse=True)
        for i, endpoint in enumerate(endpoints[:TOP_ENDPOINTS]):
            failed = int(_number(endpoint.get("failed")))
            line = Text(str(endpoint.get("endpoint", "?")), style="cyan")
            line.append(f"  {count(failed)} failed of {count(int(_number(endpoint.get('requests'))))}")
            if wide:
                line.append(f" ({percent(_number(endpoint.get('error_rate')), 1)})")
            grid.add_row("Endpoints" if i == 0 else "", line)
    return Panel(grid, title="Impact", title_align="left", border_style="blue", padding=(0, 1))


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _agents(report: Report) -> Table:
    table = Table(title="Agents", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Agent", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Evidence", justify="right", no_wrap=True)
    table.add_column("Note", overflow="fold", max_width=60)
    for run in report.agents:
        style = STATUS_STYLE.get(run.status, "")
        table.add_row(
            run.agent,
            Text(STATUS_LABEL.get(run.status, run.status), style=style),
            duration(run.duration_ms),
            str(run.evidence_count),
            Text(run.reason, style=style if run.error else "dim"),
        )
    return table


def _footer(report: Report, notes: bool = True) -> Text:
    scope = report.scope
    footer = Text(style="dim")
    footer.append(f"Window {window_label(scope.window)} · baseline {window_label(scope.baseline)} · "
                  f"changes since {scope.lookback.start:%Y-%m-%d %H:%M} UTC\n")
    for note in report.notes if notes else ():
        footer.append(f"Note: {note}\n")
    footer.append(f"Investigated in {duration(report.duration_ms)}, {report.mode} mode")
    footer.append(llm_cost(report.usage))
    return footer
