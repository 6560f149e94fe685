"""The PetShop benchmark adapter: from the published archive (or an unpacked copy) to scored cases.

    prepared = prepare(Path("petshop.tar.xz"), Path(".inquest/petshop"))

`prepare` unpacks an archive once and converts each traffic regime into its own embedded store: the
metrics of every issue file, the regime's call graph (graph.csv) as declared dependencies, and one
incident per labelled issue carrying only what the alert carried (the alerting node, the alert time, a
title). The root cause stays in the case. A second run with the same files reuses the stores.

One store per regime because each regime has its own call graph. The baseline is the stretch of each
issue file before the alert (the dataset's own layout: a couple of intervals), so the whole run uses one
baseline length, taken from the files; nothing else is set for this dataset.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from inquest.agents.base import Deps
from inquest.benchmarks.archive import files_fingerprint, open_dataset
from inquest.benchmarks.petshop_layout import Issue, Layout, Regime, discover, read_graph
from inquest.benchmarks.petshop_load import MetricsFile, read_metrics, unique_rows
from inquest.config import Config, InvestigationConfig
from inquest.core import Incident, Window
from inquest.errors import CodeHistoryError, InputError
from inquest.tools.backends.embedded_schema import StoreWriter
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

STORE_FORMAT = 3  # bump when the conversion's output changes, so cached stores are rebuilt
MARKER_NAME = "petshop-stores.json"
MODALITIES = ("metrics",)  # what the dataset has; traces and logs it has not


@dataclass(frozen=True)
class Case:
    issue: Issue
    incident: Incident
    store_path: Path
    metric_points: int  # in the incident window
    baseline_points: int
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.issue.id

    @property
    def truth_service(self) -> str:
        return self.issue.root_cause

    @property
    def split(self) -> str:
        return self.issue.split

    @property
    def group(self) -> str:
        return self.issue.regime

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("metrics",) if self.metric_points else ()


@dataclass
class RegimeStore:
    regime: str
    store_path: Path
    edges: int
    points: int
    dropped: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0


@dataclass
class Prepared:
    layout: Layout
    cases: list[Case]
    stores: list[RegimeStore]
    settings: InvestigationConfig
    skipped: list[str]  # labels that could not be used, and why
    timings: dict[str, float] = field(default_factory=dict)
    reused: dict[str, bool] = field(default_factory=dict)


def _window_of(issue: Issue, timestamps: list[datetime], interval: timedelta) -> tuple[Window, list[str]]:
    """From the interval holding the alert (_holding) to the end of the last interval the file holds."""
    start = _holding(issue.alerted_at, timestamps, interval)
    after = [t for t in timestamps if t >= start]
    if not after:
        return Window(start, start + interval), ["no interval after the alert in the file"]
    return Window(start, max(after) + interval), []


def _holding(alert: datetime, timestamps: list[datetime], interval: timedelta) -> datetime:
    """Where the incident window starts: at the interval holding the alert when most of that interval lies
    after the alert, else at the alert. A point stamped at an interval's start stands for the whole
    interval, so one that is mostly after the alert measured the incident, not what was normal before it
    (the faults of these files show in the interval that holds the alert when it starts within a couple of
    minutes before it)."""
    return max((t for t in timestamps if t <= alert and alert - t < interval / 2), default=alert)


def _interval(files: list[MetricsFile]) -> timedelta:
    steps = sorted((b - a) for f in files for a, b in zip(sorted(f.timestamps), sorted(f.timestamps)[1:]) if b > a)
    return steps[len(steps) // 2] if steps else timedelta(minutes=5)


def baseline_minutes(issues: list[Issue], files: list[MetricsFile]) -> int:
    """How far before the incident window the issue files reach (the longest lead-in, in whole minutes):
    the baseline is what the file holds before the window, and only that."""
    interval = _interval(files)
    leads = [(_holding(issue.alerted_at, f.timestamps, interval) - min(f.timestamps)).total_seconds() / 60
             for issue, f in zip(issues, files) if f.timestamps and min(f.timestamps) < issue.alerted_at]
    return max(1, math.ceil(max(leads))) if leads else 10


def _incident(issue: Issue, window: Window) -> Incident:
    title = f"{issue.target_node} {issue.target_metric} ({issue.target_statistic}) alert"
    return Incident(id=issue.id, title=title, service=issue.target_node, started_at=issue.alerted_at, window=window)


def _count(points: list[tuple[Any, ...]], window: Window) -> int:
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    return sum(1 for p in points if start <= p[0] < end)


def _incident_row(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.title, incident.service, incident.started_at.replace(tzinfo=None),
            incident.window.start.replace(tzinfo=None), incident.window.end.replace(tzinfo=None), "[]", None,
            None, None)  # no pinned baseline: the case's baseline comes from the run's settings


def _convert_regime(regime: Regime, files: list[MetricsFile], store_path: Path, interval: timedelta,
                    settings: InvestigationConfig) -> tuple[RegimeStore, list[Case]]:
    edges, bad_cells = read_graph(regime.graph_file)
    duplicates: Counter[str] = Counter()
    rows = unique_rows((p for f in files for p in f.points), duplicates)
    dropped = sum((f.dropped for f in files), Counter())
    if bad_cells:
        dropped["malformed graph cell"] += bad_cells
    cases = _plan_cases(regime, files, rows, store_path, interval, settings)
    building = store_path.with_name(store_path.name + ".building")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    with StoreWriter(building) as writer:
        writer.load("metrics", rows)
        writer.load("dependencies", [(a, b, f"petshop:{regime.name}/graph.csv") for a, b in edges])
        writer.load("incidents", [_incident_row(c.incident) for c in cases])
        writer.finish()
    os.replace(building, store_path)
    store = RegimeStore(regime.name, store_path, len(edges), len(rows), dict(dropped), sum(duplicates.values()))
    return store, cases


def _settings(layout: Layout, files: dict[str, list[MetricsFile]]) -> InvestigationConfig:
    issues = [i for r in layout.regimes for i in r.issues]
    flat = [f for r in layout.regimes for f in files[r.name]]
    return InvestigationConfig(baseline_minutes=baseline_minutes(issues, flat), baseline_gap_minutes=0)


def prepare(path: Path, work_dir: Path) -> Prepared:
    """Unpacks (when `path` is an archive), converts (unless the cached stores match the files) and
    plans the cases. Raises InputError when there is no PetShop layout or no usable label at all."""
    work_dir = Path(work_dir)
    path, timings, reused = open_dataset(path, work_dir)
    clock = time.perf_counter()
    layout = discover(path)
    if not layout.issues:
        raise InputError(f"{layout.root}: no usable labelled issue (train/ or test/ issue_N/target.json)")
    # Reading the files is cheap (a few hundred kB each); the stores are what the cache saves.
    files = {r.name: [read_metrics(i.metrics_file) for i in r.issues] for r in layout.regimes}
    settings = _settings(layout, files)
    key = files_fingerprint(layout.root, STORE_FORMAT)
    marker = work_dir / MARKER_NAME
    cached = json.loads(marker.read_text()) if marker.is_file() else {}
    stores, cases = [], []
    work_dir.mkdir(parents=True, exist_ok=True)
    reused["convert"] = cached.get("fingerprint") == key
    for regime in layout.regimes:
        store_path = work_dir / f"petshop-{regime.name}.duckdb"
        interval = _interval(files[regime.name])
        if reused["convert"] and store_path.is_file() and regime.name in cached.get("stores", {}):
            store = RegimeStore(**{**cached["stores"][regime.name], "store_path": store_path})
            rows = unique_rows((p for f in files[regime.name] for p in f.points), Counter())
            regime_cases = _plan_cases(regime, files[regime.name], rows, store_path, interval, settings)
        else:
            reused["convert"] = False
            store, regime_cases = _convert_regime(regime, files[regime.name], store_path, interval, settings)
        stores.append(store)
        cases.extend(regime_cases)
    marker.write_text(json.dumps({"fingerprint": key, "stores": {
        s.regime: {"regime": s.regime, "edges": s.edges, "points": s.points, "dropped": s.dropped,
                   "duplicates": s.duplicates, "store_path": str(s.store_path)} for s in stores}}, indent=1))
    timings["convert_s"] = round(time.perf_counter() - clock, 2)
    return Prepared(layout=layout, cases=cases, stores=stores, settings=settings, skipped=layout.skipped,
                    timings=timings, reused=reused)


def _plan_cases(regime: Regime, files: list[MetricsFile], rows: list[tuple[Any, ...]], store_path: Path, interval: timedelta,
                settings: InvestigationConfig) -> list[Case]:
    cases = []
    for issue, f in zip(regime.issues, files):
        window, notes = _window_of(issue, f.timestamps, interval)
        baseline = Window(window.start - timedelta(minutes=settings.baseline_minutes), window.start)
        cases.append(Case(issue, _incident(issue, window), store_path, _count(rows, window), _count(rows, baseline),
                          tuple(notes)))
    return cases


def _no_repository(service: str) -> Path:
    raise CodeHistoryError(f"the PetShop dataset ships no source repository (asked for {service!r})")


def store_deps(prepared: Prepared, base_dir: Path) -> dict[Path, Deps]:
    """One backend per regime store, all with the run's one configuration."""
    config = Config(base_dir=base_dir, investigation=prepared.settings)
    return {s.store_path: Deps(backend=EmbeddedStore(s.store_path), code=CodeHistory(_no_repository), config=config)
            for s in prepared.stores}
