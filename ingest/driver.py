"""Loading files of telemetry, changes and incidents into the embedded store, safely and incrementally.

Records stream from the parsers in bounded batches, so memory does not grow with a file's size. Each
batch is copied into a staging table and merged inside one transaction: a record whose natural key is
already stored is skipped (telemetry) or replaced (changes and incidents, which are declarations whose
latest version wins), so ingesting a file twice adds nothing and a batch that fails leaves the store as
it was. Self time is derived for the spans each batch added, and for the traces they joined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from inquest.config import AlertsConfig
from inquest.errors import BackendError, InputError
from inquest.ingest.alerts import DEFAULT_ALERTS, iter_alert_records
from inquest.ingest.arrow_rows import COLUMNAR_TABLES, arrow_batch
from inquest.ingest.incident_files import iter_change_records, iter_incident_records
from inquest.ingest.ndjson import MAX_LINE_BYTES, Notice, Record, Rejection, iter_json_documents
from inquest.ingest.otlp_chunks import ChunkParser, ChunkResult
from inquest.ingest.peers import derive_peers_from_children
from inquest.tools.backends.embedded_schema import TABLES, StoreWriter, copy_rows, insert_spans, quote

# What makes two rows the same record. Logs have no id of their own: the same line at the same
# instant from the same service and span is taken to be one record delivered twice.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "spans": ("trace_id", "span_id"),
    "logs": ("timestamp", "service.name", "trace_id", "span_id", "body"),
    "metrics": ("timestamp", "service.name", "host.name", "name", "attributes"),
    "changes": ("id",),
    "incidents": ("id",),
    "dependencies": ("caller", "callee", "source"),  # edges named by metrics (ingest/peers.py)
}
REPLACED_ON_REINGEST = ("changes", "incidents")
# A record's own time, part of its natural key: a batch is compared only with the stored rows in its time
# range, which DuckDB's zone maps find without reading the rest, so each batch costs what it brings rather
# than what the store holds. Not spans: OTLP names a span by its ids alone, and a span re-sent with another
# start time (a corrected clock, a retried export) is the same span, so a batch of spans is compared with
# the ids of every stored span (two columns; the join's hash table is built on the batch's side).
TIME_COLUMNS = {"logs": "timestamp", "metrics": "timestamp"}
# A batch ends at whichever comes first: typical rows are under 1 kB, but a table of stack traces or
# long SQL statements must not hold 120,000 of them in memory at once. 122,880 rows is DuckDB's row group:
# a transaction that appends whole row groups writes them to the store file directly, where smaller ones
# go through the write-ahead log first (the COMMIT of 20,000-span batches was 1.8 s CPU of 300k spans).
BATCH_ROWS = 122_880  # per table
BATCH_BYTES = 64 * 1024 * 1024  # per table, counting the text in the rows (Arrow batches: their buffers)
REJECTIONS_KEPT = 20  # per file, for the summary; the rest are only counted
# DuckDB's default is 80% of the machine, and it caches the store's blocks up to its limit, so a
# large store would look like memory growing with the input. Merges join against a staging table of
# one batch (DuckDB builds the hash table on that side), so they need little; more spills to disk.
MEMORY_LIMIT = "192MB"

_KIND_BY_SUFFIX = {".json": "otlp", ".jsonl": "otlp", ".ndjson": "changes", ".yaml": "incidents",
                   ".yml": "incidents"}
_PARSERS: dict[str, Callable[..., Iterator[Record | Rejection | Notice]]] = {
    "changes": iter_change_records, "incidents": iter_incident_records,
    "alertmanager": iter_alert_records,
}


@dataclass
class FileResult:
    path: str
    kind: str | None = None
    accepted: Counter[str] = field(default_factory=Counter)  # per table: valid records read
    added: Counter[str] = field(default_factory=Counter)  # per table: rows the store did not have
    updated: Counter[str] = field(default_factory=Counter)  # per table: stored rows replaced by a newer version
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first REJECTIONS_KEPT
    notices: list[Notice] = field(default_factory=list)  # the first REJECTIONS_KEPT: loaded, but read with a caveat
    error: str | None = None  # the file could not be read at all

    @property
    def accepted_total(self) -> int:
        return sum(self.accepted.values())

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < REJECTIONS_KEPT:
            self.rejections.append(rejection)

    def take(self, chunk: ChunkResult) -> None:
        """Counts a parsed chunk: its accepted records and its rejections (of which it kept the first)."""
        self.accepted.update(chunk.accepted)
        self.rejected += chunk.rejected - len(chunk.rejections)
        for rejection in chunk.rejections:
            self.reject(rejection)


@dataclass
class IngestResult:
    store: Path | str  # the store file; after `--to elasticsearch`, the cluster it went to ("Elasticsearch at …")
    created: bool  # the store file did not exist before
    files: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in a given folder that are not ingest formats
    incidents: list[str] = field(default_factory=list)  # ids of the incidents ingested, in order

    @property
    def accepted(self) -> int:
        return sum(f.accepted_total for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def unreadable(self) -> list[FileResult]:
        return [f for f in self.files if f.error]


def ingest(store: Path | str, paths: Sequence[Path | str] = (), alerts: Sequence[Path | str] = (),
           batch_rows: int = BATCH_ROWS, max_line_bytes: int = MAX_LINE_BYTES,
           alert_settings: AlertsConfig = DEFAULT_ALERTS, not_data: Sequence[Path] = (),
           workers: int = 1) -> IngestResult:
    """Loads every file (folders: every file in them with a known extension) and every Alertmanager
    payload into the store at `store`, creating it if missing; `alert_settings` says which labels name
    an alert's service. Never raises for bad input: a file that cannot be read is reported in its
    FileResult; a failing store raises BackendError. `not_data`: files a folder may hold that are not
    telemetry (the config file in use), skipped when met in a folder. `workers`: processes that parse large
    OTLP files (1: all in this one; more needs the caller's script to guard its entry point with
    `if __name__ == "__main__"`, as multiprocessing's spawn imports it again)."""
    store = Path(store)
    files, skipped = expand_paths(paths, not_data)
    result = IngestResult(store=store, created=not store.exists(), skipped=skipped)
    with StoreLoader(store, batch_rows) as loader, ChunkParser(workers) as parser:
        for path, kind in [*((p, None) for p in files), *((Path(a), "alertmanager") for a in alerts)]:
            result.files.append(_ingest_file(loader, parser, path, kind, max_line_bytes, result.incidents,
                                             alert_settings))
    return result


def _ingest_file(loader: StoreLoader, parser: ChunkParser, path: Path, kind: str | None, max_line_bytes: int,
                 incidents: list[str], alert_settings: AlertsConfig = DEFAULT_ALERTS) -> FileResult:
    outcome = FileResult(str(path), kind)
    loader.attribute_to(outcome)
    try:
        outcome.kind = kind = kind or detect_kind(path, max_line_bytes)
        if kind == "otlp":
            for chunk in parser.chunks(path, max_line_bytes):
                outcome.take(chunk)
                for table, batch in chunk.batches.items():
                    loader.add_batch(table, batch)
        else:
            parse = partial(iter_alert_records, settings=alert_settings) if kind == "alertmanager" else _PARSERS[kind]
            _load_records(loader, parse(path, max_line_bytes), outcome, incidents)
    except InputError as exc:
        outcome.error = str(exc)
    loader.flush()  # what was read before a failure is valid and loads
    loader.finish_file()
    return outcome


def _load_records(loader: StoreLoader, items: Iterable[Record | Rejection | Notice], outcome: FileResult,
                  incidents: list[str]) -> None:
    for item in items:
        if isinstance(item, Rejection):
            outcome.reject(item)
            continue
        if isinstance(item, Notice):
            if len(outcome.notices) < REJECTIONS_KEPT:
                outcome.notices.append(item)
            continue
        outcome.accepted[item.table] += 1
        if item.table == "incidents" and item.row[0] not in incidents:
            incidents.append(item.row[0])
        loader.add(item)


def expand_paths(paths: Iterable[Path | str], not_data: Iterable[Path] = ()) -> tuple[list[Path], list[str]]:
    """Files as given, and for a folder its files with an ingest extension (sorted, so batches and
    summaries are reproducible); returns (files, skipped files)."""
    files: list[Path] = []
    skipped: list[str] = []
    excluded = {p.resolve() for p in not_data}
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            files.append(path)
            continue
        for child in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
            if child.resolve() in excluded:
                skipped.append(str(child))
            elif _suffix(child) in _KIND_BY_SUFFIX:
                files.append(child)
            else:
                skipped.append(str(child))
    return files, skipped


def detect_kind(path: Path, max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """What a file holds, from its first JSON document when it is JSON (so an Alertmanager payload or
    change events in a `.json` file are recognised), else from its extension."""
    by_suffix = _KIND_BY_SUFFIX.get(_suffix(path))
    if by_suffix == "incidents":
        return by_suffix
    for attempt, item in enumerate(iter_json_documents(path, max_line_bytes)):
        if isinstance(item, tuple) and isinstance(item[1], dict):
            keys = set(item[1])
            if keys & {"resourceSpans", "resourceLogs", "resourceMetrics"}:
                return "otlp"
            if "alerts" in keys:
                return "alertmanager"
            if keys & {"time", "kind", "service"}:
                return "changes"
        if attempt >= 3:
            break
    if by_suffix is None:
        raise InputError(f"{path}: cannot tell what this file holds; expected OTLP/JSON (.json, .jsonl), change "
                         "events (.ndjson), incidents (.yaml, .yml) or an Alertmanager payload (--alert), "
                         "optionally gzip-compressed (.gz)")
    return by_suffix


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


class StoreLoader:
    """Buffers records per table and merges each full buffer into the store in one transaction."""

    def __init__(self, path: Path, batch_rows: int = BATCH_ROWS) -> None:
        try:
            self._writer = StoreWriter(path)
        except (duckdb.Error, OSError) as exc:
            raise BackendError(f"cannot open the embedded store {path} for writing: {exc}") from exc
        self.con = self._writer.con
        self.batch_rows = batch_rows
        self._buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in NATURAL_KEYS}
        self._batches: dict[str, list[pa.Table]] = {table: [] for table in NATURAL_KEYS}  # parsed elsewhere
        self._bytes = dict.fromkeys(NATURAL_KEYS, 0)
        self._current: FileResult | None = None
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.con.execute("SET preserve_insertion_order = false")
        for table, columns in TABLES.items():
            cols = ", ".join(f"{quote(name)} {kind}" for name, kind in columns)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE stage_{table} ({cols})")
        # The traces whose spans this file added: after the file, their callers' peers are named (peers.py).
        self.con.execute("CREATE OR REPLACE TEMP TABLE file_traces (trace_id VARCHAR)")

    def attribute_to(self, outcome: FileResult) -> None:
        """Counts what later merges add against this file."""
        self._current = outcome

    def add(self, record: Record) -> None:
        buffer = self._buffers[record.table]
        buffer.append(record.row)
        self._bytes[record.table] += _text_size(record.row)
        if len(buffer) >= self.batch_rows or self._bytes[record.table] >= BATCH_BYTES:
            self._merge(record.table)

    def add_batch(self, table: str, batch: pa.Table | list[tuple[Any, ...]]) -> None:
        """Adds rows parsed into a batch, merged in pieces of at most `batch_rows`."""
        if isinstance(batch, list):
            for row in batch:
                self.add(Record(table, row))
            return
        for offset in range(0, batch.num_rows, self.batch_rows):
            piece = batch.slice(offset, self.batch_rows)
            self._batches[table].append(piece)
            self._bytes[table] += piece.nbytes
            if self._pending(table) >= self.batch_rows or self._bytes[table] >= BATCH_BYTES:
                self._merge(table)

    def _pending(self, table: str) -> int:
        return len(self._buffers[table]) + sum(int(b.num_rows) for b in self._batches[table])

    def flush(self) -> None:
        for table in NATURAL_KEYS:
            if self._pending(table):
                self._merge(table)

    def finish_file(self) -> None:
        """Names the peers of caller spans in the traces this file added to, once per file: a caller and
        its callee may arrive in different batches, and a query across the store per batch would make
        each batch cost what the store holds."""
        if not self.con.execute("SELECT 1 FROM file_traces LIMIT 1").fetchall():
            return
        self._in_transaction("spans", lambda: derive_peers_from_children(self.con, "file_traces"))
        self.con.execute("DELETE FROM file_traces")

    def _merge(self, table: str) -> None:
        rows, self._buffers[table], self._bytes[table] = self._buffers[table], [], 0
        batches, self._batches[table] = self._batches[table], []
        if table in REPLACED_ON_REINGEST:
            rows = list({row[0]: row for row in rows}.values())  # within a batch, too, the last version wins

        def merge() -> tuple[int, int]:
            if table == "spans" and batches and not rows:
                # Arrow batches are read in place, not copied into the staging table first (a tenth of a load's
                # time). Not for the tables whose key compares JSON, which the staging table's type casts.
                self.con.register("incoming_spans", pa.concat_tables(batches))
                try:
                    return _append_new(self.con, table, "incoming_spans")
                finally:
                    self.con.unregister("incoming_spans")
            self.con.execute(f"DELETE FROM stage_{table}")
            _stage(self.con, table, rows, batches)
            return (_replace if table in REPLACED_ON_REINGEST else _append_new)(self.con, table)

        added, updated = self._in_transaction(table, merge, len(rows) + sum(b.num_rows for b in batches))
        if self._current is not None:
            self._current.added[table] += added
            self._current.updated[table] += updated

    def _in_transaction(self, table: str, work: Callable[[], Any], rows: int | None = None) -> Any:
        try:
            self.con.execute("BEGIN TRANSACTION")
            outcome = work()
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            self.con.execute("ROLLBACK")
            where = f" (from {self._current.path})" if self._current else ""
            what = f"loading {rows} {table} rows" if rows is not None else f"naming the peers of {table}"
            raise BackendError(f"{what}{where} failed; the store is unchanged by them: {exc}") from exc
        except BaseException:
            self.con.execute("ROLLBACK")  # interrupted (Ctrl-C, a bug): the batch must not half-apply
            raise
        return outcome

    def close(self) -> None:
        try:
            self.flush()
            self.finish_file()
            self.con.execute("CHECKPOINT")
        finally:
            self._writer.close()

    def __enter__(self) -> StoreLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._writer.close()  # what was merged is committed; the unmerged rest is dropped


def _text_size(row: tuple[Any, ...]) -> int:
    """Roughly what a row weighs: its strings, plus a guess for its attributes."""
    return sum(len(v) if type(v) is str else 64 if type(v) is dict else 8 for v in row)


def _columns(table: str) -> str:
    return ", ".join(quote(name) for name, _ in TABLES[table])


def _stage(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]], batches: list[pa.Table]) -> None:
    """Puts a batch into the staging table: Arrow batches as they are, rows of the parsers' tables converted
    to one (or, when a value will not convert as it is, through CSV, which casts)."""
    if rows and table in COLUMNAR_TABLES:
        try:
            batches, rows = [*batches, arrow_batch(table, rows)], []
        except (pa.ArrowException, OverflowError):
            pass
    if rows:
        copy_rows(con, table, rows, into=f"stage_{table}")
    for batch in batches:
        con.register("incoming_batch", batch)
        try:
            con.execute(f"INSERT INTO stage_{table} SELECT * FROM incoming_batch")
        finally:
            con.unregister("incoming_batch")


