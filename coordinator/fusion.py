"""Anomaly-weighted, dependency-aware fusion. Pure: anomalies and a call graph in, a ranking of services out.

Two steps, each an established technique:

1. **Fuse per service.** Anomalies that derive from the same `source` are one fact and count once (the
   strongest). The same signal of a service measured twice (span latency and a latency metric) is still
   one fact, so each signal keeps its strongest source. Distinct signals (errors, latency, cpu, memory,
   log templates) are combined as a Euclidean norm: two equally strong signals say more than one, but
   not twice as much, since the signals of one service are seldom independent.
2. **Propagate along the call graph** with a personalised PageRank (MicroRCA's random walk on the
   anomaly-weighted graph). Failures and slowness travel up, from callee to caller, so the walker steps
   from a caller to a callee in proportion to the callee's own anomaly: a service whose anomaly is
   explained by an anomalous dependency below it hands its mass down. Load travels the other way, from
   caller to callee, so the walker steps from a callee to a caller in proportion to the caller's load
   anomaly (traffic entering at the edge, a caller amplifying its calls). The walk restarts at services
   in proportion to their fused anomaly, so where it settles is where the evidence points; an anomaly
   that a traversal from the alerting service down anomalous callees never reaches (the PetShop paper's
   traversal method) restarts it with less weight, since nothing links it to the symptom.

Traffic that moves inside the system is a symptom (something upstream sends more, or less), so an inner
service's traffic anomaly is no evidence against it; traffic at the entry service is load arriving from
outside and counts as load.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from inquest.core import Anomaly
from inquest.walk import WeightedGraph, pagerank

LOAD_SIGNALS = frozenset({"traffic", "amplification"})
# Signals a caller shows when something below it misbehaves (it waits, it relays the failure). Every other
# fault signal (cpu, memory, restarts, pools, queries, log templates) is the service's own: a dependency
# below cannot explain it away.
RELAYED_SIGNALS = frozenset({"latency", "errors"})
# What a service does per request depends on what it is asked: a caller whose code took another path
# sends other requests, and its callees' branches follow. So a callee's changed code path is explained
# by a caller whose own path changed (the reverse of relayed trouble, which a callee explains).
SHAPED_SIGNALS = frozenset({"code_path"})
# Chance the walk steps on rather than restarting. PageRank's customary 0.85 lets mass pile up in the
# sinks of a call graph (leaf services) whatever their own evidence; at 0.3 a walker takes about half a
# step on average: one hop of "explained by what is below it" counts, long chains do not. Chosen on the
# dev day of OnlineBoutique and the scenario library (0.1-0.4 rank alike there; 0.5 and above worse).
DAMPING = 0.3
# Every service keeps a sliver of restart mass and every callee a sliver of the walk, so services the
# evidence does not mention still get an order (by how close they sit below the anomalous ones)
# instead of vanishing. Small against any real anomaly (scores around 3 mean "clearly unusual").
BACKGROUND = 0.05


@dataclass(frozen=True)
class ServiceEvidence:
    """One service's fused anomaly: `fault` for what goes wrong in it (of which `relayed` is the part a
    dependency below could explain), `load` for the load it sends."""

    service: str
    fault: float
    load: float
    relayed: float
    shaped: float  # the part of `fault` a caller's changed code path could explain
    signals: tuple[tuple[str, float], ...]  # (signal, strongest score), strongest first

    @property
    def total(self) -> float:
        return math.hypot(self.fault, self.load)


@dataclass(frozen=True)
class ServiceRank:
    service: str
    mass: float  # stationary probability of the walk: sums to 1 over all services
    evidence: ServiceEvidence
    explained_by: str | None  # the anomalous dependency that took most of its mass, if any


def fuse(anomalies: Iterable[Anomaly], entries: Collection[str] = ()) -> dict[str, ServiceEvidence]:
    """Per service: one score per source (its max), one per signal (its strongest source), then the
    Euclidean norm of the signals, split into fault and load."""
    by_signal: dict[tuple[str, str], float] = defaultdict(float)
    for a in anomalies:
        signal = a.signal
        if signal == "traffic" and a.service not in entries:
            continue  # an inner service's traffic moves because of its callers: a symptom, not a fault
        key = (a.service, signal)
        by_signal[key] = max(by_signal[key], a.score)
    per_service: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (service, signal), score in by_signal.items():
        if score > 0:
            per_service[service].append((signal, score))
    fused = {}
    for service, signals in per_service.items():
        fault = math.sqrt(sum(s * s for sig, s in signals if sig not in LOAD_SIGNALS))
        load = math.sqrt(sum(s * s for sig, s in signals if sig in LOAD_SIGNALS))
        relayed = math.sqrt(sum(s * s for sig, s in signals if sig in RELAYED_SIGNALS))
        shaped = math.sqrt(sum(s * s for sig, s in signals if sig in SHAPED_SIGNALS))
        fused[service] = ServiceEvidence(service, fault, load, relayed, shaped,
                                         tuple(sorted(signals, key=lambda x: -x[1])))
    return fused


POWER = 2
# The restart weight kept by an anomaly the traversal from the alerting service does not reach (traversed).
# Chosen on the dev sets: OnlineBoutique's dev day keeps AS@1 0.875 at 0.3-0.5 and loses a case at 0.1
# (a quiet checkoutservice between frontend and a failing paymentservice); PetShop's train split ranks
# alike from 0 to 0.5. The mildest of the equals.
UNLINKED = 0.5


def _evidence(score: float) -> float:
    """How much a fused score weighs in the walk. A robust z of `score` is a log-likelihood ratio of about
    score²/2 against "as usual", so evidence grows with the square: two services at 3 do not outweigh
    one at 6."""
    return score ** POWER + BACKGROUND


def _walk_graph(services: Sequence[str], edges: Iterable[tuple[str, str]],
                fused: Mapping[str, ServiceEvidence]) -> WeightedGraph:
    fault = {s: fused[s].fault if s in fused else 0.0 for s in services}
    load = {s: fused[s].load if s in fused else 0.0 for s in services}
    shaped = {s: fused[s].shaped if s in fused else 0.0 for s in services}
    # The share of a caller's anomaly that waiting on or relaying from a dependency could explain: a
    # service with nothing unusual passes the walk on, one whose trouble is its own CPU keeps it.
    relayed = {s: (fused[s].relayed + BACKGROUND) / (fused[s].fault + BACKGROUND) if s in fused else 1.0
               for s in services}
    graph = WeightedGraph()
    graph.add_nodes_from(services)
    for service in services:  # staying put is as likely as the service's own anomaly
        graph.add_edge(service, service, _evidence(fused[service].total if service in fused else 0.0))
    for caller, callee in set(edges):
        if caller == callee:
            continue
        # Failure came from below, for the share of the caller's anomaly a dependency could explain; the
        # rest of that step stays with the caller, so a service whose trouble is its own holds its mass as
        # a leaf does, instead of losing it to whatever it calls just for having callees.
        graph.add_edge(caller, callee, _evidence(fault[callee]) * relayed[caller])
        graph.add_weight(caller, caller, _evidence(fault[callee]) * (1.0 - relayed[caller]))
        up = _evidence(load[caller]) - BACKGROUND if load[caller] > 0 else 0.0  # load came from above
        if shaped[caller] > 0 and shaped[callee] > 0:  # so did the requests that changed the callee's path
            up += _evidence(shaped[caller]) * shaped[callee] / fault[callee]
        if up > 0:
            graph.add_edge(callee, caller, up)
    return graph


def traversed(starts: Collection[str], edges: Iterable[tuple[str, str]],
              fused: Mapping[str, ServiceEvidence]) -> set[str]:
    """The anomalous services a traversal from where the symptom was seen reaches by stepping only to
    anomalous callees (the PetShop paper's traversal; MicroRCA's anomalous subgraph)."""
    callees: dict[str, set[str]] = defaultdict(set)
    for caller, callee in edges:
        if caller != callee:
            callees[caller].add(callee)
    seen, stack = set(starts), list(starts)
    while stack:
        for callee in callees[stack.pop()]:
            if callee not in seen and callee in fused and fused[callee].fault > 0:
                seen.add(callee)
                stack.append(callee)
    return seen & set(fused)


def propagate(fused: Mapping[str, ServiceEvidence], edges: Iterable[tuple[str, str]],
              services: Iterable[str] = (), starts: Collection[str] = ()) -> list[ServiceRank]:
    """Ranks every service of the graph (and every anomalous one) by the walk's stationary mass."""
    edges = [(a, b) for a, b in edges if a and b]
    names = sorted(set(services) | set(fused) | {s for e in edges for s in e})
    if not names:
        return []
    graph = _walk_graph(names, edges, fused)
    # An anomaly that no path of anomalous services links to the symptom explains it less well: its
    # restart weight is cut (UNLINKED), not dropped, since a quiet service in between may only be unmeasured.
    # A traversal that finds no anomalous callee at all says nothing, and changes nothing.
    reached = traversed(starts, edges, fused)
    linked = reached if reached - set(starts) else set(fused)
    restart = {s: _evidence(fused[s].total if s in fused else 0.0) * (1.0 if s in linked or s not in fused else UNLINKED)
               for s in names}
    mass = pagerank(graph, restart, alpha=DAMPING, max_iter=500, tol=1e-10)
    ranks = []
    for s in names:
        ranks.append(ServiceRank(s, mass[s], fused.get(s, ServiceEvidence(s, 0.0, 0.0, 0.0, 0.0, ())),
                                 _explained_by(s, graph, mass, fused)))
    return sorted(ranks, key=lambda r: (-r.mass, r.service))


def _explained_by(service: str, graph: WeightedGraph, mass: Mapping[str, float],
                  fused: Mapping[str, ServiceEvidence]) -> str | None:
    """The anomalous neighbour the walk hands most of this service's mass to, when it outranks it."""
    if service not in fused:
        return None
    best = None
    for other, weight in graph.out[service].items():
        if other == service or other not in fused or mass[other] <= mass[service]:
            continue
        if best is None or weight > best[1]:
            best = (other, weight)
    return best[0] if best else None


def entry_points(edges: Iterable[tuple[str, str]], entry_service: str | None = None) -> set[str]:
    """Where requests come in from outside: the service triage found, else the graph's roots."""
    if entry_service:
        return {entry_service}
    edges = list(edges)
    called = {callee for caller, callee in edges if caller != callee}
    return {caller for caller, _ in edges} - called


def rank_services(anomalies: Iterable[Anomaly], edges: Iterable[tuple[str, str]],
                  entry_service: str | None = None, services: Iterable[str] = (),
                  alerting: Collection[str] = ()) -> list[ServiceRank]:
    edges = list(edges)
    entries = entry_points(edges, entry_service)
    return propagate(fuse(anomalies, entries), edges, services, alerting or entries)
