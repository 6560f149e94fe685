"""Turns a Report into what people read: JSON for machines, Markdown for tickets, text for terminals.

This module also holds the wording of values the Markdown and text renderers share (how a change, a
confidence or a duration reads), so a ticket and a terminal never describe the same report differently.
Nothing here imports rich: `render(report, "json")` must stay cheap for scripts and CI.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from inquest import registry
from inquest.core import ROOT_CAUSE_CONFIDENCE, ChangeRef, Report, Usage, Window, utc
from inquest.render.json_report import SCHEMA_VERSION, jsonable, render_json, report_to_dict

if TYPE_CHECKING:
    from inquest.core import RankedHypothesis

# The `inquest.renderers` entry points (pyproject.toml): json, markdown, text, html, and any a plug-in adds.
FORMATS: tuple[str, ...] = registry.names(registry.RENDERERS)

# Text rendered for files and tickets: wide enough for the hypothesis table, narrow enough for a diff.
TEXT_WIDTH = 100


def render(report: Report, fmt: str) -> str:
    """The report as a string in `fmt`, one of FORMATS. A renderer's module is imported on first use."""
    if fmt not in registry.names(registry.RENDERERS):
        raise ValueError(f"unknown report format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    renderer: Callable[[Report], str] = registry.load(registry.RENDERERS, fmt)
    return renderer(report)


def render_plain_text(report: Report) -> str:
    # Imported here so that only the text format pays for rich.
    from io import StringIO

    from rich.console import Console

    from inquest.render.text import render_text

    buffer = StringIO()
    console = Console(
        file=buffer, width=TEXT_WIDTH, force_terminal=False, color_system=None, no_color=True,
        highlight=False, emoji=False, legacy_windows=False,
    )
    render_text(report, console)
    # rich pads every line to the console width; in a file or a ticket that is only trailing noise.
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


# --- shared wording -------------------------------------------------------------------------------


def percent(fraction: float, decimals: int = 0) -> str:
    """0.873 -> "87%"; a confidence or an error rate as people say it."""
    return f"{fraction * 100:.{decimals}f}%"


def count(n: int) -> str:
    return f"{n:,}"


def short_commit(commit: str | None) -> str | None:
    return commit[:7] if commit else None


def change_label(change: ChangeRef | None, *, commit: bool = True) -> str:
    """"deploy v2.14.0 @ abc1234": what was changed, in the words of whoever rolls it back."""
    if change is None:
        return "—"
    parts = [change.kind.replace("_", " "), change.version or change.id]
    short = short_commit(change.commit) if commit else None
    if short:
        parts.append(f"@ {short}")
    return " ".join(parts)


def duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def llm_cost(usage: Usage) -> str:
    """', 14 LLM calls ($0.13), LLM stage 6.1 s (the model 4.2 s, Inquest 1.9 s)' — empty without calls.
    The model's share is its latency along the critical path; the rest is what Inquest added around it."""
    if not usage.llm_calls:
        return ""
    own = max(0, usage.llm_stage_ms - usage.llm_model_ms)
    return (f", {usage.llm_calls} LLM calls (${usage.cost_usd:.2f}), LLM stage {duration(usage.llm_stage_ms)} "
            f"(the model {duration(usage.llm_model_ms)}, Inquest {duration(own)})")


def clock(at: datetime | None) -> str:
    """A moment inside the incident: the date is in the window, so the time of day is what matters."""
    return "—" if at is None else f"{utc(at):%H:%M:%S} UTC"


def window_label(window: Window) -> str:
    """Like str(Window), but names the end date too when the window crosses midnight (a lookback does)."""
    start, end = utc(window.start), utc(window.end)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def headline(report: Report) -> str:
    """One line a person can act on: the root cause, or an honest "not found" with the best lead."""
    cause = report.root_cause
    if cause is not None:
        return f"Root cause: {cause.summary}"
    if report.scope.inconclusive:
        return f"Inconclusive: {report.scope.inconclusive}"
    if report.hypotheses:
        return "No root cause found"
    return "No root cause found: no agent produced a hypothesis"


def best_lead(report: Report) -> RankedHypothesis | None:
    """The top hypothesis when it is too weak to be called the root cause."""
    if report.root_cause is None and report.hypotheses:
        return min(report.hypotheses, key=lambda h: h.rank)
    return None


def lead_label(report: Report, lead: RankedHypothesis) -> str:
    """How the best lead is introduced: below the bar by how much, or, when the verdict is inconclusive,
    without a number, since a confidence measured against an empty or thin baseline claims what it cannot."""
    if report.scope.inconclusive:
        return "Unconfirmed lead (no confidence without a usable baseline)"
    return f"Strongest lead ({percent(lead.confidence)}, below the {percent(ROOT_CAUSE_CONFIDENCE)} bar)"


def ranked(report: Report) -> list[RankedHypothesis]:
    return sorted(report.hypotheses, key=lambda h: h.rank)


__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "best_lead",
    "change_label",
    "clock",
    "count",
    "duration",
    "headline",
    "jsonable",
    "lead_label",
    "percent",
    "ranked",
    "render",
    "render_json",
    "report_to_dict",
    "short_commit",
    "window_label",
]