def _append_new(con: duckdb.DuckDBPyConnection, table: str, source: str | None = None) -> tuple[int, int]:
    """Adds the rows of `source` (the table's staging table) that the store does not hold; returns (added, 0)."""
    source = source or f"stage_{table}"
    keys = NATURAL_KEYS[table]
    same = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM s.{quote(k)}" for k in keys)
    stored = table
    if table in TIME_COLUMNS:
        column = quote(TIME_COLUMNS[table])
        low, high = con.execute(f"SELECT min({column}), max({column}) FROM {source}").fetchone() or (None, None)
        if low is not None:  # literals, so that the scan prunes row groups by them
            stored = f"(SELECT * FROM {table} WHERE {column} BETWEEN TIMESTAMP '{low}' AND TIMESTAMP '{high}')"
    columns = ", ".join(map(quote, keys))
    # A batch rarely repeats a record; when it does, the first copy is kept. Counting is a tenth of the cost of
    # numbering every row within its key (a window, sorted per key), so the window runs only when needed.
    repeats = con.execute(f"SELECT count(*) - count(DISTINCT ({columns})) FROM {source}").fetchone()
    staged = source
    if repeats and repeats[0]:
        staged = f"(SELECT * FROM {source} QUALIFY row_number() OVER (PARTITION BY {columns}) = 1)"
    new = f"SELECT s.* FROM {staged} s WHERE NOT EXISTS (SELECT 1 FROM {stored} t WHERE {same})"
    if table == "spans":
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_spans AS {new}")
        added = insert_spans(con, "new_spans")
        con.execute("INSERT INTO file_traces SELECT DISTINCT trace_id FROM new_spans")
        con.execute("DROP TABLE new_spans")
        return added, 0
    inserted = con.execute(f"INSERT INTO {table} ({_columns(table)}) SELECT * FROM ({new})").fetchone()
    return int(inserted[0]) if inserted else 0, 0


def _replace(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """Rows that are new or differ from the stored version replace it; identical ones change nothing."""
    columns = _columns(table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE changed_{table} AS "
                f"SELECT {columns} FROM stage_{table} EXCEPT SELECT {columns} FROM {table}")
    replaced = con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM changed_{table})").fetchone()
    inserted = con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM changed_{table}").fetchone()
    con.execute(f"DROP TABLE changed_{table}")
    updated = int(replaced[0]) if replaced else 0
    return (int(inserted[0]) if inserted else 0) - updated, updated
