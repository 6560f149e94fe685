"""The Nezha benchmark adapter: from the published archive (or an unpacked copy) to scored cases.

    prepared = prepare(Path("nezha-onlineboutique.tar.xz"), Path(".inquest/nezha"))
    results = run_cases(prepared.cases, benchmark_deps(prepared.store_path, prepared.settings, work_dir))

`prepare` unpacks an archive once, converts every CSV into one embedded store (spans, logs, metrics
and one incident per labelled fault) and caches both in the work folder; a second run with the same
files reuses them. The modules beside this one do the parts: nezha_layout (files and labels),
nezha_load (CSV → store rows), nezha_cases (faults → incidents), nezha_bench (run and score),
nezha_report (text and JSON).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from inquest.benchmarks.archive import files_fingerprint, open_dataset
from inquest.benchmarks.nezha_cases import Case, benchmark_settings, incident_rows, plan_cases
from inquest.benchmarks.nezha_layout import DateFolder, Fault, Layout, discover, read_faults
from inquest.benchmarks.nezha_load import LoadSummary, load_layout
from inquest.config import InvestigationConfig
from inquest.errors import InputError
from inquest.tools.backends.embedded_schema import StoreWriter

# Bump when the conversion's output changes, so cached stores are rebuilt.
STORE_FORMAT = 2  # 2: the dependency.csv call graph in the dependencies table
STORE_NAME, MARKER_NAME = "nezha.duckdb", "nezha-store.json"


@dataclass
class Prepared:
    layout: Layout
    store_path: Path
    cases: list[Case]
    settings: InvestigationConfig
    entry_service: str
    summary: LoadSummary
    timings: dict[str, float] = field(default_factory=dict)  # seconds: unpack, convert (and plan)
    reused: dict[str, bool] = field(default_factory=dict)  # which steps came from the cache


def _faults(layout: Layout) -> list[tuple[DateFolder, list[Fault]]]:
    return [(folder, read_faults(folder)) for folder in layout.dates]


def _build(layout: Layout, store_path: Path, by_date: list[tuple[DateFolder, list[Fault]]], settings: InvestigationConfig,
           ) -> tuple[dict[str, Any], list[Case]]:
    building = store_path.with_name(store_path.name + ".building")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    with StoreWriter(building) as writer:
        summary, entry = load_layout(writer.con, layout)
        if entry is None:
            raise InputError(f"{layout.root}: no entry service: no front_service.csv and no root spans")
        writer.finish()
        cases = plan_cases(writer.con, by_date, entry, summary.file_overrun_s, settings)
        writer.load("incidents", incident_rows(cases))
        writer.con.execute("CHECKPOINT")
    os.replace(building, store_path)
    return {"entry_service": entry, "summary": asdict(summary)}, cases


def prepare(path: Path, work_dir: Path) -> Prepared:
    """Unpacks (when `path` is an archive), converts (unless the cached store matches the files) and
    plans the cases. Raises InputError naming the file when the layout or a label is unusable."""
    work_dir = Path(work_dir)
    path, timings, reused = open_dataset(path, work_dir)
    clock = time.perf_counter()
    layout = discover(path)
    by_date = _faults(layout)
    faults: list[Fault] = [f for _, fs in by_date for f in fs]
    if not faults:
        raise InputError(f"{layout.root}: no labelled faults (no <date>-fault_list.json with entries)")
    settings = benchmark_settings(faults)
    store_path, marker = work_dir / STORE_NAME, work_dir / MARKER_NAME
    key = files_fingerprint(layout.root, STORE_FORMAT)
    cached = json.loads(marker.read_text()) if marker.is_file() else {}
    reused["convert"] = cached.get("fingerprint") == key and store_path.is_file()
    if reused["convert"]:
        summary = LoadSummary(**cached["summary"])
        with duckdb.connect(str(store_path), read_only=True) as con:
            cases = plan_cases(con, by_date, cached["entry_service"], summary.file_overrun_s, settings)
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        built, cases = _build(layout, store_path, by_date, settings)
        cached = {"fingerprint": key, **built}
        marker.write_text(json.dumps(cached, indent=1))
        summary = LoadSummary(**cached["summary"])
    timings["convert_s"] = round(time.perf_counter() - clock, 2)
    return Prepared(layout=layout, store_path=store_path, cases=cases, settings=settings,
                    entry_service=cached["entry_service"], summary=summary, timings=timings, reused=reused)
