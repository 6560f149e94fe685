"""The demo world: an online shop's telemetry on 2026-11-03 (11:30-14:40 UTC) and its git repository.

At 13:58 orders v2.14.0 ships an N+1 price lookup and drops a planner hint; the extra database time
exhausts orders' connection pool and about half of all checkouts fail (INC-1042). Around it sit the
distractions a real afternoon has: other deploys, a config change, a feature flag, a slow search
endpoint, SMTP hiccups, declined cards, and an earlier false alarm (INC-1039). With `inject=False` the
orders deploy is harmless and nothing is wrong at all.

    world = ensure_demo_world(Path("data"))   # builds once, then reuses
    store = EmbeddedStore(world.store_path)

It is the simulator's `n_plus_one_deploy` scenario (evals/scenarios.py): the simulator's shop (shop.py,
shop_code.py, people.py) on the demo's own afternoon and request flow (demo_*.py), which keep its
content seed-stable. Everything is deterministic from `seed`. The day's traffic is simulated in fixed
time segments by worker processes (demo_segments.py), each writing its spans and logs as tab-separated
text (tsv.py) that is bulk-copied into the store while the next segments run (metrics, 37k rows, take the
same path). The small tables go through StoreWriter.load, and StoreWriter.finish derives self time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from inquest.evals.sim.demo_base import BUCKET, T_START, Aggregates, make_pods
from inquest.evals.sim.demo_flow import SEGMENTS
from inquest.evals.sim.demo_metrics import metric_rows, query_stat_rows
from inquest.evals.sim.demo_repo import DAY, build_shop_repo, changes
from inquest.evals.sim.demo_segments import Segments
from inquest.evals.sim.model import hms
from inquest.evals.sim.planted import PLANTED_SECRETS
from inquest.evals.sim.repo import change_rows
from inquest.evals.sim.signals import p95
from inquest.evals.sim.tsv import copy_tsv, row_counts
from inquest.tools.backends.embedded_schema import StoreWriter

__all__ = ["DemoWorld", "build_demo_world", "ensure_demo_world", "PLANTED_SECRETS", "GUILTY_CHANGE_ID",
           "INCIDENT_ID"]

GUILTY_CHANGE_ID = "dep-orders-2.14.0"
INCIDENT_ID = "INC-1042"
STORE_NAME, REPO_NAME, MARKER_NAME = "demo.duckdb", "shop-repo", "demo-world.json"
# Bump whenever the generator's output changes, so ensure_demo_world rebuilds stale worlds.
WORLD_FORMAT = 2


@dataclass(frozen=True)
class DemoWorld:
    store_path: Path
    repo_path: Path
    guilty_change_id: str | None
    guilty_commit: str | None
    incident_id: str


def _at(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute)


def _incident_rows(traffic: Aggregates) -> list[tuple]:
    if traffic.inject:  # the alert quotes what the data shows
        first, last = (hms(14, 0) - T_START) // BUCKET, (hms(14, 35) - T_START) // BUCKET
        durations = [d for b in range(first, last) for d in traffic.red_durations.get(("checkout", b), [])]
        errors = sum(traffic.red_errors.get(("checkout", b), 0) for b in range(first, last))
        rate, slow = errors / max(1, len(durations)), p95(durations) / 1000 if durations else 0.0
    else:  # the same page, fired on a healthy system: the agents must find nothing
        rate, slow = 0.49, 1.7  # what the faulty world (seed 7, full scale) shows
    return [
        (INCIDENT_ID, "Checkout failing: 5xx rate above 5% on checkout", "checkout", _at(11, 3, 14, 7),
         _at(11, 3, 13, 55), _at(11, 3, 14, 35),
         json.dumps([f"checkout 5xx rate {rate:.0%} (SLO 0.1%)", f"POST /checkout p95 {slow:.1f} s"]), "acme/shop#812"),
        ("INC-1039", "frontend p95 latency alert (flapping)", "frontend", _at(11, 3, 12, 35), _at(11, 3, 12, 25),
         _at(11, 3, 12, 45), json.dumps(["frontend p95 above 800 ms for 2 minutes"]), "acme/shop#797"),
    ]


def _write_store(path: Path, seed: int, scale: float, inject: bool, repo_path: Path) -> tuple[dict, Aggregates, dict]:
    """Builds the shop repository and the store; returns ({deploy id: SHA}, aggregates, row counts)."""
    with StoreWriter(path) as writer, tempfile.TemporaryDirectory(prefix="inquest-world-") as tmp:
        # No checkpoint until finish(): checkpoints while loading would compress row groups to disk
        # that finish() reads back and rewrites anyway.
        writer.con.execute("SET checkpoint_threshold = '16GB'")
        writer.con.execute("SET enable_progress_bar = false")
        segments = Segments(seed, scale, inject, Path(tmp))
        try:
            segments.start()
            shas = build_shop_repo(repo_path, inject=inject)  # meanwhile, in this process
            total = Aggregates(make_pods(seed), inject)
            for segment in range(SEGMENTS):
                total.add(segments.wait(segment))
                # DuckDB parses this segment while the workers simulate the next ones.
                copy_tsv(writer, "spans", Path(tmp) / f"spans-{segment}.tsv")
        finally:
            segments.stop()
        copy_tsv(writer, "logs", *(Path(tmp) / f"logs-{segment}.tsv" for segment in range(SEGMENTS)))
        metrics = Path(tmp) / "metrics.tsv"
        with open(metrics, "w", encoding="utf-8") as out:
            out.writelines("\t".join("" if value is None else str(value) for value in row) + "\n"
                           for row in metric_rows(total, seed))
        copy_tsv(writer, "metrics", metrics)
        writer.load("db_query_stats", query_stat_rows(total, seed))
        writer.load("changes", change_rows(changes(inject), DAY, shas))
        writer.load("incidents", [(*row, None, None) for row in _incident_rows(total)])  # no pinned baseline
        writer.finish()
        counts = row_counts(writer)
    return shas, total, counts


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def build_demo_world(data_dir: Path, *, seed: int = 7, scale: float = 1.0, inject: bool = True) -> DemoWorld:
    """Builds the world into `data_dir` (replacing any there): `demo.duckdb`, `shop-repo/` and a marker
    file written last, so a half-built world is never taken for a complete one."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tag = f".building-{os.getpid()}-{time.monotonic_ns()}"
    store_tmp, repo_tmp = data_dir / (STORE_NAME + tag), data_dir / (REPO_NAME + tag)
    try:
        shas, traffic, counts = _write_store(store_tmp, seed, scale, inject, repo_tmp)
        world = DemoWorld(store_path=data_dir / STORE_NAME, repo_path=data_dir / REPO_NAME,
                          guilty_change_id=GUILTY_CHANGE_ID if inject else None,
                          guilty_commit=shas[GUILTY_CHANGE_ID] if inject else None, incident_id=INCIDENT_ID)
        marker = data_dir / MARKER_NAME
        _remove(marker)
        _remove(Path(str(world.store_path) + ".wal"))  # a stale log must never replay onto the new file
        for final, built in ((world.store_path, store_tmp), (world.repo_path, repo_tmp)):
            _remove(final)
            os.replace(built, final)
        description = {"format": WORLD_FORMAT, "seed": seed, "scale": float(scale), "inject": inject,
                       "guilty_change_id": world.guilty_change_id, "guilty_commit": world.guilty_commit,
                       "incident_id": world.incident_id, "commits": shas, "rows": counts,
                       "requests": traffic.requests, "build_seconds": round(time.perf_counter() - started, 2)}
        marker_tmp = data_dir / (MARKER_NAME + tag)
        marker_tmp.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
        os.replace(marker_tmp, marker)
        return world
    finally:
        for leftover in (store_tmp, Path(str(store_tmp) + ".wal"), repo_tmp):
            _remove(leftover)


def read_marker(data_dir: Path) -> dict | None:
    """What the marker says about the world in `data_dir`, or None when there is no complete world."""
    data_dir = Path(data_dir)
    try:
        description = json.loads((data_dir / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (data_dir / STORE_NAME).is_file() or not (data_dir / REPO_NAME / ".git").is_dir():
        return None
    return description


def ensure_demo_world(data_dir: Path, *, seed: int = 7, scale: float = 1.0, inject: bool = True) -> DemoWorld:
    """The world in `data_dir` (by default: seed 7, full scale, fault injected), built only when it is
    missing, incomplete, or was built by another version of the generator or with other settings."""
    data_dir = Path(data_dir)
    wanted = {"seed": seed, "scale": float(scale), "inject": inject}
    description = read_marker(data_dir)
    if description is None or description.get("format") != WORLD_FORMAT or any(
            description.get(key) != value for key, value in wanted.items()):
        return build_demo_world(data_dir, seed=seed, scale=scale, inject=inject)
    return DemoWorld(store_path=data_dir / STORE_NAME, repo_path=data_dir / REPO_NAME,
                     guilty_change_id=description["guilty_change_id"], guilty_commit=description["guilty_commit"],
                     incident_id=description["incident_id"])
