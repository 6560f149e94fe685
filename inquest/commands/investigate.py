"""`investigate <incident-id>`: one investigation, rendered."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inquest import __version__
from inquest.commands.options import CONFIG_HELP, STORE_HELP
from inquest.core import Report, Window
from inquest.errors import UnknownIncidentError
from inquest.exits import EXIT_ATTACH_FAILED, EXIT_FOUND, EXIT_NOT_FOUND

if TYPE_CHECKING:
    from inquest.config import Config

FORMATS = ("text", "json", "markdown", "html")

DESCRIPTION = """\
Finds the root cause of a production incident: specialist agents (trace, db, metrics, logs, deployment,
code-diff, customer-impact) investigate in parallel and the coordinator ranks what they found.

  investigate INC-1042                  investigate an incident (ids: `investigate incidents`)
  investigate INC-1042 --format json    the same, as JSON (schema: docs/report-schema.md)
  investigate INC-1042 --format html --output report.html
                                        a self-contained page: timeline chart, service graph
  investigate INC-1042 --attach github  also post it to the incident's GitHub issue (docs/attach.md)"""

EPILOG = """\
global options (any command, anywhere): -v/--verbose (-vv: debug log), -q/--quiet, --debug (the full trace
of an error); investigate alone prints this help and exits 2.

exit codes: 0 root cause found, 1 none found (or inconclusive: no usable baseline), 2 usage/config error
            or unknown incident, 3 report written but attaching it failed, 70 internal error, 130 interrupted"""


def command_listing() -> str:
    """`commands:` and one line per command word, from the `inquest.commands` entry points."""
    from inquest import registry

    words = registry.names(registry.COMMANDS)
    width = max((len(w) for w in words), default=0) + 2
    lines = [f"  {word:<{width}}{registry.summary(registry.COMMANDS, word)}" for word in words]
    return "commands (investigate COMMAND --help for each):\n" + "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """Lists the commands only when the help is shown: the listing reads each command module's source for its
    first line (registry.summary), which every investigation would otherwise pay for on its way in."""

    def format_help(self) -> str:
        self.description = f"{DESCRIPTION}\n\n{command_listing()}"
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="investigate", usage="investigate INCIDENT-ID [options] | COMMAND ...", description=DESCRIPTION,
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("incident_id", metavar="INCIDENT-ID", help="the incident to investigate, or a command")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--attach", metavar="TARGET", action="append", default=[],
                        help="post the report to github, jira, slack or webhook (repeatable); the report is "
                             "written locally first (--output, else .inquest/reports/)")
    parser.add_argument("--ticket", metavar="REF", action="append", default=[],
                        help="the ticket to attach to (owner/repo#N, PROJECT-123) instead of the incident's own")
    parser.add_argument("--trace-out", metavar="FILE",
                        help="write the engine's own OpenTelemetry spans to FILE as OTLP/JSON")
    parser.add_argument("--llm", choices=("claude", "none"),
                        help="also have Claude-backed agents review the findings (needs ANTHROPIC_API_KEY; "
                             "docs/llm.md); default: config.yaml's llm.provider, else none")
    parser.add_argument("--baseline", metavar="START/END", type=baseline_window,
                        help="compare with this known-good period (ISO 8601, e.g. 2026-03-12T09:00Z/2026-03-12T09:40Z) "
                             "instead of the one before the incident window")
    parser.add_argument("--full", action="store_true",
                        help="on a terminal, the whole report (evidence, runners-up, impact, notes); by default it "
                             "shows the ranking, the agents and a closing summary")
    parser.add_argument("--no-live", action="store_true", help="no live view of the agents while they work")
    parser.add_argument("--backend", choices=("embedded", "elasticsearch"),
                        help="where the telemetry is (default: config.yaml's backend.kind); elasticsearch uses "
                             "backend.elasticsearch (docs/elasticsearch.md)")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("--store", metavar="PATH", help=STORE_HELP)
    parser.add_argument("-V", "--version", action="version", version=f"inquest {__version__}")
    return parser


def main(args: list[str]) -> int:
    parser = build_parser()
    opts = parser.parse_args(args)
    for flag, path in (("--output", opts.output), ("--trace-out", opts.trace_out)):
        problem = path and unwritable(Path(path))
        if problem:  # before any work: a whole investigation must not end in a path error
            parser.error(f"{flag} {path}: {problem}")
    if opts.attach:
        from inquest.attach import check_targets

        check_targets(opts.attach)  # a misspelt target is a usage error before any work is done
    from inquest.config import load_config

    config = load_config(opts.config, opts.store)
    if opts.backend:
        config = config.model_copy(update={"backend": config.backend.model_copy(update={"kind": opts.backend})})
    if opts.llm:
        config = config.model_copy(update={"llm": config.llm.model_copy(update={"provider": opts.llm})})
    if config.llm.enabled:
        config.llm.api_key()  # no key: one clear line, before any work is done
        from inquest.agents.llm import warm_up

        # crewai loads beside the deterministic stage, not after it, and from before the engine's own imports:
        # its seconds of CPU are the LLM stage's critical path, the engine's imports are not
        warm_up()
    from inquest.commands.demo_world import ensure_demo_world
    from inquest.connect import connect
    from inquest.coordinator.investigation import investigate

    if opts.attach:
        from inquest.attach import check_credentials

        check_credentials(opts.attach, config)  # a missing token is known now, not after the investigation
    ensure_demo_world(config)  # `demo: true` and no store yet: build it now, before connecting
    with _tracing(opts.trace_out):
        deps = connect(config)
        try:
            incidents = {i.id: i for i in deps.backend.incidents()}
            if opts.incident_id not in incidents:
                raise UnknownIncidentError(opts.incident_id, list(incidents))
            incident = incidents[opts.incident_id]
            if opts.baseline is not None:
                incident = replace(incident, baseline=opts.baseline)
            live = opts.format == "text" and not opts.no_live and opts.output is None and sys.stderr.isatty()
            if live:
                from rich.console import Console

                from inquest.render.live import LiveAgentView

                with LiveAgentView(list(config.investigation.agents), Console(stderr=True)) as view:
                    report = investigate(incident, deps, on_progress=view.update)
            else:
                report = investigate(incident, deps)
        finally:  # the store is released, so an ingest or another command in this process may open it
            for part in (deps.backend, deps.code):
                getattr(part, "close", lambda: None)()
    emit(report, opts.format, opts.output, full=opts.full)
    verdict = EXIT_FOUND if report.root_cause is not None else EXIT_NOT_FOUND
    if opts.attach and not attach(report, opts.format, opts.output, opts.attach, opts.ticket, config):
        return EXIT_ATTACH_FAILED
    return verdict


def baseline_window(text: str) -> Window:
    """`START/END` as ISO 8601 times (a `Z` or an offset; naive times are UTC), END after START."""
    start, sep, end = text.partition("/")
    try:
        window = Window(_utc_time(start), _utc_time(end)) if sep else None
    except ValueError:
        window = None
    if window is None or window.end <= window.start:
        raise argparse.ArgumentTypeError(f"{text!r} is not START/END with END after START "
                                         "(e.g. 2026-03-12T09:00Z/2026-03-12T09:40Z)")
    return window


def _utc_time(text: str) -> datetime:
    at = datetime.fromisoformat(text.strip())
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def unwritable(path: Path) -> str | None:
    """Why a report could not be written at `path`, or None when it can."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "is a folder; name a file in it"
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable"
    return None


