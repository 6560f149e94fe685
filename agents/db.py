"""The database specialist: regressed and new queries, N+1 patterns, pool exhaustion and lock waits.

Statements are compared across windows by their normalised text (placeholders, literals and optimizer
hints removed), so a statement whose hint was dropped is recognised as the same statement, slower.
N+1 shows as calls per request jumping while each call stays cheap; pool exhaustion as connections in
use pinned at the maximum with waiters queueing; lock trouble as lock-wait time growing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.baseline import shift
from inquest.agents.sql_text import hints, normalize
from inquest.core import Finding, Incident, Scope
from inquest.faults import Fault
from inquest.tools.backends.protocol import Table

POOL_METRICS = ("db.client.connection.count", "db.client.connection.max",
                "db.client.connection.pending_requests", "db.client.connection.timeouts",
                "db.client.connection.wait_time")
N_PLUS_ONE_CALLS_PER_REQUEST = 3.0
MIN_CALLS = 20  # fewer calls than this in a window say nothing about a statement's timing


class DatabaseAgent:
    name = "db"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        now, before, pool_now, pool_before, locks_now, locks_before = ask_together(
            lambda: backend.db_statements(scope.window), lambda: backend.db_statements(scope.baseline),
            lambda: backend.metric_summary(scope.window, POOL_METRICS),
            lambda: backend.metric_summary(scope.baseline, POOL_METRICS),
            lambda: backend.db_query_stats(scope.window), lambda: backend.db_query_stats(scope.baseline))
        if not (now.rows or pool_now.rows or locks_now.rows):
            book.record("telemetry:spans", now, "no database telemetry in the incident window")
            return book.finding("no_data")

        found: dict[str, dict[Fault, list[str]]] = defaultdict(lambda: defaultdict(list))  # service -> fault -> ids
        statement_of: dict[tuple[str, Fault], str] = {}  # (service, fault) -> the statement behind it
        for fault, service, statement, evidence_id in _statement_changes(book, now, before, scope):
            found[service][fault].append(evidence_id)
            statement_of.setdefault((service, fault), statement)
        for service, evidence_id in _pool_exhaustion(book, pool_now, pool_before):
            found[service][Fault.POOL_EXHAUSTION].append(evidence_id)
        for service, statement, evidence_id in _lock_waits(book, locks_now, locks_before, scope):
            found[service][Fault.LOCK_WAIT].append(evidence_id)
            statement_of.setdefault((service, Fault.LOCK_WAIT), statement)

        for service, faults in found.items():
            # Lock waits before a slow query: a statement blocked on a lock is slow because of the lock.
            kinds = [k for k in (Fault.N_PLUS_ONE, Fault.LOCK_WAIT, Fault.SLOW_QUERY, Fault.POOL_EXHAUSTION)
                     if k in faults]
            book.suspect(
                f"{service}'s database work changed: {', '.join(str(k.observed) for k in kinds)}",
                service=service, confidence=min(0.9, 0.4 + 0.15 * len(kinds)),
                supports=[e for k in kinds for e in faults[k]], fault=kinds[0],
                query=next((statement_of[(service, k)] for k in kinds if (service, k) in statement_of), None),
            )
        return book.finding("ok")


def _statement_changes(book: Notebook, now: Table, before: Table, scope: Scope) -> Iterator[tuple[Fault, str, str, str]]:
    baseline = {(r["service"], normalize(r["statement"])): r for r in before.records()}
    seen = set()
    for row in now.records():
        key = (row["service"], normalize(row["statement"]))
        seen.add(key)
        old = baseline.get(key)
        per_min = row["calls"] / scope.window.minutes
        if row["calls"] < MIN_CALLS:
            continue
        # Per request of the operation issuing it, not per trace: a caller sending more requests makes
        # more calls per trace without any request doing more work.
        repeated = row["calls_per_request"] >= N_PLUS_ONE_CALLS_PER_REQUEST and (
            old is None or row["calls_per_request"] >= 2 * old["calls_per_request"])
        if repeated:
            was = "a statement not seen in the baseline" if old is None else \
                f"{old['calls_per_request']} per request in the baseline"
            yield Fault.N_PLUS_ONE, row["service"], row["statement"], book.record(
                "telemetry:spans", now,
                f"N+1 in {row['service']}: `{row['statement']}` runs {row['calls_per_request']} times per request "
                f"({per_min:.0f}/min, {row['mean_ms']} ms each) — {was}",
                {**row, "baseline": old, "baseline_query": before.query})
        if old and old["calls"] >= MIN_CALLS and row["mean_ms"] >= 3 * old["mean_ms"] and \
                row["mean_ms"] - old["mean_ms"] >= 5:
            lost = [h for h in hints(old["statement"]) if h not in row["statement"]]
            why = f"; the optimizer hint {lost[0]} present in the baseline is gone" if lost else ""
            yield Fault.SLOW_QUERY, row["service"], row["statement"], book.record(
                "telemetry:spans", now,
                f"regressed query in {row['service']}: `{row['statement']}` mean {old['mean_ms']} ms → "
                f"{row['mean_ms']} ms, p95 {old['p95_ms']} ms → {row['p95_ms']} ms{why}",
                {**row, "baseline": old, "hints_removed": lost, "baseline_query": before.query})
    for key, old in baseline.items():
        if key not in seen and old["calls"] >= MIN_CALLS:
            book.record("telemetry:spans", now,
                        f"`{old['statement']}` ({old['service']}) ran {old['calls']} times in the baseline and not "
                        "at all in the incident window", {"service": old["service"], "statement": old["statement"]})


def _pool_exhaustion(book: Notebook, now: Table, before: Table) -> Iterator[tuple[str, str]]:
    def by_service(table: Table) -> dict[str, dict[str, dict[str, Any]]]:  # service -> metric -> its row
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for r in table.records():
            metric = r["name"].rsplit(".", 1)[-1]
            prev = out[r["service"]].get(metric)
            out[r["service"]][metric] = r if prev is None or r["max"] > prev["max"] else prev
        return out

    base = by_service(before)
    for service, m in sorted(by_service(now).items()):
        used, limit = m.get("count"), m.get("max")
        if not used or not limit or not limit["max"]:
            continue
        # Reached the ceiling and sits far above its baseline: the mean over the window is diluted by
        # the minutes before onset, so it is compared with the baseline, not with the ceiling.
        used_before = base[service].get("count", {}).get("mean", 0.0)
        pinned = used["max"] >= 0.95 * limit["max"] and used["mean"] >= max(2 * used_before, 0.5 * limit["max"])
        waiting = m.get("pending_requests", {}).get("mean", 0) > 3 * base[service].get("pending_requests", {}).get("mean", 0) + 1
        timeouts = m.get("timeouts", {}).get("max", 0) > 0 and not base[service].get("timeouts", {}).get("max", 0)
        if pinned and (waiting or timeouts):
            wait_now = m.get("wait_time", {}).get("mean", 0.0)
            wait_before = base[service].get("wait_time", {}).get("mean", 0.0)
            yield service, book.record(
                "telemetry:metrics", now,
                f"{service}'s connection pool is exhausted: up to {used['max']:.0f} of {limit['max']:.0f} connections "
                f"in use ({used['mean']:.0f} on average, {used_before:.0f} in the baseline), "
                f"{m.get('pending_requests', {}).get('mean', 0):.0f} requests waiting, wait "
                f"{wait_before:.0f} ms → {wait_now:.0f} ms, acquire timeouts {'yes' if timeouts else 'no'}",
                {"service": service, "in_use_mean": used["mean"], "max_connections": limit["max"],
                 "wait_ms": wait_now, "baseline_wait_ms": wait_before, "baseline_query": before.query})


def _lock_waits(book: Notebook, now: Table, before: Table, scope: Scope) -> Iterator[tuple[str, str, str]]:
    baseline = {(r["service"], normalize(r["statement"])): r for r in before.records()}
    for row in now.records():
        old = baseline.get((row["service"], normalize(row["statement"])))
        moved = shift(old["lock_wait_ms"] if old else 0.0, scope.baseline.minutes,
                      row["lock_wait_ms"] or 0.0, scope.window.minutes)
        if moved.significant(5.0, 1000.0):
            yield row["service"], row["statement"], book.record(
                "telemetry:db_query_stats", now,
                f"lock waits on `{row['statement']}` ({row['service']}): {moved.incident_per_min / 1000:.1f} s/min "
                f"vs {moved.baseline_per_min / 1000:.1f} s/min in the baseline",
                {**row, "baseline_query": before.query})
