"""Large OTLP files are parsed on worker processes: the store must come out as from one process, and a
bad line must still be rejected by file and line, in order."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from inquest.ingest import otlp_chunks
from inquest.ingest.driver import ingest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ingest"


def stored(store: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(store), read_only=True) as con:
        return {table: con.execute(f"SELECT * EXCLUDE (attributes), attributes::VARCHAR FROM {table} "
                                   "ORDER BY ALL").fetchall() for table in ("spans", "logs", "metrics")}


def test_worker_processes_store_what_one_process_stores_and_name_bad_lines(tmp_path, monkeypatch):
    lines = (EXAMPLES / "traces.json").read_text().splitlines()
    mixed = tmp_path / "mixed.json"
    # A broken line and a span without a name among good lines, so chunks carry rejections.
    mixed.write_text("\n".join([lines[0], '{"resourceSpans": [', *lines[1:3],
                                json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "1" * 32}]}]}]}),
                                *lines[3:], (EXAMPLES / "logs.json").read_text().strip(),
                                (EXAMPLES / "metrics.json").read_text().strip()]) + "\n")
    serial = ingest(tmp_path / "serial.duckdb", [mixed], workers=1)
    monkeypatch.setattr(otlp_chunks, "PARALLEL_FILE_BYTES", 0)
    monkeypatch.setattr(otlp_chunks, "CHUNK_BYTES", 2048)  # many chunks, several in flight at once
    parallel = ingest(tmp_path / "parallel.duckdb", [mixed], workers=2, batch_rows=50)
    assert stored(tmp_path / "parallel.duckdb") == stored(tmp_path / "serial.duckdb")
    assert parallel.files[0].accepted == serial.files[0].accepted and serial.files[0].accepted["spans"] > 200
    assert [(r.file, r.line) for r in parallel.files[0].rejections] == [(str(mixed), 2), (str(mixed), 5)]
    assert parallel.files[0].rejections == serial.files[0].rejections
