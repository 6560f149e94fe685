"""SQL literals for the embedded store: values written into a statement, so the statement kept as evidence
is exactly what ran and can be pasted into `duckdb <file>` to reproduce it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inquest.core import Window, utc


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{utc(value).replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(literal(v) for v in value) + ")"
    return "'" + str(value).replace("'", "''") + "'"


def between(column: str, window: Window) -> str:
    return f"{column} >= {literal(window.start)} AND {column} < {literal(window.end)}"


def service_filter(service: str | None, column: str = '"service.name"') -> str:
    return "" if service is None else f" AND {column} = {literal(service)}"
