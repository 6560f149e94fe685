"""Nezha's CSV files → the embedded store's tables, with OpenTelemetry column names.

DuckDB reads the CSVs itself and every transformation is SQL, so a day of spans loads in seconds. All
cells are read as text and converted with TRY_CAST: a malformed cell becomes a dropped row that the
summary counts, never an aborted load.

Data quirks handled here (true of the whole benchmark):
- consecutive minute files overlap by a few seconds: spans are kept once per (trace id, span id), log
  lines once per (pod, time, span, text), metric points once per (pod, time, name);
- a file cut off mid-line gives a row with missing cells: it is dropped and counted. Durations are
  end − start (exact to the nanosecond; the `Duration` column agrees, and is what a cut-off line loses);
- the trace CSV has no span kind or peer: a span whose parent is missing or runs in another service is
  the SERVER side of a call; one with a child in another service is the CLIENT side, and that child's
  service is its `peer.service`; the rest are INTERNAL. Spans carry no status, so none is an error;
- metric `TimeStamp` columns are corrupt in places (years ahead): the `Time` string is parsed instead;
- NaN or empty metric cells are no observation: the point is dropped, not stored as NULL;
- a pod's success-rate series that is 0 in every row is "not reported", not "everything failed".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import duckdb

from inquest.benchmarks.nezha_layout import Layout, pod_service
from inquest.tools.backends.embedded_schema import aggregate_row, count_of, quote

# Per-pod metric columns → (OTel-style name, unit, factor applied to the value). Names follow what the
# engine's other sources use (process.cpu.utilization as a 0..1 fraction, durations in ms); the original
# column is kept in attributes as `nezha.column`. Columns not listed keep their name under `nezha.`.
POD_METRICS: dict[str, tuple[str, str, float]] = {
    "CpuUsage(m)": ("container.cpu.usage", "{cpu}", 0.001),
    "CpuUsageRate(%)": ("process.cpu.utilization", "1", 0.01),
    "MemoryUsage(Mi)": ("process.memory.usage", "By", 1024.0 * 1024.0),
    "MemoryUsageRate(%)": ("container.memory.utilization", "1", 0.01),
    "SyscallRead": ("container.syscall.read", "{syscall}", 1.0),
    "SyscallWrite": ("container.syscall.write", "{syscall}", 1.0),
    "NetworkReceiveBytes": ("k8s.pod.network.io.receive", "By/s", 1.0),
    "NetworkTransmitBytes": ("k8s.pod.network.io.transmit", "By/s", 1.0),
    "PodClientLatencyP90(s)": ("http.client.duration.p90", "ms", 1000.0),
    "PodClientLatencyP95(s)": ("http.client.duration.p95", "ms", 1000.0),
    "PodClientLatencyP99(s)": ("http.client.duration.p99", "ms", 1000.0),
    "PodServerLatencyP90(s)": ("http.server.duration.p90", "ms", 1000.0),
    "PodServerLatencyP95(s)": ("http.server.duration.p95", "ms", 1000.0),
    "PodServerLatencyP99(s)": ("http.server.duration.p99", "ms", 1000.0),
    "PodWorkload(Ops)": ("http.server.request.rate", "{request}/s", 1.0),
    # A negative factor f stores 1 + f × value: a success rate in % becomes an error-rate fraction.
    "PodSuccessRate(%)": ("http.server.error.rate", "1", -0.01),
    "NodeCpuUsageRate(%)": ("k8s.node.cpu.utilization", "1", 0.01),
    "NodeMemoryUsageRate(%)": ("k8s.node.memory.utilization", "1", 0.01),
    "NodeNetworkReceiveBytes": ("k8s.node.network.io.receive", "By/s", 1.0),
}
# The entry point's own series (front_service.csv), reported per service rather than per pod.
FRONT_METRICS: dict[str, tuple[str, str, float]] = {
    "SuccessRate(%)": ("http.server.error.rate", "1", -0.01),
    "LatencyP50(s)": ("http.server.duration.p50", "ms", 1000.0),
    "LatencyP90(s)": ("http.server.duration.p90", "ms", 1000.0),
    "LatencyP95(s)": ("http.server.duration.p95", "ms", 1000.0),
    "LatencyP99(s)": ("http.server.duration.p99", "ms", 1000.0),
}
_FILE_MINUTE = re.compile(r"(\d{2})_(\d{2})_trace\.csv$")
_KEY_COLUMNS = ("Time", "TimeStamp", "PodName", "ServiceName", "filename")
_SUCCESS = ("PodSuccessRate(%)", "SuccessRate(%)")

# `2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305041286`: the wall-clock time to the microsecond, minus
# its UTC offset when one is written.
_OFFSET_MINUTES = ("(CASE regexp_extract(Time, ' ([+-])\\d{4}\\b', 1) WHEN '-' THEN -1 ELSE 1 END * "
                   "(coalesce(TRY_CAST(regexp_extract(Time, ' [+-](\\d{2})\\d{2}\\b', 1) AS INTEGER), 0) * 60 + "
                   "coalesce(TRY_CAST(regexp_extract(Time, ' [+-]\\d{2}(\\d{2})\\b', 1) AS INTEGER), 0)))")
_TIME_SQL = ("(TRY_CAST(regexp_extract(Time, '^(\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?)', 1) "
             f"AS TIMESTAMP) - to_minutes({_OFFSET_MINUTES}))")


@dataclass
class LoadSummary:
    files: dict[str, int] = field(default_factory=dict)  # kind -> files read
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows stored
    duplicates: dict[str, int] = field(default_factory=dict)  # kind -> rows dropped as overlap
    dropped: dict[str, int] = field(default_factory=dict)  # kind -> malformed or NaN rows dropped
    notes: list[str] = field(default_factory=list)
    # How far past the minute in its name a trace file reaches (median seconds): where a case's
    # telemetry ends when its last file holds nothing but trace ids.
    file_overrun_s: float = 0.0


def _files_sql(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _read_sql(paths: Sequence[Path]) -> str:
    # null_padding: a file cut short mid-line (a partial snapshot) yields a row with NULLs, which the
    # TRY_CASTs then drop and count, instead of a file the reader refuses. strict_mode off: a log message
    # with unescaped quotes (real in the dataset's log files) is read as its field's text instead of
    # failing the sniffer and the whole benchmark; ignore_errors: a row that still cannot be parsed is
    # skipped (DuckDB cannot count those with union_by_name; rows read but unusable are counted below).
    return (f"read_csv({_files_sql(paths)}, header=true, all_varchar=true, union_by_name=true, filename=true, "
            "null_padding=true, quote='\"', escape='\"', delim=',', strict_mode=false, ignore_errors=true)")


def _services_table(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """pod → service, computed once in Python so that SQL and the labels share one rule."""
    pods = [r[0] for r in con.execute(f"SELECT DISTINCT PodName FROM {source} WHERE PodName IS NOT NULL").fetchall()]
    con.execute("CREATE OR REPLACE TEMP TABLE pod_service (pod VARCHAR, service VARCHAR)")
    if pods:
        con.executemany("INSERT INTO pod_service VALUES (?, ?)", [(p, pod_service(p)) for p in pods])


def _measure_overrun(con: duckdb.DuckDBPyConnection, table: str, last: str, summary: LoadSummary) -> None:
    ends = con.execute(f"SELECT filename, {last} FROM {table} GROUP BY filename").fetchall()
    overruns = []
    for filename, end in ends:
        match = _FILE_MINUTE.search(str(filename))
        if match and end is not None:
            named = end.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
            seconds = (end - named).total_seconds()
            overruns.append((seconds + 43_200) % 86_400 - 43_200)  # a file named 00_00 may end on the day before
    if overruns:
        summary.file_overrun_s = round(median(overruns), 3)


def load_spans(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], summary: LoadSummary) -> None:
    summary.files["trace"] = len(paths)
    if not paths:
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_spans AS
        SELECT nullif(TraceID, '') AS trace_id, nullif(SpanID, '') AS span_id,
               CASE WHEN ParentID IS NULL OR ParentID IN ('', 'root') THEN NULL ELSE ParentID END AS parent_id,
               PodName, OperationName,
               TRY_CAST(StartTimeUnixNano AS BIGINT) AS start_ns, TRY_CAST(EndTimeUnixNano AS BIGINT) AS end_ns,
               filename
        FROM {_read_sql(paths)}""")
    _measure_overrun(con, "raw_spans", "make_timestamp(max(start_ns) // 1000)", summary)
    # Overlapping files repeat a span whole, so which copy is kept does not matter; min() keeps it
    # deterministic should two copies ever differ.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE clean_spans AS
        SELECT trace_id, span_id, min(parent_id) AS parent_id, min(PodName) AS PodName,
               min(OperationName) AS OperationName, min(start_ns) AS start_ns, min(end_ns) AS end_ns,
               count(*) AS copies
        FROM raw_spans
        WHERE trace_id IS NOT NULL AND span_id IS NOT NULL AND PodName IS NOT NULL
          AND start_ns IS NOT NULL AND end_ns IS NOT NULL AND end_ns >= start_ns
        GROUP BY trace_id, span_id""")
    total = count_of(con, "SELECT count(*) FROM raw_spans")
    kept, valid = aggregate_row(con, "SELECT count(*), coalesce(sum(copies), 0) FROM clean_spans")
    summary.dropped["trace"] = total - valid
    summary.duplicates["trace"] = valid - kept
    con.execute("DROP TABLE raw_spans")
    _services_table(con, "clean_spans")
    columns = ", ".join(quote(c) for c in (
        "trace_id", "span_id", "parent_span_id", "service.name", "host.name", "name", "kind", "start_time",
        "end_time", "duration_ms", "status_code", "peer.service"))
    # One join of every span with its parent gives both directions: whether the parent runs elsewhere
    # (this span serves a call) and, grouped by parent, which other service a span calls.
    con.execute(f"""
        INSERT INTO spans ({columns})
        WITH s AS (SELECT c.*, m.service FROM clean_spans c JOIN pod_service m ON c.PodName = m.pod),
        linked AS (
          SELECT s.*, p.service AS parent_service
          FROM s LEFT JOIN s p ON s.trace_id = p.trace_id AND s.parent_id = p.span_id),
        callee AS (
          SELECT trace_id, parent_id AS span_id, mode(service) AS service FROM linked
          WHERE parent_service <> service GROUP BY 1, 2),
        kinded AS (
          SELECT l.*, CASE WHEN l.parent_service IS NULL OR l.parent_service <> l.service THEN 'SERVER'
                           WHEN c.service IS NOT NULL THEN 'CLIENT' ELSE 'INTERNAL' END AS kind,
                 c.service AS callee
          FROM linked l LEFT JOIN callee c ON l.trace_id = c.trace_id AND l.span_id = c.span_id)
        SELECT trace_id, span_id, parent_id, service, PodName, OperationName, kind,
               make_timestamp(start_ns // 1000), make_timestamp(end_ns // 1000),
               (end_ns - start_ns) / 1e6, 'UNSET',
               CASE WHEN kind = 'CLIENT' THEN callee END
        FROM kinded""")
    summary.rows["spans"] = kept
    con.execute("DROP TABLE clean_spans")


# Severity: the JSON field when the line is structured, else the first level word in the text.
_INNER = "CASE WHEN json_valid(Log) AND json_extract_string(Log, '$.log') IS NOT NULL " \
         "THEN rtrim(json_extract_string(Log, '$.log'), chr(10)) ELSE Log END"
_LEVEL = ("upper(coalesce("
          "CASE WHEN json_valid(line) THEN coalesce(json_extract_string(line, '$.severity'), "
          "json_extract_string(line, '$.level'), json_extract_string(line, '$.levelname')) END, "
          "nullif(regexp_extract(line, '(?i)\\b(TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|SEVERE|CRITICAL|FATAL|PANIC)\\b', 1), '')))")
_SEVERITY_NUMBER = ("CASE level WHEN 'TRACE' THEN 1 WHEN 'DEBUG' THEN 5 WHEN 'INFO' THEN 9 WHEN 'NOTICE' THEN 10 "
                    "WHEN 'WARN' THEN 13 WHEN 'WARNING' THEN 13 WHEN 'ERROR' THEN 17 WHEN 'SEVERE' THEN 17 "
                    "WHEN 'CRITICAL' THEN 21 WHEN 'FATAL' THEN 21 WHEN 'PANIC' THEN 21 ELSE 0 END")


def load_logs(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], summary: LoadSummary) -> None:
    summary.files["log"] = len(paths)
    if not paths:
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_logs AS
        SELECT coalesce(make_timestamp(TRY_CAST(TimeUnixNano AS BIGINT) // 1000),
                        TRY_CAST(regexp_extract(Timestamp, '^(\\d{{4}}-\\d{{2}}-\\d{{2}}[ T]\\d{{2}}:\\d{{2}}:\\d{{2}}(\\.\\d{{1,6}})?)', 1)
                                 AS TIMESTAMP)) AS ts,
               nullif(TraceID, '') AS trace_id, nullif(SpanID, '') AS span_id, PodName, Container, Node, Log,
               filename
        FROM {_read_sql(paths)}""")
    total = count_of(con, "SELECT count(*) FROM raw_logs")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE clean_logs AS
        SELECT DISTINCT ON (PodName, ts, span_id, Log) * FROM raw_logs
        WHERE ts IS NOT NULL AND PodName IS NOT NULL AND Log IS NOT NULL""")
    malformed = count_of(con, "SELECT count(*) FROM raw_logs WHERE ts IS NULL OR PodName IS NULL OR Log IS NULL")
    kept = count_of(con, "SELECT count(*) FROM clean_logs")
    summary.dropped["log"], summary.duplicates["log"] = malformed, total - malformed - kept
    con.execute("DROP TABLE raw_logs")
    _services_table(con, "clean_logs")
    con.execute(f"""
        INSERT INTO logs
        WITH l AS (SELECT c.*, m.service, {_INNER} AS line FROM clean_logs c JOIN pod_service m ON c.PodName = m.pod),
        p AS (SELECT *, {_LEVEL} AS level,
                     CASE WHEN json_valid(line) THEN coalesce(json_extract_string(line, '$.message'),
                          json_extract_string(line, '$.msg'), line) ELSE line END AS body
              FROM l)
        SELECT ts, trace_id, span_id, coalesce(level, 'UNSPECIFIED'), {_SEVERITY_NUMBER}, service, PodName, body,
               json_object('k8s.container.name', Container, 'k8s.node.ip', Node)
        FROM p""")
    summary.rows["logs"] = kept
    con.execute("DROP TABLE clean_logs")


def _mapping_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE metric_names (kind VARCHAR, col VARCHAR, name VARCHAR, unit VARCHAR, "
                "factor DOUBLE)")
    rows = [("pod", c, *v) for c, v in POD_METRICS.items()] + [("front", c, *v) for c, v in FRONT_METRICS.items()]
    con.executemany("INSERT INTO metric_names VALUES (?, ?, ?, ?, ?)", rows)


def _value_columns(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[str]:
    described = con.execute(f"DESCRIBE SELECT * FROM {_read_sql(paths)}").fetchall()
    return [row[0] for row in described if row[0] not in _KEY_COLUMNS]


def _unpivoted(con: duckdb.DuckDBPyConnection, kind: str, paths: Sequence[Path], who: str) -> str | None:
    """One row per (file row, value column) with the cell's raw text."""
    columns = _value_columns(con, paths)
    if not columns:
        return None
    keep = ", ".join(quote(c) for c in columns)
    return f"""
        SELECT '{kind}' AS kind, who, Time, TimeStamp, col, raw FROM (
          UNPIVOT (SELECT {who} AS who, Time, TimeStamp, {keep} FROM {_read_sql(paths)})
          ON {keep} INTO NAME col VALUE raw)"""


