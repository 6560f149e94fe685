"""The trace specialist: where errors start and where time is added, compared with the baseline.

Errors are credited to where they originate (the deepest failing span whose children succeeded), not
to the callers that log and propagate them. Latency is credited by exclusive (self) time; time in a
client span that has no server span below it (the wire, or an uninstrumented dependency) is credited to
the callee named by `peer.service`, while database client time stays with the service that issued the
queries. Both are normalised by the change in traffic so a busier hour is not mistaken for a fault.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from inquest.agents.attribution import origin_of, peer_latency
from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.baseline import Shift, shift
from inquest.agents.load import (
    REQUEST_RATE,
    EntryTraffic,
    amplified_edges,
    covered_minutes,
    entry_metric,
    entry_traffic,
    served,
)
from inquest.agents.trace_latency import ask_latency, latency_view
from inquest.agents.trace_paths import path_changes
from inquest.core import ANOMALY_SCORE_CAP, Anomaly, CallEdge, Finding, Incident, LoadSource, Scope
from inquest.faults import Fault
from inquest.tools.backends.protocol import Table

Credit = Callable[[Mapping[str, Any]], str]  # the service a row's count is credited to

MIN_ORIGINS_PER_MIN = 0.5
MIN_ADDED_SELF_MS_PER_MIN = 2000.0  # two seconds of extra work a minute: below that, nobody notices


@dataclass(frozen=True)
class Suspect:
    service: str
    error_shift: Shift | None
    latency_shift: Shift | None
    error_share: float
    latency_share: float
    evidence: tuple[str, ...]


def _credit_to(row: Mapping[str, Any]) -> str:
    if row["kind"] == "CLIENT" and not row["is_db"] and row.get("peer"):
        return str(row["peer"])
    return str(row["service"])


def _per_service(current: Table, baseline: Table, value: str, minutes: tuple[float, float],
                 traffic: float, credit: Credit) -> dict[str, Shift]:
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in baseline.records():
        totals[credit(row)][0] += float(row[value] or 0) * traffic  # what the incident's traffic would cost
    for row in current.records():
        totals[credit(row)][1] += float(row[value] or 0)
    return {svc: shift(b, minutes[0], c, minutes[1]) for svc, (b, c) in totals.items()}


class TraceAgent:
    name = "trace"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        (stats_now, stats_before, origins_now, origins_before, graph, graph_before, entries_now,
         entries_before, covered_before, covered_now, rate_now, rate_before, latency_tables) = ask_together(
            lambda: backend.span_stats(scope.window), lambda: backend.span_stats(scope.baseline),
            lambda: backend.error_origins(scope.window), lambda: backend.error_origins(scope.baseline),
            lambda: backend.call_graph(scope.window), lambda: backend.call_graph(scope.baseline),
            lambda: backend.entry_services(scope.window), lambda: backend.entry_services(scope.baseline),
            lambda: backend.span_minutes(scope.baseline), lambda: backend.span_minutes(scope.window),
            lambda: backend.metric_stats(scope.window, [REQUEST_RATE]),
            lambda: backend.metric_stats(scope.baseline, [REQUEST_RATE]),
            lambda: ask_latency(backend, scope))
        minutes = (covered_minutes(covered_before, scope.baseline.minutes),
                   covered_minutes(covered_now, scope.window.minutes))
        book.facts["covered_minutes"] = {"baseline": minutes[0], "window": minutes[1]}
        if not stats_now.rows:
            book.record("telemetry:spans", stats_now, f"no spans to check: none in the incident window {scope.window}, "
                        "so where errors start and where time is added is not known from traces")
            return book.finding("no_data")
        entry = entry_traffic(entries_now, entries_before, minutes,
                              entry_metric(rate_now, rate_before, entries_now, entries_before))
        traffic = entry.factor
        call_graph = tuple(CallEdge(r["caller"], r["callee"], r["calls"], r["errors"]) for r in graph.records())
        book.facts["traffic_factor"] = round(traffic, 3)
        book.facts["traffic_source"] = entry.source

        latency_now, latency_before = peer_latency(stats_now), peer_latency(stats_before)
        def error_origin(row: Mapping[str, Any]) -> str:
            return origin_of(row, latency_now, latency_before)

        errors = _per_service(origins_now, origins_before, "origins", minutes, traffic, error_origin)
        latency = _per_service(stats_now, stats_before, "total_self_ms", minutes, traffic, _credit_to)
        error_suspects = {s: v for s, v in errors.items() if v.significant(3.0, MIN_ORIGINS_PER_MIN)}
        latency_suspects = {s: v for s, v in latency.items() if v.significant(2.0, MIN_ADDED_SELF_MS_PER_MIN)}
        if not stats_before.rows:  # against nothing, all work looks new: say so and leave time to the spectrum
            latency_suspects = {}
            book.record("telemetry:spans", stats_before, "no spans in the baseline: exclusive time per minute was "
                        "not compared with it (every service's work would look new)")
        view = latency_view(book, latency_tables, graph)
        # A service slow only on the wire of a caller slow on all its calls: its "added time" is the caller's.
        latency_suspects = {s: v for s, v in latency_suspects.items() if s not in view.cleared}
        anomalous = tuple(sorted(set(error_suspects) | set(latency_suspects)))

        evidence: dict[str, list[str]] = defaultdict(list, {s: list(found) for s, found in view.evidence.items()})
        for service, moved in sorted(error_suspects.items(), key=lambda kv: -kv[1].excess_per_min):
            top = _top_rows(origins_now, service, "origins", error_origin)
            where = "; ".join(f"{r['operation']} ({r['origins']}× '{r['message']}')" for r in top)
            evidence[service].append(book.record(
                "telemetry:spans", origins_now,
                f"errors originate in {service}: {moved.incident_per_min:.1f}/min in the incident window vs "
                f"{moved.baseline_per_min:.1f}/min expected from the baseline — at {where}",
                {"service": service, "origins_per_min": round(moved.incident_per_min, 2),
                 "baseline_per_min": round(moved.baseline_per_min, 2), "top": top, "baseline_query": origins_before.query},
            ))
        for service, moved in sorted(latency_suspects.items(), key=lambda kv: -kv[1].excess_per_min):
            top = _top_rows(stats_now, service, "total_self_ms", _credit_to)
            where = "; ".join(f"{r['operation']} (mean self {r['mean_self_ms']} ms × {r['requests']})" for r in top)
            evidence[service].append(book.record(
                "telemetry:spans", stats_now,
                f"time is added in {service}: exclusive time {moved.incident_per_min / 1000:.1f} s/min vs "
                f"{moved.baseline_per_min / 1000:.1f} s/min expected ({moved.ratio:.1f}×) — mostly in {where}",
                {"service": service, "self_ms_per_min": round(moved.incident_per_min, 1),
                 "baseline_self_ms_per_min": round(moved.baseline_per_min, 1), "top": top,
                 "baseline_query": stats_before.query},
            ))
        _note_propagation(book, stats_now, stats_before, minutes, traffic, error_suspects)

        error_total = sum(max(v.excess_per_min, 0) for v in error_suspects.values()) or 1.0
        latency_total = sum(max(v.excess_per_min, 0) for v in latency_suspects.values()) or 1.0
        share = {}
        for service in evidence:
            e_share = error_suspects[service].excess_per_min / error_total if service in error_suspects else 0.0
            l_share = latency_suspects[service].excess_per_min / latency_total if service in latency_suspects else 0.0
            share[service] = (e_share, max(l_share, view.shares.get(service, 0.0)))
        loaded_by = _amplification(book, graph, graph_before, minutes, stats_now, stats_before, share)
        ours = {r["service"] for r in stats_now.records() if r["kind"] == "SERVER"}
        for service in sorted(evidence):
            e_share, l_share = share[service]
            kinds = [k for k, on in (("errors start", e_share > 0), ("time is added", l_share > 0)) if on]
            confidence = 0.3 + 0.3 * e_share + 0.3 * l_share
            summary = f"{service} is where the symptom starts: {' and '.join(kinds)} there"
            if service in loaded_by:  # a victim of the load sent to it, not where the fault lies
                confidence *= 0.5
                summary += f", under load sent by {loaded_by[service].caller}"
            if entry.surge:  # a surge explains saturation everywhere downstream
                confidence /= entry.factor
            fault = Fault.ERRORS if e_share >= l_share else Fault.LATENCY
            if service not in ours:  # a peer we only see through our client spans: not ours to change
                fault, summary = Fault.DEPENDENCY_OUTAGE, summary + f" — {service} is a dependency outside our systems"
            book.suspect(summary, service=service, confidence=confidence, supports=evidence[service], fault=fault)
        if entry.surge:
            _surge(book, entry, entries_now, scope)
        _code_paths(book, stats_now, stats_before)
        return book.finding("ok", call_graph=call_graph, anomalous_services=anomalous, loaded_by=loaded_by)


def _code_paths(book: Notebook, now: Table, before: Table) -> None:
    """A service whose calls and steps per request changed: its own code took another path (trace_paths)."""
    for change in path_changes(now, before):
        evidence = book.record("telemetry:spans", now, f"what {change.service} does per request changed: "
                               f"{change.describe()}", {"service": change.service, "operation": change.operation,
                                                        "p_value": change.p_value, "baseline_query": before.query})
        book.anomaly(Anomaly(service=change.service, signal="code_path", modality="traces", score=change.score,
                             source="spans:operation_mix", evidence=evidence, p_value=change.p_value))
        # On the common scale (the coordinator reads a confidence as score / cap): the test's own strength.
        book.suspect(f"{change.service} took another code path: {change.describe()}", service=change.service,
                     confidence=change.score / ANOMALY_SCORE_CAP, supports=[evidence], fault=Fault.CODE_PATH)


def _top_rows(table: Table, service: str, by: str, credit: Credit, limit: int = 3) -> list[dict[str, Any]]:
    """The rows that made up `service`'s tally, credited the same way the tally was."""
    rows = [r for r in table.records() if credit(r) == service]
    rows.sort(key=lambda r: -(r[by] or 0))
    keep = ("operation", "kind", "peer", by, "message", "mean_self_ms", "requests")
    return [{k: r[k] for k in keep if k in r} for r in rows[:limit]]


