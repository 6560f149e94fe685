"""Rows of the store's telemetry tables as Arrow columns, which DuckDB reads in place.

The parsers' rows hold exactly the types of the columns (str, int, float, datetime, and dicts for JSON
columns), so a batch converts column by column in C: no text is written and parsed again as it was
through CSV. JSON values are serialised with sorted keys, so the same attributes always read alike and
compare as text (the metrics table's natural key includes them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from inquest.tools.backends.embedded_schema import TABLES

_ARROW_TYPES = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(),
                "INTEGER": pa.int32(), "BIGINT": pa.int64(), "JSON": pa.string()}
# The tables the OTLP parser fills; the others (changes, incidents) are small and come from YAML and
# NDJSON whose values may need the casts that the CSV route makes.
COLUMNAR_TABLES = ("spans", "logs", "metrics")
SCHEMAS = {table: pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in TABLES[table]])
           for table in COLUMNAR_TABLES}
_SCALARS = (str, int, bool, type(None))


def arrow_batch(table: str, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """The rows (in TABLES[table] column order) as one Arrow table; raises pa.ArrowException (or
    OverflowError) when a value does not fit its column."""
    schema = SCHEMAS[table]
    columns = list(zip(*rows)) if rows else [()] * len(schema)
    arrays = [pa.array([json_text(v) for v in values] if kind == "JSON" else values, type=field.type)
              for field, (_, kind), values in zip(schema, TABLES[table], columns)]
    return pa.Table.from_arrays(arrays, schema=schema)


def json_text(value: Any) -> str | None:
    """`json.dumps(value, sort_keys=True)` without spaces or ASCII escapes, as the CSV route wrote it.
    orjson writes flat objects of strings, integers and booleans identically and ten times faster; it
    writes some floats differently (1e-05 as 0.00001) and refuses integers beyond 64 bits, so those go
    to the standard library."""
    if value is None:
        return None
    if type(value) is dict and all(type(v) in _SCALARS for v in value.values()):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except (orjson.JSONEncodeError, TypeError):
            pass
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