def load_metrics(con: duckdb.DuckDBPyConnection, pod_files: Sequence[Path], front_files: Sequence[Path],
                 entry_service: str | None, summary: LoadSummary) -> None:
    summary.files["metric"] = len(pod_files) + len(front_files)
    pod = "coalesce(nullif(PodName, ''), regexp_extract(filename, '([^/\\\\]+)_metric\\.csv$', 1))"
    parts = [sql for sql in (_unpivoted(con, "pod", pod_files, pod) if pod_files else None,
                             _unpivoted(con, "front", front_files, "ServiceName") if front_files else None) if sql]
    if not parts:
        return
    _mapping_table(con)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_points AS
        SELECT kind, who, {_TIME_SQL} AS ts, TRY_CAST(TimeStamp AS BIGINT) AS stamp, col,
               TRY_CAST(raw AS DOUBLE) AS value
        FROM ({' UNION ALL '.join(parts)})""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE valid_points AS SELECT * FROM raw_points
        WHERE ts IS NOT NULL AND who IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)""")
    total, valid = (count_of(con, f"SELECT count(*) FROM {t}") for t in ("raw_points", "valid_points"))
    summary.dropped["metric"] = total - valid
    bad_stamps = count_of(con, "SELECT count(DISTINCT (kind, who, ts)) FROM valid_points WHERE stamp IS NOT NULL "
                          "AND abs(stamp - epoch(ts)) > 60")
    if bad_stamps:
        summary.notes.append(f"{bad_stamps} metric rows carry a TimeStamp more than a minute from their Time string; "
                             "the Time string is used")
    # A success rate of 0 in every row of a series was never measured: the pods served traffic meanwhile.
    unreported = con.execute(f"""
        SELECT kind, who, col FROM valid_points WHERE col IN {tuple(_SUCCESS)}
        GROUP BY 1, 2, 3 HAVING max(value) = 0 AND min(value) = 0""").fetchall()
    con.execute("CREATE OR REPLACE TEMP TABLE unreported (kind VARCHAR, who VARCHAR, col VARCHAR)")
    if unreported:
        con.executemany("INSERT INTO unreported VALUES (?, ?, ?)", unreported)
        summary.notes.append(f"{len(unreported)} success-rate series are 0 in every row: taken as not reported "
                             "and left out")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE clean_points AS
        SELECT DISTINCT ON (kind, who, ts, col) v.* FROM valid_points v ANTI JOIN unreported u USING (kind, who, col)""")
    measured = count_of(con, "SELECT count(*) FROM valid_points v ANTI JOIN unreported u USING (kind, who, col)")
    kept = count_of(con, "SELECT count(*) FROM clean_points")
    summary.duplicates["metric"] = measured - kept
    _services_table(con, "(SELECT who AS PodName FROM clean_points WHERE kind = 'pod')")
    front = "NULL" if entry_service is None else "'" + entry_service.replace("'", "''") + "'"
    con.execute(f"""
        INSERT INTO metrics
        SELECT p.ts,
               CASE WHEN p.kind = 'pod' THEN m.service ELSE coalesce({front}, lower(p.who)) END,
               CASE WHEN p.kind = 'pod' THEN p.who END,
               coalesce(n.name, 'nezha.' || p.col),
               CASE WHEN n.factor IS NULL THEN p.value WHEN n.factor < 0 THEN 1 + n.factor * p.value
                    ELSE n.factor * p.value END,
               coalesce(n.unit, ''),
               json_object('nezha.column', p.col)
        FROM clean_points p LEFT JOIN pod_service m ON p.kind = 'pod' AND p.who = m.pod
        LEFT JOIN metric_names n ON n.kind = p.kind AND n.col = p.col""")
    summary.rows["metrics"] = kept
    for table in ("raw_points", "valid_points", "clean_points", "unreported", "metric_names"):
        con.execute(f"DROP TABLE {table}")


