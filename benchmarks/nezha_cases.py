"""Nezha's labelled faults → incidents the engine can investigate, and what each case had to go on.

An incident says only what an alert would: the entry service (where customers' requests arrive) and a
window from the injection to the end of the telemetry recorded for it. The labelled pod stays in the
case's truth, out of the store. Telemetry files cover about two minutes after each injection.

The baseline is the stretch just before the injection. construct_data's fault-free minutes lie hours
away from most faults, and the engine takes its baseline a fixed distance before the window, so the
adapter sets that distance for the whole run: half the shortest spacing between two injections, with no
gap (the injection instant is known). On the published data that keeps every baseline clear of the
previous case's recorded minutes, which end about 2.5 minutes after its injection.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from inquest.benchmarks.nezha_layout import DateFolder, Fault
from inquest.config import InvestigationConfig
from inquest.core import Incident, Window
from inquest.tools.backends.embedded_schema import count_of
from inquest.tools.backends.embedded_sql import literal

# With no next injection to bound it, a case's files are looked for this far after its injection.
CASE_HORIZON = timedelta(minutes=10)
# When no file at all was recorded for a case, its window is this long (about what the others get).
FALLBACK_WINDOW = timedelta(minutes=2)
DEFAULT_BASELINE_MINUTES = 3


@dataclass(frozen=True)
class Case:
    fault: Fault
    incident: Incident
    spans: int  # in the incident window
    logs: int
    metric_points: int
    baseline_spans: int
    trace_coverage: float  # share of the window's 10-second slots with at least one span
    notes: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.fault.id

    @property
    def modalities(self) -> tuple[str, ...]:
        have = (("traces", self.spans), ("logs", self.logs), ("metrics", self.metric_points))
        return tuple(name for name, count in have if count)


def baseline_minutes(faults: Sequence[Fault]) -> int:
    """Half the shortest spacing between consecutive injections on a day, in whole minutes (at least 1)."""
    by_day: dict[str, list[datetime]] = defaultdict(list)
    for fault in faults:
        by_day[fault.date].append(fault.injected_at)
    spacing = [(b - a).total_seconds() / 60 for times in by_day.values()
               for a, b in zip(sorted(times), sorted(times)[1:])]
    return max(1, int(min(spacing) // 2)) if spacing else DEFAULT_BASELINE_MINUTES


def benchmark_settings(faults: Sequence[Fault]) -> InvestigationConfig:
    return InvestigationConfig(baseline_minutes=baseline_minutes(faults), baseline_gap_minutes=0)


def _count(con: duckdb.DuckDBPyConnection, table: str, column: str, window: Window) -> int:
    return count_of(con, f"SELECT count(*) FROM {table} WHERE {column} >= {literal(window.start)} "
                         f"AND {column} < {literal(window.end)}")


def _trace_coverage(con: duckdb.DuckDBPyConnection, window: Window, slot_s: int = 10) -> float:
    """Traces exist for parts of some windows only: how much of this one they cover."""
    slots = count_of(con, f"""
        SELECT count(DISTINCT floor(epoch(start_time - {literal(window.start)}) / {slot_s})) FROM spans
        WHERE start_time >= {literal(window.start)} AND start_time < {literal(window.end)}""")
    return round(min(1.0, slots / max(1.0, -(-window.duration.total_seconds() // slot_s))), 2)


def _telemetry_end(con: duckdb.DuckDBPyConnection, start: datetime, until: datetime) -> datetime | None:
    row = con.execute(f"""
        SELECT max(t) FROM (
          SELECT max(end_time) AS t FROM spans WHERE start_time >= {literal(start)} AND start_time < {literal(until)}
          UNION ALL
          SELECT max(timestamp) FROM logs WHERE timestamp >= {literal(start)} AND timestamp < {literal(until)})""").fetchone()
    return row[0].replace(tzinfo=start.tzinfo) if row and row[0] is not None else None


def case_window(con: duckdb.DuckDBPyConnection, folder: DateFolder, start: datetime,
                next_injection: datetime | None, file_overrun_s: float) -> tuple[Window, list[str]]:
    """From the injection to the end of the telemetry recorded for it. The case's files are those named
    from the injection's minute up to (not including) the next injection's minute: that one is the next
    case's lead-in. The window ends where the last of them ends, and never after the next injection."""
    first = start.replace(second=0, microsecond=0)
    stop = next_injection.replace(second=0, microsecond=0) if next_injection else first + CASE_HORIZON
    files = [f for f in folder.minute_files if first <= f.minute < stop]
    fallback = start + FALLBACK_WINDOW
    if next_injection is not None and start < next_injection < fallback:
        fallback = next_injection
    if not files:
        return Window(start, fallback), ["no telemetry file after the injection: window set to "
                                         f"{(fallback - start).total_seconds() / 60:.1f} min"]
    last = max(f.minute for f in files)
    end = last + timedelta(seconds=file_overrun_s)
    recorded = _telemetry_end(con, start, last + timedelta(minutes=1))
    if recorded is not None:
        end = max(end, recorded)
    if next_injection is not None:
        end = min(end, next_injection)
    if end <= start:
        return Window(start, fallback), ["the case's files end before the injection: window set to "
                                         f"{(fallback - start).total_seconds() / 60:.1f} min"]
    return Window(start, end), []


