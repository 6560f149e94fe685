"""OTLP/JSON trace lines read by DuckDB's own JSON reader: the common case of a span, checked and shaped in SQL.

Parsing each span into Python objects cost ~34 µs of CPU; DuckDB's reader (C++, yyjson, on all cores) turns a
chunk of export requests into the spans table's columns for a few. The per-line parser (otlp.py) stays the
authority: this path accepts a line only when every value in it has one of the plain forms exporters write
(hex ids, decimal nanosecond times, numeric enums, string/int/bool attributes) and gives every other line
back to it — a line that is not JSON, has a duplicate key or an unexpected type (DuckDB's reader refuses the
chunk, which is halved until the line is found), holds logs or metrics, a `null`, an escaped surrogate, a
base64 id, a double or array attribute, or a client span whose peer must be inferred (peers.py). So a
rejection still names its file and line, and a record reads the same whichever path read it.

Each value is read as raw JSON text, so a number where a string belongs is seen as one (DuckDB would
otherwise convert it silently); `null` and an absent key read alike here, hence lines with a null go back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from duckdb.func import FunctionNullHandling

from inquest.ingest.arrow_rows import SCHEMAS
from inquest.ingest.otlp import HOST_ATTRIBUTES, SPAN_COLUMNS, UNKNOWN_SERVICE
from inquest.ingest.peers import ADDRESS_ATTRIBUTES, CALLER_KINDS, INFERRED_FROM, URL_ATTRIBUTES, infer_peer
from inquest.lone_surrogates import has_lone_surrogate_escape

LINE_KEY = "inquest.line"  # written into each line's object so that rows name the line they came from
_PREFIX = '{"resourceSpans":'  # how the Collector's file exporter starts a line of spans

_VALUE = ("STRUCT(stringValue JSON, intValue JSON, doubleValue JSON, boolValue JSON, arrayValue JSON, "
          "kvlistValue JSON, bytesValue JSON)")
_ATTRIBUTES = f"STRUCT(key JSON, value {_VALUE})[]"
_SPAN = (f"STRUCT(traceId JSON, spanId JSON, parentSpanId JSON, name JSON, kind JSON, startTimeUnixNano JSON, "
         f"endTimeUnixNano JSON, attributes {_ATTRIBUTES}, status STRUCT(code JSON, message JSON))")
_COLUMNS = {LINE_KEY: "BIGINT", "resourceLogs": "JSON", "resourceMetrics": "JSON",
            "resourceSpans": f"STRUCT(resource STRUCT(attributes {_ATTRIBUTES}), scopeSpans STRUCT(spans {_SPAN}[])[], "
                             "instrumentationLibrarySpans JSON)[]"}


def _sql_list(values: Sequence[str], brackets: str = "[]") -> str:
    return brackets[0] + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + brackets[1]


# An attribute is kept as {k: its key as JSON text, v: its value as JSON text}; v is NULL when either is not in a
# plain form. Keys stay quoted: compared with quoted names, and sorted as text, which orders them as otlp.py's
# sorted keys do because a key holding a space, `!` or an escape (the characters that sort before the closing
# quote, or are written differently) is not plain.
_MACROS = """
CREATE OR REPLACE MACRO otlp_text(j) AS CASE WHEN j LIKE '"%' THEN json_extract_string(j, '$') END;
CREATE OR REPLACE MACRO otlp_int(j) AS CASE WHEN regexp_full_match(j, '-?[0-9]{1,18}|"-?[0-9]{1,18}"')
  THEN TRY_CAST(trim(j, '"') AS BIGINT) END;
CREATE OR REPLACE MACRO otlp_value(k, x) AS CASE
  WHEN NOT regexp_full_match(k, '"[^"\\\\ !]+"') THEN NULL
  WHEN (x.stringValue IS NOT NULL)::INT + (x.intValue IS NOT NULL)::INT + (x.doubleValue IS NOT NULL)::INT
     + (x.boolValue IS NOT NULL)::INT + (x.arrayValue IS NOT NULL)::INT + (x.kvlistValue IS NOT NULL)::INT
     + (x.bytesValue IS NOT NULL)::INT <> 1 THEN NULL
  WHEN x.stringValue IS NOT NULL THEN CASE
    WHEN NOT x.stringValue::VARCHAR LIKE '"%' THEN NULL
    WHEN contains(x.stringValue::VARCHAR, '\\') THEN to_json(json_extract_string(x.stringValue, '$'))::VARCHAR
    ELSE x.stringValue::VARCHAR END
  WHEN x.intValue IS NOT NULL THEN otlp_int(x.intValue::VARCHAR)::VARCHAR
  WHEN x.boolValue::VARCHAR IN ('true', 'false') THEN x.boolValue::VARCHAR