def _note_propagation(book: Notebook, now: Table, before: Table, minutes: tuple[float, float], traffic: float,
                      origins: dict[str, Shift]) -> None:
    """Services whose failures grew only because something below them failed: worth saying, since
    they are the ones logging ERRORs and alerting, but not worth blaming."""
    server_only = lambda row: row["service"] if row["kind"] == "SERVER" else "-"  # noqa: E731
    failing = _per_service(now, before, "errors", minutes, traffic, server_only)
    relays = sorted(s for s, v in failing.items() if s != "-" and s not in origins and v.significant(3.0, 0.5))
    if relays and origins:
        book.record("telemetry:spans", now,
                    f"{', '.join(relays)} fail by propagation: their failures grew, but none originate there "
                    f"(errors originate in {', '.join(sorted(origins))})",
                    {"relays": relays, "failed_per_min": {s: round(failing[s].incident_per_min, 2) for s in relays}})


def _amplification(book: Notebook, graph: Table, graph_before: Table, minutes: tuple[float, float],
                   stats_now: Table, stats_before: Table,
                   share: dict[str, tuple[float, float]]) -> dict[str, LoadSource]:
    """Callers sending a suspect far more calls than entry traffic explains take over its blame: the
    suspect is where it hurts, the caller is where it comes from. Returns {suspect: its caller}."""
    loaded_by: dict[str, LoadSource] = {}
    for edge in amplified_edges(graph, graph_before, minutes, served(stats_now), served(stats_before)):
        if edge.callee not in share or edge.callee in loaded_by or edge.caller == edge.callee:
            continue
        evidence = book.record(
            "telemetry:spans", graph,
            f"{edge.caller} calls {edge.callee} {edge.ratio:.1f}× as often per request it serves as in the baseline "
            f"({edge.incident_per_min:.0f}/min vs {edge.expected_per_min:.0f}/min expected): "
            f"{edge.callee}'s trouble is load sent by {edge.caller}",
            {"caller": edge.caller, "callee": edge.callee, "calls_per_min": round(edge.incident_per_min, 1),
             "expected_per_min": round(edge.expected_per_min, 1), "baseline_query": graph_before.query})
        loaded_by[edge.callee] = LoadSource(edge.caller, evidence)
        inherited = max(share[edge.callee])
        book.suspect(f"{edge.caller} amplifies the load on {edge.callee} ({edge.ratio:.1f}× the calls)",
                     service=edge.caller, confidence=0.35 + 0.5 * inherited, supports=[evidence],
                     fault=Fault.LOAD_AMPLIFICATION)
    return loaded_by


def _surge(book: Notebook, entry: EntryTraffic, entries: Table, scope: Scope) -> None:
    where = scope.entry_service or (entries.rows[0][0] if entries.rows else None)
    evidence = book.record(
        "telemetry:spans", entries,
        f"requests entering at {where}: {entry.incident_per_min:.0f}/min vs {entry.baseline_per_min:.0f}/min in "
        f"the baseline ({entry.factor:.1f}×, from {entry.source}): the load alone explains saturation downstream",
        {"service": where, "per_min": round(entry.incident_per_min, 1), "source": entry.source,
         "baseline_per_min": round(entry.baseline_per_min, 1), "factor": round(entry.factor, 2)})
    book.suspect(f"a traffic surge at {where}: {entry.factor:.1f}× the usual requests", service=where,
                 confidence=min(0.9, 0.6 + 0.1 * (entry.factor - 2)), supports=[evidence], fault=Fault.TRAFFIC_SURGE)