def entry_service_name(con: duckdb.DuckDBPyConnection, front_files: Sequence[Path]) -> str | None:
    """The service front_service.csv speaks for: its ServiceName matched to a known service, ignoring case
    (`Frontend` → `frontend`), else the service most root spans belong to."""
    known: list[str] = [r[0] for r in con.execute('SELECT DISTINCT "service.name" FROM spans').fetchall()]
    if front_files:
        names = [r[0] for r in con.execute(f"SELECT DISTINCT ServiceName FROM {_read_sql(front_files)} "
                                           "WHERE ServiceName IS NOT NULL").fetchall()]
        for name in names:
            match = next((k for k in known if k.lower() == str(name).lower()), None)
            if match:
                return match
    roots = con.execute('SELECT "service.name" FROM spans WHERE parent_span_id IS NULL GROUP BY 1 '
                        "ORDER BY count(*) DESC LIMIT 1").fetchall()
    busiest: str | None = roots[0][0] if roots else None
    return busiest


def load_dependencies(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], summary: LoadSummary) -> None:
    """metric/dependency.csv (Source, Target, Weight) → the store's declared call graph, each edge once:
    what a graph-following method can use in the two thirds of the windows that have no spans. A row
    without both ends, or with a weight that is zero or not a number, is dropped and counted."""
    summary.files["dependency"] = len(paths)
    if not paths:
        return
    con.execute(f"""CREATE OR REPLACE TEMP TABLE raw_edges AS
        SELECT nullif(trim(Source), '') AS caller, nullif(trim(Target), '') AS callee,
               TRY_CAST(Weight AS DOUBLE) AS weight, filename FROM {_read_sql(paths)}""")
    total = count_of(con, "SELECT count(*) FROM raw_edges")
    con.execute("""INSERT INTO dependencies
        SELECT caller, callee, 'nezha:' || min(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2}/metric/[^/]+)$', 1))
        FROM raw_edges WHERE caller IS NOT NULL AND callee IS NOT NULL AND caller <> callee
          AND weight IS NOT NULL AND weight <> 0
        GROUP BY caller, callee""")
    usable = count_of(con, "SELECT count(*) FROM raw_edges WHERE caller IS NOT NULL AND callee IS NOT NULL "
                      "AND caller <> callee AND weight IS NOT NULL AND weight <> 0")
    summary.rows["dependencies"] = count_of(con, "SELECT count(*) FROM dependencies")
    summary.duplicates["dependency"] = usable - summary.rows["dependencies"]
    summary.dropped["dependency"] = total - usable
    con.execute("DROP TABLE raw_edges")


def load_layout(con: duckdb.DuckDBPyConnection, layout: Layout) -> tuple[LoadSummary, str | None]:
    """Loads every modality of every folder (faults and the fault-free stretch) into the store behind `con`.
    Returns what was loaded and the entry service."""
    summary = LoadSummary(notes=list(layout.notes))
    folders = list(layout.all_folders())
    load_spans(con, layout.files("trace"), summary)
    load_logs(con, layout.files("log"), summary)
    summary.files["traceid"] = len(layout.files("traceid"))
    front_files = [d.front_service for d in folders if d.front_service is not None]
    entry = entry_service_name(con, front_files)
    if entry is None and front_files:
        names = con.execute(f"SELECT DISTINCT lower(ServiceName) FROM {_read_sql(front_files)}").fetchall()
        entry = names[0][0] if names else None
    load_metrics(con, [p for d in folders for p in d.metric_files], front_files, entry, summary)
    load_dependencies(con, [d.root / "metric" / "dependency.csv" for d in folders
                            if (d.root / "metric" / "dependency.csv").is_file()], summary)
    return summary, entry
