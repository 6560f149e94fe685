"""The deployment specialist: which change, if any, the symptom followed.

Changes in the look-back window are ranked by temporal proximity to the onset (a change after the
symptom began cannot have caused it), by lying on the alerting service's call path (the service itself
or anything it calls, since faults propagate from callee to caller), and by whether the changed
service itself misbehaves. Every change gets a verdict, so the report can say why the red herrings lost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from inquest.agents.attribution import origin_of, peer_latency
from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.baseline import proximity, shift
from inquest.agents.load import (
    REQUEST_RATE,
    amplified_edges,
    covered_minutes,
    entry_metric,
    entry_traffic,
    served,
)
from inquest.agents.metric_change import series_of
from inquest.agents.metric_semconv import display_unit, quantity_change
from inquest.agents.metrics import BUCKET_SECONDS, FLAG, ask_series, judge, semconv_for
from inquest.core import Change, ChangeRef, Finding, Incident, Scope
from inquest.errors import BackendError
from inquest.faults import Fault
from inquest.tails import fisher_greater_p
from inquest.tools.backends.protocol import Changes, Table

ONSET_TOLERANCE_MIN = 1.0  # onset is known to a one-minute bucket


def downstream_of(service: str, edges: list[tuple[str, str]]) -> set[str]:
    """Everything `service` calls, directly or transitively."""
    callees: dict[str, set[str]] = defaultdict(set)
    for caller, callee in edges:
        callees[caller].add(callee)
    seen: set[str] = set()
    todo = [service]
    while todo:
        for nxt in callees[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen - {service}


def own_trouble(stats_now: Table, stats_before: Table, origins_now: Table, origins_before: Table,
                minutes: tuple[float, float]) -> dict[str, str]:
    """service -> how it is in trouble itself: errors originating there, or its own (exclusive) time per
    request growing. A service that only relays failures from below is not in trouble of its own, so a
    change to it explains nothing (callers of a failing service always look broken)."""
    def origins(table: Table, mins: float) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for r in table.records():
            out[origin_of(r, latency_now, latency_before)] += r["origins"] / max(mins, 1e-9)
        return out

    def self_per_request(table: Table) -> dict[str, float]:
        spent: dict[str, float] = defaultdict(float)
        served: dict[str, int] = defaultdict(int)
        for r in table.records():
            if r["kind"] != "CLIENT" or r["is_db"]:  # time on the wire belongs to the callee
                spent[r["service"]] += r["total_self_ms"] or 0.0
            if r["kind"] in ("SERVER", "CONSUMER"):
                served[r["service"]] += r["requests"]
        return {s: spent[s] / served[s] for s in served if served[s]}

    latency_now, latency_before = peer_latency(stats_now), peer_latency(stats_before)
    trouble: dict[str, str] = {}
    now_o, before_o = origins(origins_now, minutes[1]), origins(origins_before, minutes[0])
    for service, rate in now_o.items():
        moved = shift(before_o.get(service, 0.0), 1, rate, 1)
        if moved.significant(3.0, 0.5):
            trouble[service] = f"errors originate there ({rate:.1f}/min vs {before_o.get(service, 0.0):.1f}/min)"
    now_s, before_s = self_per_request(stats_now), self_per_request(stats_before)
    for service, ms in now_s.items():
        old = before_s.get(service)
        if old is not None and ms >= 1.5 * old + 5 and service not in trouble:
            trouble[service] = f"its own time per request grew {old:.0f} → {ms:.0f} ms"
    return trouble


class DeploymentAgent:
    name = "deployment"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        (asked, now, before, graph, graph_before, entries_now, entries_before, origins_now,
         origins_before, covered_before, covered_now, rate_now, rate_before) = ask_together(
            lambda: _ask_changes(deps, scope), lambda: backend.span_stats(scope.window),
            lambda: backend.span_stats(scope.baseline), lambda: backend.call_graph(scope.window),
            lambda: backend.call_graph(scope.baseline),
            lambda: backend.entry_services(scope.window), lambda: backend.entry_services(scope.baseline),
            lambda: backend.error_origins(scope.window), lambda: backend.error_origins(scope.baseline),
            lambda: backend.span_minutes(scope.baseline), lambda: backend.span_minutes(scope.window),
            lambda: backend.metric_stats(scope.window, [REQUEST_RATE]),
            lambda: backend.metric_stats(scope.baseline, [REQUEST_RATE]))
        changes = asked.changes
        if not changes.items:
            book.record("changes", changes, f"no changes recorded between {scope.lookback}")
            return book.finding("ok")
        path = {incident.service} | downstream_of(incident.service, [(r["caller"], r["callee"]) for r in graph.records()])
        minutes = (covered_minutes(covered_before, scope.baseline.minutes),
                   covered_minutes(covered_now, scope.window.minutes))
        moved = own_trouble(now, before, origins_now, origins_before, minutes)
        traffic = entry_traffic(entries_now, entries_before, minutes,
                               entry_metric(rate_now, rate_before, entries_now, entries_before))
        for edge in amplified_edges(graph, graph_before, minutes, served(now), served(before)):
            # sending many more calls than before is a change in the service's own behaviour
            moved.setdefault(edge.caller, f"it sends {edge.callee} {edge.ratio:.1f}× the calls per request it did")
        if traffic.surge:  # misbehaviour is what a surge does to every service: it no longer singles one out
            book.record("telemetry:spans", entries_now,
                        f"requests entering the system rose {traffic.factor:.1f}× over the baseline: services "
                        "misbehaving under that load say little about which change is at fault",
                        {"factor": round(traffic.factor, 2)})
            moved = {}
        spanned = {r["service"] for r in now.records()}  # services whose own trouble spans could show
        deploys = [c for c in changes.items if c.kind == "deploy" and c.version]
        if deploys and not traffic.surge:  # the new version's pods against the old version's, same minutes
            for service, trouble in version_trouble(asked.versions or Table("version_stats", "", (), ()),
                                                    deploys).items():
                moved[service] = trouble
        if not traffic.surge:
            for service, trouble in _metric_trouble(deps, asked.series, {c.service for c in changes.items} - spanned).items():
                moved.setdefault(service, trouble)
        onset = scope.onset or incident.started_at
        book.facts["call_path"] = sorted(path)
        rollback_to: dict[str, str] = {}
        for change in changes.items:
            previous = change.previous_version if change.kind == "deploy" else None
            if previous:
                rollback_to[change.id] = previous
            self._judge(book, change, onset, path, moved, changes.query, previous, incident.service, spanned)
        return book.finding("ok", onset=onset, rollback_to=rollback_to)

    def _judge(self, book: Notebook, change: Change, onset: datetime, path: set[str], moved: dict[str, str], query: str,
               previous: str | None, alerting: str, spanned: set[str]) -> None:
        minutes_before = (onset - change.at).total_seconds() / 60
        label = _label(change)
        data = {"change": change.id, "service": change.service, "kind": change.kind, "at": change.at,
                "version": change.version, "previous_version": previous, "commit": change.commit,
                "minutes_before_onset": round(minutes_before, 1), "on_call_path": change.service in path,
                "service_misbehaves": moved.get(change.service)}
        if minutes_before < -ONSET_TOLERANCE_MIN:
            evidence = book.record("changes", query, f"{label} came {-minutes_before:.0f} min after the symptom "
                                   f"began ({onset:%H:%M} UTC): it cannot have started it", data)
            book.suspect(f"{label}", change.service, 0.03, supports=(), contradicts=[evidence],
                         change=ChangeRef.of(change), fault=Fault.CHANGE_AFTER_ONSET)
            return
        on_path, misbehaves = change.service in path, change.service in moved
        relevance = 1.0 if on_path and misbehaves else 0.5 if on_path else 0.3 if misbehaves else 0.1
        unknown_path = not spanned and path == {alerting}  # no spans, no call graph: whether it is on the path is unknown
        if unknown_path:  # neither on nor off the path: halfway between the two
            relevance = (1.0 + 0.3) / 2 if misbehaves else (0.5 + 0.1) / 2
        confidence = relevance * (0.3 + 0.55 * proximity(max(minutes_before, 0.0)))
        where = (f"whether on {alerting}'s call path is unknown (no call graph)" if unknown_path
                 else f"on {alerting}'s call path" if on_path else f"not on {alerting}'s call path")
        if misbehaves:
            state = f"and {change.service} is in trouble itself: {moved[change.service]}"
        elif change.service in spanned:
            state = f"but {change.service} shows no trouble of its own (no errors originate there, its own time is unchanged)"
        else:  # say what was not checked rather than claim what was not seen
            state = f"and whether {change.service} is in trouble itself is unknown: no spans to check"
        summary = f"{label}, {max(minutes_before, 0):.0f} min before onset, {where}, {state}"
        evidence = book.record("changes", query, summary, data)
        supportive = confidence >= 0.3
        book.suspect(f"{label} {max(minutes_before, 0):.0f} min before onset", change.service, confidence,
                     supports=[evidence] if supportive else [], contradicts=[] if supportive else [evidence],
                     change=ChangeRef.of(change), fault=Fault.bad_change(change.kind))


def version_trouble(table: Table, deploys: list[Change]) -> dict[str, str]:
    """service -> how the deployed version's pods fare against the other versions' over the same minutes.
    Errors: more, by a one-sided Fisher exact test at 1%. Latency: p95 half again as long and 5 ms more
    (the same bar own_trouble sets for exclusive time)."""
    out: dict[str, str] = {}
    rows = [r for r in table.records() if r["version"] is not None]
    for change in deploys:
        new = [r for r in rows if r["service"] == change.service and r["version"] == change.version]
        old = [r for r in rows if r["service"] == change.service and r["version"] != change.version]
        if not new or not old:
            continue
        n_req, n_err = sum(r["requests"] for r in new), sum(r["errors"] for r in new)
        o_req, o_err = sum(r["requests"] for r in old), sum(r["errors"] for r in old)
        others = ", ".join(sorted({r["version"] for r in old}))
        p = fisher_greater_p([[n_err, n_req - n_err], [o_err, o_req - o_err]])
        if n_err and p < 0.01:
            out[change.service] = (f"its {change.version} pods fail {n_err / n_req:.0%} of {n_req} requests while "
                                   f"its {others} pods fail {o_err / max(o_req, 1):.0%} of {o_req} over the same "
                                   f"minutes (Fisher p={p:.1g})")
            continue
        new_p95 = max(r["p95_ms"] or 0.0 for r in new)
        old_p95 = max(r["p95_ms"] or 0.0 for r in old)
        if new_p95 >= 1.5 * old_p95 + 5:
            out[change.service] = (f"its {change.version} pods answer in {new_p95:.0f} ms (p95) while its {others} "
                                   f"pods answer in {old_p95:.0f} ms over the same minutes")
    return out


@dataclass(frozen=True)
class Asked:
    """The changes, and what judging them reads that depends on which changes there are."""

    changes: Changes
    versions: Table | None  # version_stats of the deployed services, None without deploys
    series: tuple[Table, Table] | BackendError | None  # the metric series of both windows, None without changes


def _ask_changes(deps: Deps, scope: Scope) -> Asked:
    """The changes, then at once the deployed services' versions and both windows' metric series: asked
    beside the agent's other questions, this chain costs two round trips where it cost three. The series
    are read only for changed services without spans, which are known only later; in an investigation the
    metrics agent asks the same series, so the answer is shared. Their failure is kept, raised only if read."""
    changes = deps.backend.changes(scope.lookback)
    deployed = sorted({c.service for c in changes.items if c.kind == "deploy" and c.version})

    def series() -> tuple[Table, Table] | BackendError | None:
        if not changes.items:
            return None
        try:
            now_t, before_t = ask_series(deps, semconv_for(deps), scope.window, scope.baseline)
        except BackendError as exc:
            return exc
        return now_t, before_t

    versions, metric = ask_together(lambda: deps.backend.version_stats(scope.window, deployed) if deployed else None,
                                    series)
    return Asked(changes, versions, metric)


def _metric_trouble(deps: Deps, series: tuple[Table, Table] | BackendError | None, services: set[str]) -> dict[str, str]:
    """service -> its own trouble as its metrics show it, for changed services spans cannot speak for.
    Where pods of the new version run beside established ones, the new pods against the established pods
    over the same minutes decides (errors or latency relayed from below would hit both alike); otherwise
    the service's server-side errors and latency against its baseline."""
    if not services or series is None:
        return {}
    if isinstance(series, BackendError):
        raise series
    semconv = semconv_for(deps)
    now_t, before_t = series
    moves = judge(series_of(now_t, semconv, BUCKET_SECONDS), series_of(before_t, semconv, BUCKET_SECONDS), None)
    trouble: dict[str, str] = {}
    for m in sorted(moves, key=lambda m: -m.score.score):
        if (m.service not in services or m.service in trouble or m.score.score < FLAG
                or m.signal not in ("errors", "latency") or m.series.meaning.side == "client"):
            continue
        where = f"on its new pod {m.series.key.host}" if "same minutes" in m.compared_with else "service-wide"
        change = quantity_change(m.score.before, m.score.now, display_unit(m.series.meaning))
        trouble[m.service] = (f"its metrics show {m.signal} {where}: {m.series.key.metric} {change} "
                              f"against {m.compared_with} (score {m.score.score:.1f})")
    return trouble


def _label(change: Change) -> str:
    what = {"deploy": "deploy", "config": "config change", "feature_flag": "feature flag",
            "migration": "migration", "scale": "scaling", "rollback": "rollback"}[change.kind]
    version = f" {change.version}" if change.version else ""
    commit = f" (commit {change.commit[:7]})" if change.commit else ""
    return f"{what} of {change.service}{version}{commit} at {change.at:%H:%M} UTC"
