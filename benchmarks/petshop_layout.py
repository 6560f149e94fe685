"""The PetShop dataset's files and labels (Hardt et al. 2023, amazon-science/petshop-root-cause-analysis).

    petshop/dataset/<regime>/graph.csv                  adjacency matrix: row calls column when the cell is non-zero
    petshop/dataset/<regime>/noissue/metrics.csv        fault-free operation (low and high traffic only)
    petshop/dataset/<regime>/{train,test}/issue_N/      metrics.csv around one issue, target.json its label

`target.json` holds the alert (`target`: node, metric, agg, timestamp) and the truth (`root_cause.node`);
its `metadata` says how the issue was injected, which names the cause, so nothing of it but the alert
ever reaches the store. A label that cannot be read is skipped and counted, never an abort.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inquest.errors import InputError

SPLITS = ("train", "test")  # the dataset's own split: train is where we may tune (dev), test is what we report
GRAPH_FILE, METRICS_FILE, TARGET_FILE = "graph.csv", "metrics.csv", "target.json"


@dataclass(frozen=True)
class Issue:
    regime: str
    split: str
    name: str  # issue_N
    folder: Path
    target_node: str  # where the alert fired
    target_metric: str  # latency or availability
    target_statistic: str  # Average, p90, ...
    alerted_at: datetime
    root_cause: str  # the truth: stays in the case, never in the store

    @property
    def id(self) -> str:
        return f"petshop-{self.regime}-{self.split}-{self.name}"

    @property
    def metrics_file(self) -> Path:
        return self.folder / METRICS_FILE


@dataclass
class Regime:
    name: str
    root: Path
    issues: list[Issue] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # label folders that could not be used, and why

    @property
    def graph_file(self) -> Path:
        return self.root / GRAPH_FILE


@dataclass
class Layout:
    root: Path  # the folder holding the regimes
    regimes: list[Regime]

    @property
    def issues(self) -> list[Issue]:
        return [i for r in self.regimes for i in r.issues]

    @property
    def skipped(self) -> list[str]:
        return [s for r in self.regimes for s in r.skipped]


def _is_regime(folder: Path) -> bool:
    return folder.is_dir() and (folder / GRAPH_FILE).is_file() and any((folder / s).is_dir() for s in SPLITS)


def find_root(path: Path) -> Path:
    """The folder whose children are the regimes: `path` itself, or petshop/dataset or dataset below it."""
    for candidate in (path, path / "dataset", path / "petshop" / "dataset"):
        if candidate.is_dir() and any(_is_regime(c) for c in candidate.iterdir()):
            return candidate
    raise InputError(f"{path}: no PetShop regimes (folders with graph.csv and train/ or test/) here, "
                     "nor under dataset/ or petshop/dataset/")


def _issue_order(folder: Path) -> tuple[int, str]:
    number = folder.name.rsplit("_", 1)[-1]
    return (int(number), folder.name) if number.isdigit() else (1 << 30, folder.name)


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: '{key}' is missing or not text")
    return value


def read_issue(regime: str, split: str, folder: Path) -> Issue:
    """One label; ValueError (naming the file and key) when it cannot be used."""
    where = str(folder / TARGET_FILE)
    try:
        raw = json.loads((folder / TARGET_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: unreadable ({exc})") from exc
    target, cause = (raw.get("target"), raw.get("root_cause")) if isinstance(raw, dict) else (None, None)
    if not isinstance(target, dict) or not isinstance(cause, dict):
        raise ValueError(f"{where}: needs objects 'target' and 'root_cause'")
    stamp, statistic = target.get("timestamp"), target.get("agg")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        raise ValueError(f"{where}: 'target.timestamp' is not a number of seconds")
    if not (folder / METRICS_FILE).is_file():
        raise ValueError(f"{folder}: no {METRICS_FILE}")
    return Issue(regime=regime, split=split, name=folder.name, folder=folder,
                 target_node=_text(target, "node", where), target_metric=_text(target, "metric", where),
                 target_statistic=statistic if isinstance(statistic, str) else "Average",
                 alerted_at=datetime.fromtimestamp(float(stamp), UTC),
                 root_cause=_text(cause, "node", where))


def read_regime(folder: Path) -> Regime:
    regime = Regime(folder.name, folder)
    for split in SPLITS:
        if not (folder / split).is_dir():
            continue
        for issue_folder in sorted((p for p in (folder / split).iterdir() if p.is_dir()), key=_issue_order):
            try:
                regime.issues.append(read_issue(folder.name, split, issue_folder))
            except ValueError as exc:
                regime.skipped.append(str(exc))
    return regime


def discover(path: Path) -> Layout:
    root = find_root(Path(path))
    regimes = [read_regime(f) for f in sorted(root.iterdir()) if _is_regime(f)]
    return Layout(root=root, regimes=regimes)


def read_graph(path: Path) -> tuple[list[tuple[str, str]], int]:
    """graph.csv (first row: callees; first column: callers; non-zero cell: an edge) → (edges, cells
    skipped as malformed)."""
    edges: list[tuple[str, str]] = []
    bad = 0
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return edges, bad
    callees = rows[0][1:]
    for row in rows[1:]:
        if not row or not row[0]:
            bad += 1 if row else 0
            continue
        for callee, cell in zip(callees, row[1:]):
            try:
                called = float(cell) != 0.0
            except ValueError:
                bad += 1
                continue
            if called and callee and callee != row[0]:
                edges.append((row[0], callee))
    return edges, bad
