"""Latency-only trace analysis: per-operation baselines, anomalous traces, spectrum and PageRank.

Many real traces carry no status codes, so the only thing spans say is time. Each operation's baseline
spans give its limits (the 99th percentile of duration and of exclusive time, never closer to the median
than the clock's resolution); a trace of the incident window with any span over its operation's
duration limit is failing, the rest pass. Services are then scored as spectrum-based fault localisation
scores program statements (MicroRank, TraceRCA): a service whose own time was over its limit in many
failing traces and few passing ones is suspect (Ochiai; DStar with star 2 reported beside it). A
personalised PageRank over the call graph, personalised and weighted by those scores (MicroRCA), moves
the rank from services that only relay slowness down to where it is added. A binomial test of how many
of a service's spans were over their exclusive-time limit, against the 1 % the 99th percentile lets
through, gives each service a p-value and a bounded anomaly score.

Pure functions over the backend's compact answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from inquest.core import ANOMALY_SCORE_CAP
from inquest.tails import binom_sf, norm_isf
from inquest.tools.backends.protocol import OperationLimit, Table
from inquest.walk import WeightedGraph, pagerank

LIMIT_QUANTILE = 0.99  # the baseline quantile operation_latency's limits are taken at
EXPECTED_OVER = 1.0 - LIMIT_QUANTILE  # the share of spans over a 99th-percentile limit when nothing changed
SIGNIFICANT_P = 1e-3  # many services are tested at once: only a p-value this small counts as a finding
DAMPING = 0.85  # PageRank's usual damping
BACKWARD = 0.1  # weight of a walk back up to the caller, relative to going down (MicroRCA's rho)


def operation_limits(baseline: Table, wider: Table | None = None) -> tuple[OperationLimit, ...]:
    """One limit per operation of the baseline; operations the baseline did not see take theirs from
    `wider` (a longer history). The floor is the shortest positive duration recorded, a lower bound on
    the resolution of the clock: a limit cannot be finer than what can be measured."""
    rows = {(r["service"], r["operation"], r["kind"]): r for r in (wider.records() if wider else [])}
    rows.update({(r["service"], r["operation"], r["kind"]): r for r in baseline.records()})
    tick = min((r["min_ms"] for r in rows.values() if r["min_ms"]), default=0.0)
    # Half a microsecond above the limit, finer than any span clock: a span exactly at its limit is not
    # over it in every store, whatever float rounding each applied to its stored times.
    return tuple(OperationLimit(service, operation, kind,
                                max(r["p99_ms"] or 0.0, (r["p50_ms"] or 0.0) + tick) + _TIE_MS,
                                max(r["self_p99_ms"] or 0.0, (r["self_p50_ms"] or 0.0) + tick) + _TIE_MS)
                 for (service, operation, kind), r in sorted(rows.items()))


_TIE_MS = 0.0005


@dataclass(frozen=True)
class ServiceSpectrum:
    service: str
    ochiai: float
    dstar: float
    judged: int  # its spans that had a limit
    slow_self: int  # of those, over their exclusive-time limit
    over_self_ms: float
    p_value: float
    pagerank: float = 0.0

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANT_P and self.ochiai > 0

    @property
    def anomaly_score(self) -> float:
        """The test's p-value as a one-sided normal z, bounded: 0 as usual, ~3 clearly unusual."""
        if self.slow_self <= EXPECTED_OVER * self.judged:
            return 0.0
        z = norm_isf(max(self.p_value, 1e-300))
        return round(min(max(z, 0.0), ANOMALY_SCORE_CAP), 2)


def slow_traces_p_value(failing: int, traces: int) -> float:
    """The chance of at least `failing` slow traces among `traces` when each root span passes its
    99th-percentile limit 1 % of the time, as in the baseline."""
    return binom_sf(failing - 1, traces, EXPECTED_OVER) if traces and failing else 1.0


def spectrum(table: Table) -> dict[str, ServiceSpectrum]:
    """Ochiai and DStar per service from trace_spectrum, counting a service as "involved" in a trace
    when its own time there was over the limit (anomalous invocations, as TraceRCA): a caller merely
    waiting on a slow callee is not involved."""
    out = {}
    # Every service with judged spans is one test: Bonferroni keeps the chance of blaming any of them by
    # luck at SIGNIFICANT_P, instead of SIGNIFICANT_P per service (borderline calls flipped on a percentile
    # estimate's rounding, e.g. between the embedded store and a cluster's bucketed percentiles).
    tests = max(sum(1 for r in table.records() if r["judged"]), 1)
    for r in table.records():
        failing, ef, ep = r["failing_traces"] or 0, r["own_ef"] or 0, r["own_ep"] or 0
        ochiai = ef / math.sqrt(failing * (ef + ep)) if failing and ef else 0.0
        dstar = ef ** 2 / (ep + (failing - ef)) if ef and (ep + failing - ef) else float(ef ** 2)
        judged, slow = int(r["judged"] or 0), int(r["slow_self"] or 0)
        p = min(1.0, tests * binom_sf(slow - 1, judged, EXPECTED_OVER)) if judged and slow else 1.0
        out[r["service"]] = ServiceSpectrum(r["service"], round(ochiai, 4), round(dstar, 2), judged, slow,
                                            float(r["over_self_ms"] or 0.0), p)
    return out


def personalised_pagerank(edges: Iterable[tuple[str, str]], scores: dict[str, ServiceSpectrum]) -> dict[str, float]:
    """PageRank personalised by each suspect's Ochiai score, on the call graph with edges towards callees
    weighted by the callee's score, a self-loop weighted by the service's own, and weaker edges back to
    callers. The walk drifts down anomalous paths and stays where time is added. Normalised to max 1."""
    weight = {s: v.ochiai if v.significant else 0.0 for s, v in scores.items()}
    if not any(weight.values()):
        return {}
    graph = WeightedGraph()
    graph.add_nodes_from(weight)
    for caller, callee in edges:
        if caller == callee:
            continue
        graph.add_edge(caller, callee, weight.get(callee, 0.0) + 1e-6)
        if not graph.has_edge(callee, caller):
            graph.add_edge(callee, caller, BACKWARD * weight.get(caller, 0.0) + 1e-6)
    for node in graph.nodes:
        graph.add_edge(node, node, weight.get(node, 0.0) + 1e-6)
    personal = {n: weight.get(n, 0.0) for n in graph.nodes}
    rank = pagerank(graph, personal, alpha=DAMPING)
    top = max(rank.values()) or 1.0
    return {n: round(v / top, 4) for n, v in rank.items()}