def plan_case(con: duckdb.DuckDBPyConnection, folder: DateFolder, fault: Fault, next_injection: datetime | None,
              entry_service: str, file_overrun_s: float, settings: InvestigationConfig) -> Case:
    start = fault.injected_at
    window, notes = case_window(con, folder, start, next_injection, file_overrun_s)
    notes = [*fault.notes, *notes]
    baseline = Window(start - timedelta(minutes=settings.baseline_minutes + settings.baseline_gap_minutes),
                      start - timedelta(minutes=settings.baseline_gap_minutes))
    spans, logs = _count(con, "spans", "start_time", window), _count(con, "logs", "timestamp", window)
    metric_points = _count(con, "metrics", "timestamp", window)
    baseline_spans = _count(con, "spans", "start_time", baseline)
    coverage = _trace_coverage(con, window) if spans else 0.0
    if spans and not baseline_spans:
        notes.append("traces in the window but none in the baseline: every service's span work looks new")
    if not metric_points:
        notes.append("no metric point falls inside the window")
    incident = Incident(
        id=fault.id, title=f"Nezha benchmark fault {fault.date} #{fault.index}: symptoms at {entry_service}",
        service=entry_service, started_at=start, window=window,
    )
    return Case(fault=fault, incident=incident, spans=spans, logs=logs, metric_points=metric_points,
                baseline_spans=baseline_spans, trace_coverage=coverage, notes=tuple(notes))


def plan_cases(con: duckdb.DuckDBPyConnection, folders: Sequence[tuple[DateFolder, Sequence[Fault]]],
               entry_service: str, file_overrun_s: float, settings: InvestigationConfig) -> list[Case]:
    cases = []
    for folder, faults in folders:
        ordered = sorted(faults, key=lambda f: f.injected_at)
        for fault, following in zip(ordered, [*ordered[1:], None]):
            cases.append(plan_case(con, folder, fault, following.injected_at if following else None,
                                   entry_service, file_overrun_s, settings))
    return cases


def incident_rows(cases: Sequence[Case]) -> list[tuple[Any, ...]]:
    """Rows for the store's incidents table, so `investigate <case-id>` works on the converted store too."""
    return [(c.incident.id, c.incident.title, c.incident.service, c.incident.started_at.replace(tzinfo=None),
             c.incident.window.start.replace(tzinfo=None), c.incident.window.end.replace(tzinfo=None),
             json.dumps(list(c.incident.symptoms)), None, None, None) for c in cases]  # no pinned baseline
