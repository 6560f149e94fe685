"""`investigate <incident-id>`: one investigation, rendered."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inquest import __version__
from inquest.core import Report
from inquest.errors import UnknownIncidentError

FORMATS = ("text", "json", "markdown")
EXIT_FOUND, EXIT_NOT_FOUND = 0, 1

DESCRIPTION = """\
Finds the root cause of a production incident: specialist agents (trace, db, deployment, code-diff,
customer-impact) investigate in parallel and the coordinator ranks what they found.

  investigate INC-1042                  investigate an incident
  investigate INC-1042 --format json    the same, as JSON (schema: docs/report-schema.md)
  investigate incidents                 list known incidents

exit codes: 0 root cause found, 1 none found, 2 usage/config error or unknown incident,
            3 report written but attaching it failed"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("incident_id", metavar="INCIDENT-ID", help="the incident to investigate, or a command")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--no-live", action="store_true", help="no live view of the agents while they work")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $INQUEST_CONFIG, ./config.yaml)")
    parser.add_argument("--version", action="version", version=f"inquest {__version__}")
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
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
    emit(report, opts.format, opts.output)
    return EXIT_FOUND if report.root_cause is not None else EXIT_NOT_FOUND


def emit(report: Report, fmt: str, output: str | None) -> None:
    from inquest.render import render

    if output:
        Path(output).write_text(render(report, fmt), encoding="utf-8")
        top = report.root_cause
        print(f"report written to {output}: " + (f"root cause #{top.rank} {top.summary}" if top
                                                else "no root cause found"), file=sys.stderr)
    elif fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        from inquest.render.text import render_text

        render_text(report, Console())
    else:
        text = render(report, fmt)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
