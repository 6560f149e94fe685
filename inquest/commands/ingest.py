"""`investigate ingest PATH... [--alert FILE]`: load your own telemetry, changes and incidents.

Into the store config.yaml's `backend.embedded.path` names, created if missing (never by building the
demo world). Formats: docs/ingest.md. Exit codes: 0 everything loaded, 1 some records were rejected,
2 a file could not be read at all (or bad usage / configuration).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from inquest.commands.options import CONFIG_HELP, STORE_HELP
from inquest.exits import EXIT_LOADED, EXIT_REJECTED, EXIT_UNREADABLE
from inquest.ingest.driver import FileResult, IngestResult

SHOWN_REJECTIONS = 5

DESCRIPTION = """\
Loads OpenTelemetry OTLP/JSON files (traces, logs, metrics; .json/.jsonl, optionally .gz), change
events (.ndjson), incidents (.yaml/.yml) and Alertmanager webhook payloads (--alert) into the store
that config.yaml names. A folder loads every such file in it. Ingesting a file again adds nothing
new; a malformed record is reported with file:line and skipped, and the rest still loads.

  investigate ingest examples/ingest           the example incident (see docs/ingest.md)
  investigate ingest traces.json.gz --alert alert.json

exit codes: 0 everything loaded, 1 some records were rejected, 2 a file could not be read"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate ingest", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to load")
    parser.add_argument("--alert", action="append", default=[], metavar="FILE",
                        help="an Alertmanager webhook payload: each alert becomes an incident (repeatable)")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("--store", metavar="PATH", help=STORE_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--to", choices=("embedded", "elasticsearch"), default="embedded",
                        help="the embedded store (default) or the cluster in backend.elasticsearch, through the "
                             "bulk API into the index templates inquest ships (docs/elasticsearch.md)")
    return parser


def main(args: list[str]) -> int:
    parser = build_parser()
    opts = parser.parse_args(args)
    if not opts.paths and not opts.alert:
        parser.error("nothing to ingest: give at least one PATH or --alert FILE")
    from inquest.config import config_path, load_config
    from inquest.ingest.driver import ingest

    config = load_config(opts.config, opts.store)
    if opts.to == "elasticsearch":
        from inquest.ingest.es_loader import ingest_into_cluster

        config.require_env("backend.elasticsearch")
        result, stored = ingest_into_cluster(config.backend.elasticsearch, config.base_dir, opts.paths, opts.alert,
                                             config.alerts)
        if opts.format == "json":
            print(json.dumps({**as_json(result), "documents_stored": stored}, indent=2))
        else:
            sys.stdout.write(as_text(result) + "".join(f"  {kind}: {n:,} documents stored\n"
                                                       for kind, n in stored.items() if n))
    else:
        store = config.resolve(config.backend.embedded.path)
        # `investigate init` then `investigate ingest .`: the config.yaml there is not an incident file.
        config_file = config_path(opts.config)
        # Large OTLP files are parsed on worker processes, one per core (their results are merged in order).
        result = ingest(store, opts.paths, opts.alert, alert_settings=config.alerts,
                        not_data=(config_file,) if config_file else (), workers=os.cpu_count() or 1)
        if opts.format == "json":
            print(json.dumps(as_json(result), indent=2))
        else:
            sys.stdout.write(as_text(result, demo_would_build=config.backend.embedded.demo))
    if result.unreadable:
        return EXIT_UNREADABLE
    return EXIT_REJECTED if result.rejected else EXIT_LOADED


def as_json(result: IngestResult) -> dict[str, Any]:
    return {
        "store": str(result.store), "created": result.created,
        "accepted": result.accepted, "rejected": result.rejected,
        "files": [{"path": f.path, "kind": f.kind, "accepted": dict(f.accepted), "added": _nonzero(f.added),
                   "updated": _nonzero(f.updated), "rejected": f.rejected,
                   "rejections": [{"file": r.file, "line": r.line, "reason": r.reason} for r in f.rejections],
                   "notes": [{"file": n.file, "line": n.line, "note": n.message} for n in f.notices],
                   "error": f.error} for f in result.files],
        "skipped": result.skipped, "incidents": result.incidents,
    }


def as_text(result: IngestResult, demo_would_build: bool = False) -> str:
    lines = [f"{'created' if result.created else 'loading into'} {result.store}"]
    if result.created and demo_would_build:
        lines.append("  note: this is the store the demo world is built in when missing; it now holds only "
                     "what you ingest (point backend.embedded.path elsewhere to keep both)")
    for f in result.files:
        lines.extend(_file_lines(f))
    for path in result.skipped:
        lines.append(f"  {path}: skipped (not an ingest format)")
    lines.append(f"{result.accepted:,} records accepted, {result.rejected:,} rejected"
                 + (f", {len(result.unreadable)} file(s) unreadable" if result.unreadable else ""))
    if result.incidents:
        lines.append(f"incidents: {', '.join(result.incidents)} — investigate with "
                     f"`investigate {result.incidents[0]}`")
    return "\n".join(lines) + "\n"


def _file_lines(f: FileResult) -> list[str]:
    if f.error:
        return [f"  {f.path}: not loaded: {f.error}"]
    tables = ", ".join(_count(n, table) for table, n in sorted(f.accepted.items())) or "no records"
    news = sum(f.added.values())
    updated = sum(f.updated.values())
    known = f.accepted_total - news - updated
    detail = [f"{news:,} new"] + ([f"{updated:,} updated"] if updated else []) + \
        ([f"{known:,} already stored"] if known else [])
    head = f"  {f.path} ({f.kind}): {tables}" + (f" — {', '.join(detail)}" if f.accepted_total else "") + \
        f"; {f.rejected:,} rejected"
    out = [head]
    for rejection in f.rejections[:SHOWN_REJECTIONS]:
        out.append(f"    {rejection}")
    if f.rejected > SHOWN_REJECTIONS:
        out.append(f"    … and {f.rejected - SHOWN_REJECTIONS:,} more")
    out.extend(f"    note: {notice}" for notice in f.notices[:SHOWN_REJECTIONS])
    return out


def _count(n: int, table: str) -> str:
    return f"{n:,} {table if n != 1 else table.removesuffix('s')}"


def _nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    return {table: n for table, n in counts.items() if n}
