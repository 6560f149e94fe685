"""The embedded store's tables and how data gets into them.

Columns carry OpenTelemetry field names (`service.name`, `http.route`, `db.statement`, ...) so a query
written against this store reads like one written against any OTel-shaped backend. Timestamps are
naive TIMESTAMPs holding UTC. Writing goes through here: `StoreWriter` builds a store in one go (the
demo world), `copy_rows` and `insert_spans` serve incremental loads (ingest/driver.py);
investigations open the file read-only.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from inquest.errors import BackendError

# table -> ((column, type), ...). Order matters: rows handed to StoreWriter.load follow it.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "spans": (
        ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("parent_span_id", "VARCHAR"),
        ("service.name", "VARCHAR"), ("host.name", "VARCHAR"), ("name", "VARCHAR"), ("kind", "VARCHAR"),
        ("start_time", "TIMESTAMP"), ("end_time", "TIMESTAMP"), ("duration_ms", "DOUBLE"),
        ("status_code", "VARCHAR"), ("status_message", "VARCHAR"),
        ("http.request.method", "VARCHAR"), ("http.route", "VARCHAR"), ("http.response.status_code", "INTEGER"),
        ("peer.service", "VARCHAR"), ("db.system", "VARCHAR"), ("db.statement", "VARCHAR"),
        ("enduser.id", "VARCHAR"), ("tenant.id", "VARCHAR"), ("attributes", "JSON"),
    ),
    "logs": (
        ("timestamp", "TIMESTAMP"), ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"),
        ("severity_text", "VARCHAR"), ("severity_number", "INTEGER"),
        ("service.name", "VARCHAR"), ("host.name", "VARCHAR"), ("body", "VARCHAR"), ("attributes", "JSON"),
    ),
    "metrics": (
        ("timestamp", "TIMESTAMP"), ("service.name", "VARCHAR"), ("host.name", "VARCHAR"),
        ("name", "VARCHAR"), ("value", "DOUBLE"), ("unit", "VARCHAR"), ("attributes", "JSON"),
    ),
    "changes": (
        ("id", "VARCHAR"), ("timestamp", "TIMESTAMP"), ("service.name", "VARCHAR"), ("kind", "VARCHAR"),
        ("version", "VARCHAR"), ("commit", "VARCHAR"), ("repository", "VARCHAR"), ("author", "VARCHAR"),
        ("description", "VARCHAR"),
    ),
    "db_query_stats": (
        ("timestamp", "TIMESTAMP"), ("service.name", "VARCHAR"), ("db.system", "VARCHAR"),
        ("db.statement", "VARCHAR"), ("calls", "BIGINT"), ("total_time_ms", "DOUBLE"), ("rows", "BIGINT"),
        ("lock_wait_ms", "DOUBLE"),
    ),
    # The call graph as declared outside the traces (a service catalogue, a dataset's dependency file):
    # what the engine can follow when a system reports no spans. `source` names where an edge came from.
    "dependencies": (("caller", "VARCHAR"), ("callee", "VARCHAR"), ("source", "VARCHAR")),
    "incidents": (
        ("id", "VARCHAR"), ("title", "VARCHAR"), ("service.name", "VARCHAR"), ("started_at", "TIMESTAMP"),
        ("window_start", "TIMESTAMP"), ("window_end", "TIMESTAMP"), ("symptoms", "JSON"), ("ticket", "VARCHAR"),
        ("baseline_start", "TIMESTAMP"), ("baseline_end", "TIMESTAMP"),  # the incident file's own baseline
    ),
}

# Derived when a load finishes: exclusive ("self") time of every span.
DERIVED_SPAN_COLUMNS = (("self_ms", "DOUBLE"),)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def aggregate_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The row an aggregate query without GROUP BY answers: SQL gives exactly one, even over no rows, so
    its absence is a query that is not such an aggregate (a programming error, said as one)."""
    row = con.execute(sql).fetchone()
    if row is None:
        raise BackendError(f"expected the one row of an aggregate, got none: {sql.strip()[:120]}")
    return row


