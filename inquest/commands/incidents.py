"""`investigate incidents`: the incidents the store knows, newest first."""

from __future__ import annotations

import argparse
import json

from inquest.commands.demo_world import ensure_demo_world
from inquest.commands.options import CONFIG_HELP, STORE_HELP
from inquest.config import load_config
from inquest.connect import open_backend
from inquest.exits import EXIT_OK
from inquest.redact import Redactor
from inquest.render.json_report import iso_utc


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="investigate incidents", description="List known incidents, newest first.")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("--store", metavar="PATH", help=STORE_HELP)
    opts = parser.parse_args(args)
    config = load_config(opts.config, opts.store)
    ensure_demo_world(config)
    backend = open_backend(config)
    try:
        # Titles and symptoms come from alerts, which quote what production leaked: redacted like reports.
        incidents = Redactor(config.llm.redact_ips).value(backend.incidents())
    finally:
        getattr(backend, "close", lambda: None)()
    if opts.format == "json":
        print(json.dumps([{"id": i.id, "title": i.title, "service": i.service, "started_at": iso_utc(i.started_at),
                           "window": {"start": iso_utc(i.window.start), "end": iso_utc(i.window.end)},
                           "symptoms": list(i.symptoms), "ticket": i.ticket} for i in incidents], indent=2))
    else:
        for i in incidents:
            print(f"{i.id:<12} {i.started_at:%Y-%m-%d %H:%M}Z  {i.service:<14} {i.title}")
    return EXIT_OK
