"""`investigate`: the command line.

    investigate <incident-id>     investigate one incident and print the ranked report
    investigate incidents         list the incidents the store knows

Exit codes: 0 a root cause was found; 1 the investigation finished without one; 2 bad usage, bad
configuration or an unknown incident (the known ids are listed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from inquest import __version__
from inquest.errors import InquestError, UnknownIncidentError

EXIT_FOUND, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "markdown")
COMMANDS = ("incidents",)

DESCRIPTION = """\
Finds the root cause of a production incident: specialist agents (trace, db, deployment, code-diff,
customer-impact) investigate in parallel and the coordinator ranks what they found.

  investigate INC-1042                  investigate an incident
  investigate INC-1042 --format json    the same, as JSON (schema: docs/report-schema.md)
  investigate incidents                 list known incidents

exit codes: 0 root cause found, 1 none found, 2 usage/config error or unknown incident"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file (default: $INQUEST_CONFIG, ./config.yaml)")


def _investigate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("incident_id", metavar="INCIDENT-ID", help="the incident to investigate, or 'incidents'")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--no-live", action="store_true", help="no live view of the agents while they work")
    parser.add_argument("--version", action="version", version=f"inquest {__version__}")
    _common(parser)
    return parser


def _incidents_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate incidents", description="List known incidents, newest first.")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    _common(parser)
    return parser


def _error(message: str) -> int:
    print(f"investigate: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "incidents":
            return _list_incidents(_incidents_parser().parse_args(args[1:]))
        return _investigate(_investigate_parser().parse_args(args))
    except InquestError as exc:
        return _error(str(exc))
    except BrokenPipeError:
        # The reader went away (`investigate ... | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND


def _list_incidents(opts: argparse.Namespace) -> int:
    from inquest.config import load_config
    from inquest.connect import open_backend

    incidents = open_backend(load_config(opts.config)).incidents()
    if opts.format == "json":
        print(json.dumps([{"id": i.id, "title": i.title, "service": i.service,
                           "started_at": i.started_at.isoformat().replace("+00:00", "Z"),
                           "window": {"start": i.window.start.isoformat().replace("+00:00", "Z"),
                                      "end": i.window.end.isoformat().replace("+00:00", "Z")},
                           "ticket": i.ticket} for i in incidents], indent=2))
    else:
        for i in incidents:
            print(f"{i.id:<12} {i.started_at:%Y-%m-%d %H:%M}Z  {i.service:<14} {i.title}")
    return 0


def _investigate(opts: argparse.Namespace) -> int:
    from inquest.config import load_config
    from inquest.connect import connect
    from inquest.coordinator.investigation import investigate

    config = load_config(opts.config)
    deps = connect(config)
    incidents = {i.id: i for i in deps.backend.incidents()}
    if opts.incident_id not in incidents:
        raise UnknownIncidentError(opts.incident_id, list(incidents))
    incident = incidents[opts.incident_id]
    live = opts.format == "text" and not opts.no_live and opts.output is None and sys.stderr.isatty()
    if live:
        from rich.console import Console

        from inquest.render.live import LiveAgentView

        with LiveAgentView(list(config.investigation.agents), Console(stderr=True)) as view:
            report = investigate(incident, deps, on_progress=view.update)
    else:
        report = investigate(incident, deps)
    _emit(report, opts)
    return EXIT_FOUND if report.root_cause is not None else EXIT_NOT_FOUND


def _emit(report, opts: argparse.Namespace) -> None:
    from inquest.render import render

    if opts.output:
        Path(opts.output).write_text(render(report, opts.format), encoding="utf-8")
        top = report.root_cause
        print(f"report written to {opts.output}: " + (f"root cause #{top.rank} {top.summary}" if top
                                                     else "no root cause found"), file=sys.stderr)
    elif opts.format == "text" and sys.stdout.isatty():
        from rich.console import Console

        from inquest.render.text import render_text

        render_text(report, Console())
    else:
        text = render(report, opts.format)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
