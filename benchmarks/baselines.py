"""Trivial methods run beside the engine on the same cases in the same run, so every figure stands next to
what a simple method gets on the same data. Each asks the same backend the engine asks, through the
protocol, and returns services best first; none has a constant fitted to a dataset.

- `largest_change`: the service whose latency or error series moved furthest from its baseline, in units
  of the baseline's own robust spread (median and MAD, floored at 5% of the level). Every service with
  such a series is ranked.
- `latest_change`: the service of the most recent change (deploy, config, flag…) before the alert, then
  earlier ones. A dataset without changes gives it nothing to name: every case is a miss, and the
  report says so rather than hiding the row.
- `random_walk`: personalised PageRank from the alerting service over the call graph (edges seen in spans
  plus declared dependencies), each step towards a callee weighted by how anomalous the callee is
  (`largest_change`'s score): the classic MicroRCA/RCD-style walk that ends where anomalies bottom out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import networkx as nx

from inquest.core import Incident, Scope, Window
from inquest.errors import BackendError
from inquest.tools.backends.protocol import TelemetryBackend

MAD_SCALE = 1.4826  # MAD → standard deviation for normal data
RELATIVE_FLOOR = 0.05  # a spread never counts as smaller than 5% of the level it wobbles around
FRACTION_FLOOR = 0.01  # nor, for a fraction (error rate), than one percentage point
# Series the change baseline reads: latency (any percentile or mean) and error rate, by OTel-style name.
LATENCY_AND_ERRORS = (
    "http.server.duration.avg", "http.server.duration.p50", "http.server.duration.p90", "http.server.duration.p95",
    "http.server.duration.p99", "http.server.request.duration", "http.client.duration.p90",
    "http.client.duration.p95", "http.client.duration.p99", "http.server.error.rate",
)
DAMPING = 0.85  # PageRank's customary damping factor
NAMES = {"largest_change": "largest latency/error change", "latest_change": "most recent change before the alert",
         "random_walk": "random walk on the call graph"}


@dataclass(frozen=True)
class Answer:
    method: str
    ranked: tuple[str, ...]
    note: str = ""  # why the method had nothing to say, when it had not


def anomaly_scores(backend: TelemetryBackend, scope: Scope) -> dict[str, float]:
    """service → the largest robust z of any of its latency/error series (window median vs baseline)."""
    now = backend.metric_stats(scope.window, LATENCY_AND_ERRORS).records()
    before = {(r["service"], r["host"], r["name"]): r for r in backend.metric_stats(scope.baseline,
                                                                                      LATENCY_AND_ERRORS).records()}
    scores: dict[str, float] = defaultdict(float)
    for row in now:
        old = before.get((row["service"], row["host"], row["name"]))
        if old is None or row["median"] is None or old["median"] is None:
            continue
        floor = FRACTION_FLOOR if row["name"].endswith("error.rate") else 0.0
        spread = max(MAD_SCALE * (old["mad"] or 0.0), RELATIVE_FLOOR * abs(old["median"]), floor, 1e-9)
        scores[row["service"]] = max(scores[row["service"]], (row["median"] - old["median"]) / spread)
    return dict(scores)


def _by_score(scores: dict[str, float]) -> tuple[str, ...]:
    return tuple(s for s, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))


def largest_change(backend: TelemetryBackend, incident: Incident, scope: Scope) -> Answer:
    scores = anomaly_scores(backend, scope)
    return Answer("largest_change", _by_score(scores), "" if scores else "no latency or error series to compare")


def latest_change(backend: TelemetryBackend, incident: Incident, scope: Scope) -> Answer:
    before_alert = Window(scope.lookback.start, incident.started_at + timedelta(microseconds=1))
    changes = backend.changes(before_alert).items
    ranked = tuple(dict.fromkeys(c.service for c in sorted(changes, key=lambda c: c.at, reverse=True) if c.service))
    return Answer("latest_change", ranked, "" if ranked else "no change recorded before the alert")


def call_graph_edges(backend: TelemetryBackend, window: Window) -> set[tuple[str, str]]:
    """Caller → callee edges: those spans show in the window, and those declared (a dependency file)."""
    edges = {(r["caller"], r["callee"]) for r in backend.call_graph(window).records()}
    edges |= {(r["caller"], r["callee"]) for r in backend.dependencies().records()}
    return {(a, b) for a, b in edges if a and b and a != b}


def random_walk(backend: TelemetryBackend, incident: Incident, scope: Scope) -> Answer:
    scores = anomaly_scores(backend, scope)
    edges = call_graph_edges(backend, scope.window)
    if not edges or incident.service not in {n for e in edges for n in e}:
        return Answer("random_walk", (), "no call graph reaching the alerting service")
    graph = nx.DiGraph()
    for caller, callee in edges:
        graph.add_edge(caller, callee, weight=max(scores.get(callee, 0.0), 0.0) + 1e-3)
    for node in list(graph.nodes):  # a walker at a service with no anomalous callee stays there
        graph.add_edge(node, node, weight=max(scores.get(node, 0.0), 0.0) + 1e-3)
    rank = nx.pagerank(graph, alpha=DAMPING, personalization={incident.service: 1.0}, weight="weight")
    walked = tuple(s for s, _ in sorted(rank.items(), key=lambda kv: (-kv[1], kv[0])))
    # Services the graph never mentions follow, by their own change.
    return Answer("random_walk", walked + tuple(s for s in _by_score(scores) if s not in rank))


METHODS: dict[str, Callable[[TelemetryBackend, Incident, Scope], Answer]] = {
    "largest_change": largest_change, "latest_change": latest_change, "random_walk": random_walk,
}


def run_baselines(backend: TelemetryBackend, incident: Incident, scope: Scope,
                  methods: Sequence[str] = tuple(METHODS)) -> dict[str, Answer]:
    answers = {}
    for method in methods:
        try:
            answers[method] = METHODS[method](backend, incident, scope)
        except BackendError as exc:  # a baseline that cannot ask is a miss with a reason, not an abort
            answers[method] = Answer(method, (), f"could not ask the store: {exc}")
    return answers
