"""The live view of the fan-out: one row per agent, updated as agents start, finish, fail or time out.

Updates arrive from the coordinator's worker threads while rich's own refresh thread renders, so all
state lives behind one lock and the table is rebuilt from it on every frame. Off a terminal the view is
silent: a progress display in a CI log or a redirected stderr is only noise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from inquest.core import AgentProgress
from inquest.render import duration

_DONE = {
    "ok": ("✓ ok", "green"),
    "no_data": ("– no data", "dim"),
    "skipped": ("– skipped", "dim"),
    "error": ("✗ error", "red"),
    "timeout": ("! timeout", "yellow"),
}


@dataclass
class _AgentState:
    state: str = "queued"
    duration_ms: int = 0
    headline: str = ""
    started: float | None = None  # monotonic, for the elapsed time while running
    spinner: Spinner | None = field(default=None, repr=False)  # kept across frames so it animates


class LiveAgentView:
    """`with LiveAgentView(names, console) as view: ... view.update(progress)` from any thread."""

    def __init__(
        self,
        agents: Sequence[str],
        console: Console,
        *,
        title: str | None = None,
        refresh_per_second: float = 8.0,
        transient: bool = False,
    ) -> None:
        self._console = console
        self._title = title
        self._refresh_per_second = refresh_per_second
        self._transient = transient
        self._lock = threading.Lock()
        # Insertion order is display order: the coordinator's order, then any agent it forgot to announce.
        self._agents: dict[str, _AgentState] = {name: _AgentState() for name in agents}
        self._live: Live | None = None

    def __enter__(self) -> LiveAgentView:
        if self._console.is_terminal and not self._console.is_dumb_terminal:
            self._live = Live(
                self,
                console=self._console,
                refresh_per_second=self._refresh_per_second,
                transient=self._transient,
                # The report itself may go to stdout through a pipe; never capture it into this view.
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        live, self._live = self._live, None
        if live is not None:
            if exc_type is KeyboardInterrupt:
                # Interrupted, the half-drawn table says nothing: clear it, so the one line saying
                # "interrupted" is all that is left on screen.
                live.transient = True
            live.stop()  # draws the final frame, so the finished states stay on screen unless transient

    def update(self, progress: AgentProgress) -> None:
        now = time.monotonic()
        with self._lock:
            agent = self._agents.setdefault(progress.agent, _AgentState())
            if progress.state == "running" and agent.state != "running":
                agent.started = now
                agent.spinner = Spinner("dots", text=Text("running"), style="cyan")
            elif progress.state != "running":
                agent.spinner = None
            if progress.state in _DONE and not progress.duration_ms and agent.started is not None:
                agent.duration_ms = int((now - agent.started) * 1000)
            else:
                agent.duration_ms = progress.duration_ms
            agent.state = progress.state
            agent.headline = progress.headline
        live = self._live
        if live is not None:
            # Outside our lock: refresh takes Live's lock and then renders us, which takes ours.
            live.refresh()

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        table = Table(title=self._title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                      show_edge=False, expand=True)
        table.add_column("Agent", no_wrap=True, style="bold")
        table.add_column("State", no_wrap=True, min_width=11)
        table.add_column("Time", justify="right", no_wrap=True, min_width=7)
        table.add_column("Headline", ratio=1, no_wrap=True, overflow="ellipsis")
        with self._lock:
            for name, agent in self._agents.items():
                table.add_row(name, *self._cells(agent, now))
        return table

    @staticmethod
    def _cells(agent: _AgentState, now: float) -> tuple[RenderableType, str, Text]:
        if agent.state == "running" and agent.spinner is not None:
            elapsed = int((now - agent.started) * 1000) if agent.started is not None else 0
            return agent.spinner, duration(elapsed), Text(agent.headline, style="dim")
        if agent.state in _DONE:
            label, style = _DONE[agent.state]
            headline_style = style if agent.state in ("error", "timeout") else ""
            return Text(label, style=style), duration(agent.duration_ms), Text(agent.headline, style=headline_style)
        return Text("· queued", style="dim"), "", Text("")
