"""The trace agent's latency-only view: asks the backend, records evidence, emits anomalies.

See trace_spectrum (per-operation limits, spectrum, PageRank) and trace_edges (which side of an edge).
When the baseline never saw an operation (traces collected only around incidents leave baselines
empty), its limits come from the history before the baseline back to the lookback's start: a fault
earlier in that history can only raise a limit, so it may hide a slowdown but never invents one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from inquest.agents.base import Notebook, ask_together
from inquest.agents.trace_edges import EdgeVerdict, judge_edges
from inquest.agents.trace_spectrum import (
    SIGNIFICANT_P,
    ServiceSpectrum,
    operation_limits,
    personalised_pagerank,
    slow_traces_p_value,
    spectrum,
)
from inquest.core import Anomaly, Scope, Window
from inquest.errors import BackendError
from inquest.tools.backends.protocol import Table, TelemetryBackend


@dataclass
class LatencyView:
    shares: dict[str, float] = field(default_factory=dict)  # service -> its share of the added time's blame
    evidence: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    edges: list[EdgeVerdict] = field(default_factory=list)
    cleared: set[str] = field(default_factory=set)  # slow only on the wire of a caller slow on all its calls


def _keys(table: Table, *columns: str) -> set[tuple[Any, ...]]:
    return {tuple(r[c] for c in columns) for r in table.records()}


def _history(scope: Scope) -> Window | None:
    return Window(scope.lookback.start, scope.baseline.start) if scope.lookback.start < scope.baseline.start else None


def _references(backend: TelemetryBackend, scope: Scope, ops_before: Table, ops_now: Table, edges_before: Table,
                edges_now: Table) -> tuple[Table | None, Table | None]:
    """operation_latency and edge_latency of the longer history, asked only when the baseline lacks
    operations or edges the window has."""
    history = _history(scope)
    need_ops = bool(_keys(ops_now, "service", "operation", "kind") - _keys(ops_before, "service", "operation", "kind"))
    need_edges = bool(_keys(edges_now, "caller", "callee", "client") - _keys(edges_before, "caller", "callee", "client"))
    if history is None or not (need_ops or need_edges):
        return None, None
    wider_ops, wider_edges = ask_together(lambda: backend.operation_latency(history),
                                          lambda: backend.edge_latency(history))
    return (wider_ops if need_ops else None), (wider_edges if need_edges else None)


def _merge_edges(before: Table, wider: Table | None) -> Table:
    if wider is None:
        return before
    known = _keys(before, "caller", "callee", "client")
    extra = tuple(row for row, r in zip(wider.rows, wider.records()) if (r["caller"], r["callee"], r["client"]) not in known)
    return Table(before.question, before.query + " ; " + wider.query, before.columns, before.rows + extra)


@dataclass(frozen=True)
class LatencyTables:
    """What the latency view reads: per-operation and per-edge latency in both windows (with the history's
    where the baseline lacked some), and the window's spectrum against the limits they give."""

    ops_before: Table
    ops_now: Table
    edges_before: Table
    edges_now: Table
    wider_ops: Table | None
    wider_edges: Table | None
    spectrum: Table | None  # None when there were no limits to judge against


def ask_latency(backend: TelemetryBackend, scope: Scope) -> LatencyTables | BackendError:
    """The latency view's questions, in as few round trips as their dependencies allow (the spectrum needs
    the baseline's limits). The trace agent asks them beside its other questions, so they add no round trip
    of their own but the spectrum's. A store that cannot answer them is returned, not raised: the rest of
    the agent's view still stands."""
    try:
        ops_before, ops_now, edges_before, edges_now = ask_together(
            lambda: backend.operation_latency(scope.baseline), lambda: backend.operation_latency(scope.window),
            lambda: backend.edge_latency(scope.baseline), lambda: backend.edge_latency(scope.window))
        wider_ops, wider_edges = _references(backend, scope, ops_before, ops_now, edges_before, edges_now)
        limits = operation_limits(ops_before, wider_ops)
        table = backend.trace_spectrum(scope.window, limits) if limits else None
    except BackendError as exc:
        return exc
    return LatencyTables(ops_before, ops_now, edges_before, edges_now, wider_ops, wider_edges, table)


def latency_view(book: Notebook, asked: LatencyTables | BackendError, graph: Table) -> LatencyView:
    if isinstance(asked, BackendError):  # say what was not checked; the rest of the agent's view still stands
        book.record("telemetry:spans", f"-- {asked}", f"latency per operation was not checked: {asked}")
        return LatencyView()
    return _latency_view(book, asked, graph)


