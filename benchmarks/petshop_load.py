"""PetShop's wide metrics tables → the embedded store's metrics rows, with OpenTelemetry-style names.

A metrics.csv has three header rows (node, metric, statistic), a `unix_timestamp` row, then one row per
5-minute interval. Each (node, metric, statistic) column becomes a series of the node, stored as the
engine's other sources name it:

- latency (seconds, as the tracing service reports it) → `http.server.duration.<stat>` in ms
  (`p95` is the one the metrics specialist reads; Average is stored as `.avg`); a `…_remote` node's as
  `http.client.duration.<stat>`: X-Ray infers such a node from a caller's subsegments around its calls,
  so its latency is the caller's client-side measurement;
- requests (Sum per interval) → `http.server.request.rate`, per second over the interval;
- availability (% of requests answered) → `http.server.error.rate`, the failed fraction.

The original metric and statistic stay in `attributes` (`petshop.metric`, `petshop.statistic`).

Cells are judged one by one and never abort a load: an empty cell is no observation (not counted); a cell
that is not a finite number is dropped and counted as malformed; a latency or availability in an interval
where the node served no requests is not a measurement ("0.0 can mean no requests") and is dropped and
counted as such. The same point read twice (overlapping issue files) is kept once.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

LATENCY_STATS = {"Average": "avg", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
REMOTE_SUFFIX = "_remote"  # how the dataset names X-Ray's inferred `remote` nodes
HEADER_ROWS = 4  # node, metric, statistic, then the `unix_timestamp` label row


@dataclass(frozen=True)
class Point:
    at: datetime
    node: str
    name: str
    value: float
    unit: str
    metric: str  # the dataset's own metric and statistic, kept in attributes
    statistic: str

    def row(self) -> tuple[Any, ...]:
        return (self.at.replace(tzinfo=None), self.node, None, self.name, self.value, self.unit,
                {"petshop.metric": self.metric, "petshop.statistic": self.statistic})


@dataclass
class MetricsFile:
    points: list[Point] = field(default_factory=list)
    timestamps: list[datetime] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> cells


def _number(cell: str) -> float | None:
    value = float(cell)  # ValueError for text; the caller counts it
    return value if math.isfinite(value) else None


def _side(node: str) -> str:
    """Who measured a node's latency. X-Ray draws a `remote` node from the subsegments a caller records
    around its calls to a service that sends no segments of its own (an HTTP API, a load balancer): its
    timings are the caller's client-side view of that call, not a service's own work."""
    return "client" if node.endswith(REMOTE_SUFFIX) else "server"


def _convert(node: str, metric: str, statistic: str, value: float, interval_s: float) -> tuple[str, float, str] | None:
    if metric == "latency" and statistic in LATENCY_STATS:
        return f"http.{_side(node)}.duration.{LATENCY_STATS[statistic]}", value * 1000.0, "ms"
    if metric == "requests" and statistic == "Sum":
        return "http.server.request.rate", value / interval_s, "{request}/s"
    if metric == "availability" and statistic == "Average":
        return "http.server.error.rate", max(0.0, min(1.0, 1.0 - value / 100.0)), "1"
    return None


def _interval_s(timestamps: list[float]) -> float:
    steps = sorted(b - a for a, b in pairwise(timestamps) if b > a)
    return steps[len(steps) // 2] if steps else 300.0


def _columns(rows: list[list[str]]) -> list[tuple[int, str, str, str]]:
    nodes, metrics, stats = rows[0], rows[1], rows[2]
    width = min(len(nodes), len(metrics), len(stats))
    return [(i, nodes[i], metrics[i], stats[i]) for i in range(1, width) if nodes[i] and metrics[i] and stats[i]]


def _data_rows(rows: list[list[str]], dropped: Counter[str]) -> Iterator[tuple[float, list[str]]]:
    for row in rows[HEADER_ROWS - 1:]:
        if not row or row[0] in ("", "unix_timestamp"):
            continue
        try:
            stamp = _number(row[0])
        except ValueError:
            stamp = None
        if stamp is None:
            dropped["row without a timestamp"] += 1
            continue
        yield stamp, row


def read_metrics(path: Path) -> MetricsFile:
    out = MetricsFile()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < HEADER_ROWS:
        out.dropped["file without the three header rows"] += 1
        return out
    columns = _columns(rows)
    data = list(_data_rows(rows, out.dropped))
    interval = _interval_s(sorted(stamp for stamp, _ in data))
    served: dict[tuple[float, str], float] = {}  # (time, node) -> requests in the interval
    for stamp, row in data:
        for i, node, metric, _stat in columns:
            if metric == "requests" and i < len(row) and row[i]:
                try:
                    count = _number(row[i])
                except ValueError:
                    continue
                if count is not None:
                    served[(stamp, node)] = count
    for stamp, row in data:
        at = datetime.fromtimestamp(stamp, UTC)
        out.timestamps.append(at)
        for i, node, metric, stat in columns:
            cell = row[i] if i < len(row) else ""
            if not cell:
                continue
            try:
                value = _number(cell)
            except ValueError:
                value = None
            if value is None:
                out.dropped["malformed or non-finite cell"] += 1
                continue
            if metric != "requests" and served.get((stamp, node), 1.0) == 0.0:
                out.dropped["no requests in the interval"] += 1
                continue
            converted = _convert(node, metric, stat, value, interval)
            if converted is None:
                out.dropped[f"unknown metric {metric}/{stat}"] += 1
                continue
            name, number, unit = converted
            out.points.append(Point(at, node, name, number, unit, metric, stat))
    return out


def unique_rows(points: Iterable[Point], duplicates: Counter[str]) -> list[tuple[Any, ...]]:
    """One row per (time, node, name): issue files of one regime may overlap in time."""
    seen: set[tuple[datetime, str, str]] = set()
    rows = []
    for p in points:
        key = (p.at, p.node, p.name)
        if key in seen:
            duplicates["metric points"] += 1
            continue
        seen.add(key)
        rows.append(p.row())
    return rows