END;
CREATE OR REPLACE MACRO otlp_entries(attrs) AS
  list_transform(coalesce(attrs, []), lambda a: {'k': a.key::VARCHAR, 'v': otlp_value(a.key::VARCHAR, a.value)});
CREATE OR REPLACE MACRO otlp_keys(es) AS list_transform(es, lambda e: CASE WHEN e.v IS NOT NULL THEN e.k END);
CREATE OR REPLACE MACRO otlp_id(j, digits) AS CASE
  WHEN regexp_full_match(j, '"[0-9a-fA-F]{' || digits || '}"') AND NOT regexp_full_match(j, '"0+"')
  THEN lower(json_extract_string(j, '$')) END;
CREATE OR REPLACE MACRO otlp_micros(j) AS CASE
  WHEN regexp_full_match(j, '[0-9]{1,19}|"[0-9]{1,19}"') AND TRY_CAST(trim(j, '"') AS HUGEINT) > 0
  THEN TRY_CAST(TRY_CAST(trim(j, '"') AS HUGEINT) // 1000 AS BIGINT) END;
CREATE OR REPLACE MACRO otlp_enum(j, names) AS CASE
  WHEN j IS NULL THEN names[1]
  WHEN regexp_full_match(j, '[0-9]') AND TRY_CAST(j AS INT) < len(names) THEN names[TRY_CAST(j AS INT) + 1] END;
"""

_SPAN_KINDS = ("INTERNAL", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")  # otlp.SPAN_KINDS by number
_STATUS = ("UNSET", "OK", "ERROR")
_STATUS_COLUMN = "http.response.status_code"


def _quoted(key: str) -> str:
    return "'\"" + key + "\"'"


def _chosen(column: str) -> str:
    """The value of the first alias present, in SPAN_COLUMNS order (the current name before the older one)."""
    picks = ", ".join(f"m[{_quoted(alias)}]" for alias in SPAN_COLUMNS[column])
    return f"coalesce({picks})" if len(SPAN_COLUMNS[column]) > 1 else picks


def _column_plain(column: str) -> str:
    chosen = _chosen(column)
    if column == _STATUS_COLUMN:
        return f"coalesce(TRY_CAST({chosen} AS INT) BETWEEN 0 AND 999, {chosen} IS NULL)"
    return f"({chosen} IS NULL OR {chosen} LIKE '\"%')"


def _column_value(column: str) -> str:
    return f"TRY_CAST({_chosen(column)} AS INT)" if column == _STATUS_COLUMN else f"otlp_text({_chosen(column)})"


# The attributes infer_peer reads (all as strings: it ignores any other type), in _infer_peer's argument order.
INFER_FROM = (*ADDRESS_ATTRIBUTES, *URL_ATTRIBUTES, "rpc.service")
_INFER_ARGUMENTS = ", ".join(f"otlp_text(m[{_quoted(k)}])" for k in INFER_FROM)
_ALIAS_KEYS = "[" + ", ".join(_quoted(alias) for aliases in SPAN_COLUMNS.values() for alias in aliases) + "]"
_HOST = ", ".join(f"CASE WHEN rm[{_quoted(k)}] <> '\"\"' THEN rm[{_quoted(k)}] END" for k in HOST_ATTRIBUTES)
_RESOURCE_OWN = "[" + _quoted("service.name") + ", " + _quoted("host.name") + "]"

# Per span: whether it is in a plain form (else its line goes to otlp.py), and its row. A line, resource or
# scope with nothing under it still yields one row (span NULL), so that its own checks are counted.
_QUERY = f"""
WITH d AS (
  SELECT "{LINE_KEY}" AS line, resourceSpans IS NULL OR resourceLogs IS NOT NULL OR resourceMetrics IS NOT NULL AS bad,
         unnest(CASE WHEN len(resourceSpans) > 0 THEN resourceSpans ELSE [NULL] END) AS rs
  FROM read_json($file, format = 'newline_delimited', columns = $columns, maximum_object_size = $size)
), r0 AS (
  SELECT line, bad OR rs.instrumentationLibrarySpans IS NOT NULL AS bad, otlp_entries(rs.resource.attributes) AS ra,
         rs.scopeSpans AS scopes
  FROM d
), r1 AS (
  SELECT line, scopes, ra, otlp_keys(ra) AS rk, bad OR len(list_distinct(otlp_keys(ra))) <> len(ra) AS bad,
         CASE WHEN len(list_distinct(otlp_keys(ra))) = len(ra) THEN map_from_entries(ra) END AS rm
  FROM r0
), r AS (
  SELECT line, bad OR NOT coalesce(rm[{_quoted("service.name")}] LIKE '"%', true)
             OR NOT coalesce(coalesce({_HOST}) LIKE '"%', true) AS bad,
         coalesce(nullif(otlp_text(rm[{_quoted("service.name")}]), ''), '{UNKNOWN_SERVICE}') AS service,
         otlp_text(coalesce({_HOST})) AS host,
         list_filter(ra, lambda x: NOT list_contains({_RESOURCE_OWN}, x.k)) AS ra, rk,
         unnest(CASE WHEN len(scopes) > 0 THEN scopes ELSE [NULL] END) AS sc
  FROM r1
), s AS (
  SELECT line, bad, service, host, ra, rk, unnest(CASE WHEN len(sc.spans) > 0 THEN sc.spans ELSE [NULL] END) AS sp
  FROM r
), e AS (
  SELECT line, bad, service, host, ra, rk, sp, otlp_entries(sp.attributes) AS a FROM s
), k AS (
  SELECT *, otlp_keys(a) AS ak FROM e
), m AS (
  SELECT *, len(list_distinct(ak)) = len(a) AS plain, CASE WHEN len(list_distinct(ak)) = len(a) THEN map_from_entries(a) END AS m
  FROM k
), v AS (
  SELECT line, bad, sp IS NOT NULL AS is_span,
         otlp_id(sp.traceId::VARCHAR, 32) AS trace_id, otlp_id(sp.spanId::VARCHAR, 16) AS span_id,
         CASE WHEN sp.parentSpanId IS NULL OR sp.parentSpanId::VARCHAR = '""' THEN NULL
              ELSE otlp_id(sp.parentSpanId::VARCHAR, 16) END AS parent_span_id,
         sp.parentSpanId IS NOT NULL AND sp.parentSpanId::VARCHAR <> '""' AS has_parent,
         service, host, otlp_text(sp.name::VARCHAR) AS name,
         otlp_enum(sp.kind::VARCHAR, {_sql_list(_SPAN_KINDS)}) AS kind,
         otlp_micros(sp.startTimeUnixNano::VARCHAR) AS start_us, otlp_micros(sp.endTimeUnixNano::VARCHAR) AS end_us,
         otlp_enum(sp.status.code::VARCHAR, {_sql_list(_STATUS)}) AS status_code,
         sp.status.message::VARCHAR AS message_json,
         {", ".join(f'{_column_value(c)} AS "{c}"' for c in SPAN_COLUMNS)},
         plain AND {" AND ".join(_column_plain(c) for c in SPAN_COLUMNS)} AND NOT list_has_any(ak, rk) AS plain,
         list_filter(a, lambda x: NOT list_contains({_ALIAS_KEYS}, x.k)) AS rest, ra, m,
         list_contains(ak, {_quoted(INFERRED_FROM)}) OR list_contains(rk, {_quoted(INFERRED_FROM)}) AS marked
  FROM m
), p AS (
  SELECT * EXCLUDE (m, "peer.service"), coalesce("peer.service", inferred[2]) AS "peer.service",
         CASE WHEN inferred IS NOT NULL THEN [{{'k': {_quoted(INFERRED_FROM)}, 'v': to_json(inferred[1])::VARCHAR}}]
              ELSE [] END AS guessed
  FROM (SELECT *, CASE WHEN kind IN {_sql_list(CALLER_KINDS, "()")} AND "peer.service" IS NULL AND plain
                       THEN otlp_infer_peer({_INFER_ARGUMENTS}, "db.system") END AS inferred FROM v)
)
SELECT line, is_span, bad OR (is_span AND NOT coalesce(
           trace_id IS NOT NULL AND span_id IS NOT NULL AND (parent_span_id IS NOT NULL OR NOT has_parent)
           AND name <> '' AND kind IS NOT NULL AND start_us IS NOT NULL AND end_us IS NOT NULL AND end_us >= start_us
           AND status_code IS NOT NULL AND (message_json IS NULL OR message_json LIKE '"%') AND plain
           AND NOT marked, false)) AS to_python,
       trace_id, span_id, parent_span_id, service AS "service.name", host AS "host.name", name, kind,
       make_timestamp(start_us) AS start_time, make_timestamp(end_us) AS end_time,
       ((end_us - start_us)::DOUBLE / 1e6::DOUBLE) * 1e3::DOUBLE AS duration_ms,
       status_code, nullif(otlp_text(message_json), '') AS status_message,
       {", ".join(f'"{c}"' for c in SPAN_COLUMNS)},
       '{{' || array_to_string(list_transform(list_sort(list_concat(ra, rest, guessed)), lambda x: x.k || ':' || x.v), ',')
         || '}}' AS attributes
FROM p
"""


def _infer_peer(server_address: str | None, net_peer_name: str | None, url_full: str | None, http_url: str | None,
                rpc_service: str | None, db_system: str | None) -> list[str] | None:
    """peers.infer_peer for a caller span without peer.service: [the attribute it came from, the peer]. Called
    from SQL only for such spans, so the rules stay written once."""
    values = (server_address, net_peer_name, url_full, http_url, rpc_service)
    found = infer_peer("CLIENT", {k: v for k, v in zip(INFER_FROM, values) if v is not None}, db_system)
    return None if found is None else [found[1], found[0]]


class FastSpans:
    """Reads chunks of OTLP/JSON lines with DuckDB; one in-memory database for a whole ingest."""

    def __init__(self, threads: int | None = None) -> None:
        self.con = duckdb.connect(config={"threads": threads} if threads else {})
        self.con.execute("SET preserve_insertion_order = false")
        self.con.create_function("otlp_infer_peer", _infer_peer, [duckdb.sqltype("VARCHAR")] * (len(INFER_FROM) + 1),
                                 duckdb.sqltype("VARCHAR[]"), null_handling=FunctionNullHandling.SPECIAL)
        self.con.execute(_MACROS)
        self._folder = tempfile.TemporaryDirectory(prefix="inquest-otlp-")
        self._columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _COLUMNS.items()) + "}"

    def close(self) -> None:
        self.con.close()
        self._folder.cleanup()

    @staticmethod
    def eligible(text: str) -> bool:
        """Whether a line may take this path at all: a span export request, without a null or an escape
        that may decode to a lone surrogate (both read differently here)."""
        return text.startswith(_PREFIX) and "null" not in text and not has_lone_surrogate_escape(text)

    def read(self, lines: Sequence[tuple[int, str]]) -> tuple[pa.Table | None, list[int]]:
        """(the spans of the lines read here, the numbers of the lines otlp.py must read). A chunk DuckDB's
        reader refuses (not JSON, a duplicate key, a list where an object belongs) is halved until the
        refused line is alone, which then goes to otlp.py with its reason."""
        if not lines:
            return None, []
        try:
            return self._read(lines)
        except duckdb.Error:
            if len(lines) == 1:
                return None, [lines[0][0]]
        half = len(lines) // 2
        first, first_back = self.read(lines[:half])
        second, second_back = self.read(lines[half:])
        tables = [t for t in (first, second) if t is not None]
        return (pa.concat_tables(tables) if tables else None), first_back + second_back

    def _read(self, lines: Sequence[tuple[int, str]]) -> tuple[pa.Table | None, list[int]]:
        path = Path(self._folder.name) / "chunk.jsonl"
        size = 4 * max(len(text) for _, text in lines) + 64  # bytes: UTF-8 takes at most 4 per character
        with path.open("w", encoding="utf-8") as out:
            for number, text in lines:
                out.write(f'{{"{LINE_KEY}":{number},')
                out.write(text[1:])
                if not text.endswith("\n"):
                    out.write("\n")
        query = _QUERY.replace("$file", f"'{path}'").replace("$columns", self._columns).replace("$size", str(size))
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE fast AS {query}")
        back = sorted(r[0] for r in self.con.execute("SELECT DISTINCT line FROM fast WHERE to_python").fetchall())
        columns = ", ".join(f'"{name}"' for name in SCHEMAS["spans"].names)
        spans = self.con.sql(f"SELECT {columns} FROM fast WHERE is_span AND line NOT IN "
                             "(SELECT line FROM fast WHERE to_python)").to_arrow_table()
        self.con.execute("DROP TABLE fast")
        return (spans.cast(SCHEMAS["spans"]) if spans.num_rows else None), back