def _latency_view(book: Notebook, asked: LatencyTables, graph: Table) -> LatencyView:
    view = LatencyView()
    ops_before, edges_before, edges_now = asked.ops_before, asked.edges_before, asked.edges_now
    wider_ops, wider_edges = asked.wider_ops, asked.wider_edges
    book.facts["latency_reference"] = {"baseline_operations": len(ops_before),
                                       "history_operations": len(wider_ops) if wider_ops is not None else 0}
    if asked.spectrum is None:
        book.record("telemetry:spans", ops_before, "no spans before the incident window to judge span latency "
                    "against: latency was not checked per operation")
        return view
    tick = min((r["min_ms"] for t in (ops_before, wider_ops) if t is not None for r in t.records() if r["min_ms"]),
               default=0.0)
    table = asked.spectrum
    scores = spectrum(table)
    rank = personalised_pagerank(((r["caller"], r["callee"]) for r in graph.records()), scores)
    # Not normalised among suspects: when only noise is over the limits, no share should reach 1. And
    # with no more slow traces than the limits let through by chance there is no symptom to localise.
    failing, traces = _trace_counts(table)
    symptom = slow_traces_p_value(failing, traces)
    book.facts["slow_traces"] = {"failing": failing, "traces": traces, "p_value": symptom}
    view.edges = judge_edges(edges_now, _merge_edges(edges_before, wider_edges), tick)
    # Callees whose only slowness is the wire of a caller that is slow on every call it makes: the time
    # credited to them from that caller's client spans is the caller's.
    cleared = {e.callee for e in view.edges if e.verdict == "caller_side"} - \
        {e.blamed for e in view.edges if e.verdict != "caller_side"}
    view.cleared = cleared
    moved = {e.caller: max(scores[e.callee].anomaly_score if e.callee in scores else 0.0, 0.0)
             for e in view.edges if e.verdict == "caller_side"}
    weight = {s: v.ochiai * rank.get(s, 0.0) for s, v in scores.items()
              if v.significant and symptom < SIGNIFICANT_P and s not in cleared}
    reference = "the baseline" if wider_ops is None else "the baseline and, for operations it lacked, the history before it"
    for service, score in sorted(scores.items(), key=lambda kv: -weight.get(kv[0], 0.0)):
        evidence = None
        if service in weight:
            evidence = book.record("telemetry:spans", table, _summary(score, rank.get(service, 0.0), reference, table),
                                   _data(score, rank.get(service, 0.0), ops_before.query))
            view.evidence[service].append(evidence)
            view.shares[service] = weight[service]
        if score.judged:
            value = 0.0 if service in cleared else max(score.anomaly_score, moved.get(service, 0.0))
            book.anomaly(Anomaly(service=service, signal="latency", modality="traces", score=value,
                                 source="spans", evidence=evidence, p_value=round(score.p_value, 12)))
    for edge in view.edges:
        evidence = book.record("telemetry:spans", edges_now, edge.describe(),
                               {"caller": edge.caller, "callee": edge.callee, "verdict": edge.verdict,
                                "client_spans": edge.client, "gap_ms": [edge.gap_before_ms, edge.gap_now_ms],
                                "callee_ms": [edge.callee_before_ms, edge.callee_now_ms],
                                "baseline_query": edges_before.query})
        if edge.blamed and edge.verdict in ("network", "caller_side"):
            # What only the edges can tell: the wire, and whose side of it. Its weight is the share of the
            # gap's time that is new (0 when nothing grew, near 1 when it all is). A slow callee's own code
            # is the spectrum's to weigh.
            view.evidence[edge.blamed].append(evidence)
            view.shares[edge.blamed] = max(view.shares.get(edge.blamed, 0.0), edge.new_share)
        elif edge.blamed in view.shares:
            view.evidence[edge.blamed].append(evidence)
        elif edge.verdict == "caller_or_network" and edge.caller in view.shares:  # the caveat travels with the blame
            view.evidence[edge.caller].append(evidence)
    book.facts["latency_spectrum"] = {s: {"ochiai": v.ochiai, "dstar": v.dstar, "pagerank": rank.get(s, 0.0),
                                          "slow_self": v.slow_self, "judged": v.judged} for s, v in scores.items()}
    return view


def _trace_counts(table: Table) -> tuple[int, int]:
    records = table.records()
    return (int(records[0]["failing_traces"] or 0), int(records[0]["traces"] or 0)) if records else (0, 0)


def _summary(score: ServiceSpectrum, rank: float, reference: str, table: Table) -> str:
    failing, traces = _trace_counts(table)
    return (f"time is added in {score.service}: {score.slow_self} of its {score.judged} spans took longer on their own "
            f"than 99% of the same operation's spans in {reference} (about {0.01 * score.judged:.0f} expected, "
            f"p={score.p_value:.1g}); its own time was over the limit in the slow traces far more than in the others "
            f"(Ochiai {score.ochiai:.2f}, DStar {score.dstar:.0f}; {failing} of {traces} traces slow); "
            f"personalised PageRank on the call graph {rank:.2f} of the top")


def _data(score: ServiceSpectrum, rank: float, baseline_query: str) -> dict[str, Any]:
    return {"service": score.service, "slow_self_spans": score.slow_self, "judged_spans": score.judged,
            "over_self_ms": round(score.over_self_ms, 1), "p_value": score.p_value, "ochiai": score.ochiai,
            "dstar": score.dstar, "pagerank": rank, "baseline_query": baseline_query}
