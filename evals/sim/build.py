"""Builds a scenario's world: the shop's git repository and a store holding its afternoon of telemetry.

    world = build_world(LIBRARY["stripe_outage"], Path("data/stripe"), seed=7, scale=1.0)
    store = EmbeddedStore(world.store_path)

Telemetry covers 12:00-14:00 UTC of the scenario's day. Traces are a sample of the shop's traffic
(`base_rate * scale` requests a second of the NOMINAL_RATE it serves): spans, logs and RED metrics count
what was sampled; saturation (CPU, pools, queues) and the database's own statement statistics reflect the
full traffic, so a world looks the same at any scale, only sparser. Spans and logs are written as
tab-separated text and bulk-copied into DuckDB (StoreWriter.load's csv path costs ~14 us a row, too slow
for spans); the small tables go through StoreWriter.load, and StoreWriter.finish derives self time.
Everything is deterministic from the seed; the repository's SHAs depend on the scenario only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inquest.evals.sim.fleet import Fleet
from inquest.evals.sim.load import NOMINAL_RATE, LoadModel
from inquest.evals.sim.model import (
    ChangeSpec,
    MemoryLeak,
    Scenario,
    ScenarioError,
    TableLock,
    Truth,
    When,
    hms,
)
from inquest.evals.sim.pod_logs import expired_token_logs, migration_logs, start_up_logs, versions_by_rollout
from inquest.evals.sim.repo import build_repo, change_rows, initial_versions
from inquest.evals.sim.requests import Requests
from inquest.evals.sim.shop import SHOP
from inquest.evals.sim.signals import evaluate_alert, incident_row, metric_rows, query_stat_rows
from inquest.evals.sim.traffic import Clock
from inquest.evals.sim.tsv import copy_tsv, row_counts
from inquest.evals.sim.validate import validate
from inquest.tools.backends.embedded_schema import StoreWriter

T0, T1 = hms(12, 0), hms(14, 0)
STORE_NAME, REPO_NAME = "store.duckdb", "shop-repo"


@dataclass(frozen=True)
class SimWorld:
    store_path: Path
    repo_path: Path
    incident_id: str
    truth: Truth
    commits: dict[str, str]  # change id -> commit SHA
    rows: dict[str, int]
    requests: int
    seconds: float


def _first_effect(scenario: Scenario, changes: dict[str, ChangeSpec]) -> int:
    starts = []
    for effect in scenario.effects:
        when: When = effect.when
        if when.after is not None:
            starts.append(changes[when.after].at)
        else:
            assert when.start is not None  # When holds exactly one of the two
            starts.append(when.start)
    return min(starts)


@dataclass
class Simulation:
    """The simulated afternoon in memory, before anything is written: what the store is made from."""

    scenario: Scenario
    fleet: Fleet
    load: LoadModel
    requests: Requests
    clock: Clock
    sampled: float  # the share of the shop's requests the traces hold


def simulate(scenario: Scenario, seed: int, scale: float, spans: Callable[[list[str]], object]) -> Simulation:
    """Runs the scenario's afternoon, handing span lines to `spans` as they are made (they are most of the
    data); logs, metric and statement aggregates stay in the returned Simulation. No I/O."""
    topology = scenario.topology or SHOP
    leaks = [e for e in scenario.effects if isinstance(e, MemoryLeak)]
    fleet = Fleet(topology, scenario.changes, leaks, seed, T1)
    load = LoadModel(topology, scenario.effects, fleet, T0, T1).run()
    clock = Clock(scenario.day.isoformat(), 11, 15)
    requests = Requests(scenario, topology, fleet, load, clock, seed, scale, T0, T1)
    requests.run(spans)
    start_up_logs(requests, fleet, versions_by_rollout(scenario, initial_versions()))
    migration_logs(requests, [e for e in scenario.effects if isinstance(e, TableLock)])
    expired_token_logs(requests, seed)
    return Simulation(scenario, fleet, load, requests, clock, scenario.base_rate * scale / NOMINAL_RATE)


def _write_store(scenario: Scenario, path: Path, seed: int, scale: float, shas: dict[str, str]) -> tuple[dict, int]:
    changes = {c.id: c for c in scenario.changes}
    locks = [e for e in scenario.effects if isinstance(e, TableLock)]
    with StoreWriter(path) as writer, tempfile.TemporaryDirectory(prefix="inquest-sim-") as tmp:
        writer.con.execute("SET checkpoint_threshold = '16GB'")
        spans = Path(tmp) / "spans.tsv"
        with open(spans, "w", encoding="utf-8") as out:
            sim = simulate(scenario, seed, scale, out.writelines)
        copy_tsv(writer, "spans", spans)
        requests, clock = sim.requests, sim.clock
        logs = Path(tmp) / "logs.tsv"
        logs.write_text("".join(requests.logs), encoding="utf-8")
        copy_tsv(writer, "logs", logs)
        metrics = Path(tmp) / "metrics.tsv"
        with open(metrics, "w", encoding="utf-8") as out:
            out.writelines("\t".join("" if v is None else str(v) for v in row) + "\n" for row in metric_rows(
                requests, sim.load, sim.fleet, scenario.topology or SHOP, clock, seed, T0, T1))
        copy_tsv(writer, "metrics", metrics)
        writer.load("db_query_stats", query_stat_rows(requests, sim.load, locks, clock, seed, T0, sim.sampled))
        writer.load("changes", change_rows(scenario.changes, scenario.day, shas))
        fired = evaluate_alert(scenario.alert, requests, T0, T1, _first_effect(scenario, changes))
        writer.load("incidents", [incident_row(scenario.alert, fired, clock, T1)])
        writer.finish()
        counts = row_counts(writer)
    return counts, requests.requests


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def build_world(scenario: Scenario, data_dir: Path, *, seed: int = 7, scale: float = 1.0) -> SimWorld:
    """Builds the scenario into `data_dir` (replacing what is there): `store.duckdb` and `shop-repo/`."""
    if scale <= 0:
        raise ScenarioError(f"scenario {scenario.name}: scale must be positive, got {scale}")
    validate(scenario)
    started = time.perf_counter()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    tag = f".building-{os.getpid()}-{time.monotonic_ns()}"
    store_tmp, repo_tmp = data_dir / (STORE_NAME + tag), data_dir / (REPO_NAME + tag)
    try:
        shas = build_repo(scenario, repo_tmp)
        counts, requests = _write_store(scenario, store_tmp, seed, scale, shas)
        store, repo = data_dir / STORE_NAME, data_dir / REPO_NAME
        _remove(Path(str(store) + ".wal"))
        for final, built in ((store, store_tmp), (repo, repo_tmp)):
            _remove(final)
            os.replace(built, final)
    finally:
        for leftover in (store_tmp, Path(str(store_tmp) + ".wal"), repo_tmp):
            _remove(leftover)
    world = SimWorld(store, repo, scenario.alert.incident_id, scenario.truth, shas, counts, requests,
                     round(time.perf_counter() - started, 2))
    (data_dir / "world.sim.json").write_text(json.dumps(
        {"scenario": scenario.name, "seed": seed, "scale": scale, "incident": world.incident_id,
         "commits": shas, "rows": counts, "requests": requests, "seconds": world.seconds}, indent=2) + "\n",
        encoding="utf-8")
    return world

