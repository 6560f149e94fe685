"""Small embedded stores built span by span, for tests that need a precise trace shape."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from inquest.tools.backends.embedded_schema import StoreWriter


@dataclass(frozen=True)
class S:
    """One span: who, what, when (ms after the trace starts) and for how long."""

    span_id: str
    parent: str | None
    service: str
    name: str
    kind: str
    start_ms: float
    duration_ms: float
    peer: str | None = None


def span_rows(trace_id: str, at: datetime, spans: Iterable[S]) -> list[tuple]:
    rows = []
    for s in spans:
        start = at + timedelta(milliseconds=s.start_ms)
        rows.append((trace_id, f"{trace_id}-{s.span_id}", f"{trace_id}-{s.parent}" if s.parent else None,
                     s.service, f"{s.service}-pod", s.name, s.kind, start,
                     start + timedelta(milliseconds=s.duration_ms), s.duration_ms, "UNSET", None, None, None, None,
                     s.peer, None, None, None, None, None))
    return rows


def write_store(path: Path, spans: Iterable[tuple], metrics: Iterable[tuple] = ()) -> Path:
    with StoreWriter(path) as writer:
        writer.load("spans", spans)
        writer.load("metrics", metrics)
        writer.finish()
    return path