def count_of(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The number a `SELECT count(...) ...` query answers."""
    return int(aggregate_row(con, sql)[0])


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in TABLES.items():
        extra = DERIVED_SPAN_COLUMNS if table == "spans" else ()
        cols = ", ".join(f"{quote(name)} {kind}" for name, kind in (*columns, *extra))
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        # A store written by an older version lacks the columns added since: they are added (NULL) before
        # anything is loaded, so ingest keeps working on it.
        for name, kind in columns:
            con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote(name)} {kind}")


# How a NULL travels through the CSV files rows are copied with, so that an empty string stays one.
_NULL = "\\N"
# DuckDB refuses CSV lines longer than this (default 2 MB); one log body or statement may be longer.
_MAX_CSV_LINE = 64 * 1024 * 1024


def _cell(value: Any) -> Any:
    if value is None:
        return _NULL
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (dict, list, tuple)):
        # Sorted keys: the same attributes always serialise alike, so they can be compared as text.
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return value


def copy_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Sequence[Any]],
              into: str | None = None) -> int:
    """Appends rows (in TABLES[table] column order) to `into` (default: `table` itself, else a table of
    the same columns such as a staging table), through a CSV file and DuckDB's COPY, which is two
    orders of magnitude faster than row-by-row inserts from Python."""
    if table not in TABLES:
        raise BackendError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    columns = TABLES[table]
    # Only these columns can hold values that need converting; the rest are written as they are.
    special = [i for i, (_, kind) in enumerate(columns) if kind in ("TIMESTAMP", "JSON")]
    count = 0
    with tempfile.NamedTemporaryFile("w", newline="", suffix=".csv", delete=True, encoding="utf-8") as tmp:
        out = csv.writer(tmp, lineterminator="\n")
        for row in rows:
            if len(row) != len(columns):
                raise BackendError(f"{table}: row {count + 1} has {len(row)} values, expected {len(columns)}")
            cells = [_NULL if v is None else v for v in row]
            for i in special:
                cells[i] = _cell(row[i])
            out.writerow(cells)
            count += 1
        tmp.flush()
        if count:
            names = ", ".join(quote(name) for name, _ in columns)
            types = ", ".join(f"{quote(name)}: '{kind}'" for name, kind in columns)
            con.execute(
                f"INSERT INTO {into or table} ({names}) SELECT * FROM read_csv(?, header=false, auto_detect=false, "
                f"columns={{{types}}}, delim=',', nullstr='{_NULL}', quote='\"', escape='\"', new_line='\\n', "
                f"max_line_size={_MAX_CSV_LINE})",
                [tmp.name],
            )
    return count


class StoreWriter:
    """Bulk-loads rows into a store file. Rows go through a CSV file and DuckDB's COPY, which is two
    orders of magnitude faster than row-by-row inserts from Python."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute("SET enable_progress_bar = false")
        create_schema(self.con)

    def load(self, table: str, rows: Iterable[Sequence[Any]]) -> int:
        return copy_rows(self.con, table, rows)

    def finish(self) -> None:
        """Derives exclusive time and orders spans by time so windowed scans skip most row groups."""
        self.con.execute(SELF_TIME_SQL)
        self.con.execute("CREATE OR REPLACE TABLE logs AS SELECT * FROM logs ORDER BY timestamp")
        self.con.execute("CHECKPOINT")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def insert_spans(con: duckdb.DuckDBPyConnection, new: str) -> int:
    """Appends the rows of table `new` (TABLES["spans"] columns, none of them stored yet) to spans with
    their self time derived, and re-derives it for stored spans that gained children among them (a
    trace split across loads). Returns the number of spans inserted. Run it inside the transaction
    of the load: the statements belong together.

    Only stored spans overlapping the new ones in time are read, so a load costs what it brings, not what
    the store holds (zone maps skip the rest, as ingest appends roughly in time order): a child counts
    towards its parent's covered time only where their intervals overlap, so a stored parent whose self
    time can change overlaps a new child, and its children overlap it."""
    bounds = con.execute(f"SELECT min(start_time), max(end_time) FROM {new}").fetchone()
    if bounds is None or bounds[0] is None:
        return 0
    con.execute(STORED_PARENTS_SQL.format(new=new, overlapping=_overlapping(*bounds)))
    parents = con.execute("SELECT min(start_time), max(end_time) FROM stored_parents").fetchone()
    low = min(bounds[0], parents[0]) if parents and parents[0] is not None else bounds[0]
    high = max(bounds[1], parents[1]) if parents and parents[1] is not None else bounds[1]
    con.execute(SELF_TIME_COVERED_SQL.format(new=new, overlapping=_overlapping(low, high)))
    names = ", ".join(quote(name) for name, _ in TABLES["spans"])
    inserted = con.execute(
        f"INSERT INTO spans ({names}, self_ms) SELECT {', '.join(f'n.{quote(c)}' for c, _ in TABLES['spans'])}, "
        f"n.duration_ms - coalesce(c.ms, 0) FROM {new} n "
        "LEFT JOIN self_time_covered c ON n.trace_id = c.trace_id AND n.span_id = c.pid").fetchone()
    # Only parents whose covered time changed are rewritten: DuckDB keeps updates in memory until
    # the next checkpoint, so updating every new span would make memory grow with the input.
    con.execute("UPDATE spans SET self_ms = spans.duration_ms - c.ms FROM self_time_covered c "
                f"WHERE spans.trace_id = c.trace_id AND spans.span_id = c.pid AND {_overlapping(low, high, 'spans')} "
                "AND spans.self_ms IS DISTINCT FROM spans.duration_ms - c.ms")
    con.execute("DROP TABLE self_time_covered")
    con.execute("DROP TABLE stored_parents")
    return int(inserted[0]) if inserted else 0


def _overlapping(low: datetime, high: datetime, table: str = "spans") -> str:
    """A filter for spans overlapping [low, high], written with literals so DuckDB prunes row groups by it."""
    return f"{table}.start_time <= TIMESTAMP '{high.isoformat(' ')}' AND {table}.end_time >= TIMESTAMP '{low.isoformat(' ')}'"


# Self time = duration minus the union (not the sum) of child intervals clipped to the parent, so
# concurrent children are not double-counted. Gaps-and-islands merges overlapping child intervals.
_COVERED = """
child AS (
  SELECT c.trace_id, c.parent_span_id AS pid,
         greatest(c.start_time, p.start_time) AS s, least(c.end_time, p.end_time) AS e
  FROM {spans} c JOIN {spans} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
  WHERE c.end_time > p.start_time AND c.start_time < p.end_time
), ordered AS (
  SELECT *, max(e) OVER (PARTITION BY trace_id, pid ORDER BY s, e
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM child
), grouped AS (
  SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
              OVER (PARTITION BY trace_id, pid ORDER BY s, e) AS island
  FROM ordered
), islands AS (
  SELECT trace_id, pid, min(s) AS s, max(e) AS e FROM grouped GROUP BY trace_id, pid, island
), covered AS (
  SELECT trace_id, pid, sum(date_diff('microsecond', s, e)) / 1000.0 AS ms FROM islands GROUP BY trace_id, pid
)
"""

# Rebuilding the table (rather than UPDATE) is twice as fast and sorts it by time in the same pass.
SELF_TIME_SQL = f"""
CREATE OR REPLACE TABLE spans AS
WITH {_COVERED.format(spans="spans")}
SELECT spans.* EXCLUDE (self_ms), spans.duration_ms - coalesce(covered.ms, 0) AS self_ms
FROM spans LEFT JOIN covered ON spans.trace_id = covered.trace_id AND spans.span_id = covered.pid
ORDER BY spans.start_time
"""

# Stored spans that are the parent of a new span and overlap it: their self time changes with this load.
STORED_PARENTS_SQL = """
CREATE OR REPLACE TEMP TABLE stored_parents AS
SELECT DISTINCT spans.trace_id, spans.span_id, spans.start_time, spans.end_time
FROM spans JOIN {new} c ON c.trace_id = spans.trace_id AND c.parent_span_id = spans.span_id
WHERE {overlapping} AND c.end_time > spans.start_time AND c.start_time < spans.end_time
"""

# The same, for the spans a load touches: its new spans and the stored spans of their traces that overlap
# them or their stored parents; covered time is kept only for the new spans and those parents, the spans
# whose every child lies in that window.
SELF_TIME_COVERED_SQL = f"""
CREATE OR REPLACE TEMP TABLE self_time_covered AS
WITH touched AS (
  SELECT trace_id, span_id, parent_span_id, start_time, end_time FROM {{new}}
  UNION ALL
  SELECT trace_id, span_id, parent_span_id, start_time, end_time
  FROM spans SEMI JOIN (SELECT DISTINCT trace_id FROM {{new}}) t USING (trace_id) WHERE {{overlapping}}
), {_COVERED.format(spans="touched")}
SELECT trace_id, pid, ms FROM covered
SEMI JOIN (SELECT trace_id, span_id AS pid FROM {{new}} UNION ALL SELECT trace_id, span_id FROM stored_parents) a
USING (trace_id, pid)
"""
