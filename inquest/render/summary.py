"""The last screen of the terminal report: the answer, how sure, what to try first, and what is missing.

Whatever scrolled past, the on-call engineer sees this without scrolling back. When the verdict is weak
the data-coverage block comes first, so "no root cause" is explained by what the store held.
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from inquest.core import ROOT_CAUSE_CONFIDENCE, Counts, Coverage, Held, Report
from inquest.render import best_lead, change_label, count, percent

SHOWN_MISSING = 6  # lines of "missing" in the summary; the full list is in the notes above


def coverage_block(coverage: Coverage) -> Group:
    table = Table(title="Data coverage", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("Incident window", justify="right")
    table.add_column("Baseline", justify="right")
    rows: list[tuple[str, Counts, Counts]] = [("all services", coverage.window, coverage.baseline)]
    if coverage.service:
        rows.append((coverage.service, coverage.service_window, coverage.service_baseline))
    for name, window, baseline in rows:
        for kind in ("spans", "logs"):
            now, before = getattr(window, kind), getattr(baseline, kind)
            table.add_row(f"{name}: {kind}", _count(now), _count(before))
    kinds = ", ".join(coverage.span_kinds) or "none"
    # Below the table, not as its caption: a caption wraps at the table's narrow width.
    lines = [Text(f"span kinds in the window: {kinds}; root spans (requests entering): {count(coverage.root_spans)}")]
    if coverage.held:
        lines.append(Text("the store holds " + "; ".join(held_range(h) for h in coverage.held)))
    return Group(table, *lines)


def held_range(held: Held) -> str:
    """`spans 2026-03-12 10:20:01–10:39:58 UTC (1,234)`: seconds shown, as a window may miss the data by less
    than a minute."""
    if not held.records or held.first is None or held.last is None:
        return f"no {held.kind}"
    last = f"{held.last:%H:%M:%S}" if held.last.date() == held.first.date() else f"{held.last:%Y-%m-%d %H:%M:%S}"
    return f"{held.kind} {held.first:%Y-%m-%d %H:%M:%S}–{last} UTC ({count(held.records)})"


def _count(n: int) -> Text:
    return Text(count(n), style="red" if n == 0 else "")


def summary_panel(report: Report, full: bool) -> Panel:
    cause = report.root_cause
    lead = cause or best_lead(report)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    if lead is None:
        grid.add_row("Root cause", Text("none found: no agent produced a hypothesis", style="yellow"))
    else:
        where = " · ".join([lead.service or ""] + ([change_label(lead.change)] if lead.change else []))
        label = Text(lead.summary, style="bold green" if cause else "bold yellow")
        if where.strip(" ·"):
            label.append(f"  ({where.strip(' ·')})", style="cyan")
        inconclusive = report.scope.inconclusive
        grid.add_row("Unconfirmed lead" if inconclusive else "Root cause" if cause else "Best lead", label)
        if inconclusive:  # a number measured against an empty or thin baseline would claim what it cannot
            grid.add_row("Confidence", Text(f"none: the verdict is inconclusive ({inconclusive})", style="yellow"))
        else:
            bar = "" if cause else f", below the {percent(ROOT_CAUSE_CONFIDENCE)} bar for a root cause"
            grid.add_row("Confidence", f"{percent(lead.confidence)}{bar}")
        if lead.mitigation:  # an unconfirmed lead's mitigation is a plan for when it is confirmed, not an order
            grid.add_row("Try first" if cause else "If confirmed", Text(lead.mitigation, style="cyan"))
    missing = _missing(report)
    for i, line in enumerate(missing[:SHOWN_MISSING]):
        grid.add_row("Missing" if i == 0 else "", Text(line))
    if len(missing) > SHOWN_MISSING:
        grid.add_row("", Text(f"… and {len(missing) - SHOWN_MISSING} more" + ("" if full else " (--full lists them)"),
                              style="dim"))
    if not full:
        grid.add_row("More", Text(f"investigate {report.incident.id} --full: evidence, runners-up and why they "
                                  "rank lower, impact, every note", style="dim"))
    style = "green" if cause else "yellow"
    return Panel(grid, title=Text(f"{report.incident.id} · summary", style="bold"), title_align="left",
                 border_style=style, padding=(0, 1))


def _missing(report: Report) -> list[str]:
    """What the report could not see: failed agents, agents with nothing to examine, and the data notes."""
    # The data notes come first (triage puts what the store lacks ahead of the rest); an agent's own line
    # says the same as the notes naming it, so those are left to the agent's line.
    quiet = [run for run in report.agents if run.status != "ok"]
    named = tuple(f"the {run.agent} agent" for run in report.agents) + tuple(f"{run.agent}: " for run in quiet)
    lines = [note for note in report.notes if not note.startswith(named)]
    lines.extend(f"{run.agent}: {run.status.replace('_', ' ')}" + (f" — {run.reason}" if run.reason else "")
                 for run in quiet)
    return lines