def _tracing(trace_out: str | None) -> contextlib.AbstractContextManager[object]:
    # The OpenTelemetry SDK takes a few hundred ms to import: load it only when the spans go somewhere.
    from_env = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not trace_out and not from_env:
        return contextlib.nullcontext()
    from inquest.tracing import TraceSession

    return TraceSession(trace_out)


def attach(report: Report, fmt: str, output: str | None, targets: list[str], tickets: list[str],
           config: Config) -> bool:
    """Posts the report to each target, after making sure it is on disk; False when any target failed."""
    from inquest.attach import attach_report
    from inquest.attach.base import local_copy_path
    from inquest.render import render

    if not output:
        path = local_copy_path(config.resolve(config.attach.reports_dir), report, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(report, fmt), encoding="utf-8")
        print(f"report saved to {path}", file=sys.stderr)
    outcomes = attach_report(report, targets, config, tickets)
    for outcome in outcomes:
        if outcome.posted is not None:
            posted = outcome.posted
            print(f"attached to {posted.target}: {posted.action} {posted.where}"
                  + (f" — {posted.url}" if posted.url else ""), file=sys.stderr)
        else:
            print(f"investigate: attaching failed: {outcome.error}", file=sys.stderr)
    return all(outcome.ok for outcome in outcomes)


def emit(report: Report, fmt: str, output: str | None, full: bool = True) -> None:
    from inquest.render import render

    if output:
        Path(output).write_text(render(report, fmt), encoding="utf-8")
        top = report.root_cause
        print(f"report written to {output}: " + (f"root cause #{top.rank} {top.summary}" if top
                                                else "no root cause found"), file=sys.stderr)
    elif fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        from inquest.render.text import render_text

        render_text(report, Console(), full=full)
    else:
        text = render(report, fmt)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
