"""What monitoring derives from the simulated afternoon: metrics, statement statistics, the alert.

RED metrics (rate, error rate, p95 per 30 s) come from the generated SERVER/CONSUMER spans; connection
waits and timeouts from the generated `pool.acquire` spans; statement statistics from the generated
database spans (plus the DDL of a migration, as pg_stat_statements records it when it completes);
CPU, memory, restarts and pool occupancy from the load model and the fleet, with noise. The alert is
evaluated on the generated spans like a monitoring rule would be, so the incident quotes what the data
shows and fires when the data says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random

from inquest.evals.sim.fleet import Fleet
from inquest.evals.sim.load import DT, LoadModel
from inquest.evals.sim.model import BUCKET, MINUTE, MS, US, Alert, ScenarioError, TableLock, Topology
from inquest.evals.sim.requests import Requests
from inquest.evals.sim.shop import POOL_ATTRS
from inquest.evals.sim.traffic import Clock


def p95(values: list[float]) -> float:
    """Linear-interpolated 95th percentile, as DuckDB's quantile_cont computes it."""
    ordered = sorted(values)
    position = 0.95 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def red_rows(at: str, service: str, durations: list[float], errors: int) -> Iterator[tuple]:
    """One metrics interval of a service's RED signals: request rate, error rate, and p95 when it served any."""
    yield (at, service, None, "http.server.request.rate", round(len(durations) / (BUCKET / US), 4), "{request}/s", None)
    yield (at, service, None, "http.server.error.rate", round(errors / len(durations), 4) if durations else 0.0,
           "1", None)
    if durations:
        yield (at, service, None, "http.server.duration.p95", round(p95(durations), 2), "ms", None)


def metric_rows(requests: Requests, load: LoadModel, fleet: Fleet, topology: Topology, clock: Clock, seed: int,
                t0: int, t1: int) -> Iterator[tuple]:
    """Rows for the metrics table, in TABLES["metrics"] order, every 30 s."""
    rng = Random(seed * 977 + 11)
    offsets: dict[str, tuple[float, float]] = {}
    red: dict[tuple[str, int], list[float]] = defaultdict(list)
    red_errors: dict[tuple[str, int], int] = defaultdict(int)
    for (service, _, bucket), durations in requests.red.items():
        red[(service, bucket)].extend(durations)
    for (service, _, bucket), errors in requests.red_errors.items():
        red_errors[(service, bucket)] += errors
    specs = {s.name: s for s in topology.services}
    per = BUCKET // DT
    for bucket in range((t1 - t0) // BUCKET):
        start = t0 + bucket * BUCKET
        at = clock.ts(start)
        drift = bucket * BUCKET / (t1 - t0)
        for service, slots in fleet.slots.items():
            for slot in slots:
                pod = slot.life(start).pod
                cpu_offset, memory_offset = offsets.setdefault(
                    pod, (rng.uniform(-0.03, 0.03), rng.uniform(-0.05, 0.05)))
                states = [load.slot_state(slot, start + i * DT) for i in range(per)]
                cpu = sum(s.cpu for s in states) / per + cpu_offset + rng.gauss(0, 0.012)
                memory = slot.memory_mb(start + BUCKET // 2)
                if memory == slot.base_mb:
                    memory *= 1 + memory_offset + 0.02 * drift + rng.gauss(0, 0.004)
                else:
                    memory *= 1 + rng.gauss(0, 0.004)
                yield (at, service, pod, "process.cpu.utilization", round(min(0.999, max(0.005, cpu)), 4), "1", None)
                yield (at, service, pod, "process.memory.usage", float(int(memory * 1024 * 1024)), "By", None)
                yield (at, service, pod, "k8s.container.restarts", float(slot.restarts_before(start + BUCKET - 1)),
                       "{restart}", None)
                if specs[service].pool_size:
                    yield from _pool_rows(requests, states, rng, service, pod, bucket, at)
            yield from red_rows(at, service, red.get((service, bucket), []), red_errors.get((service, bucket), 0))


def _pool_rows(requests: Requests, states: list, rng: Random, service: str, pod: str, bucket: int,
               at: str) -> Iterator[tuple]:
    pools = [s.pool for s in states if s.pool is not None]
    if not pools:
        return
    size = pools[-1].size
    attrs = POOL_ATTRS % ("orders-db" if service == "orders" else f"{service}-db")
    acquires, wait_ms, timeouts = requests.pool.get((pod, bucket), (0, 0.0, 0))
    in_use = sum(p.in_use for p in pools) / len(pools)
    in_use = min(size, round(in_use + rng.choice((0, 1, 1, 2)))) if in_use < size * 0.98 else size
    pending = sum(p.pending for p in pools) / len(pools)
    wait = wait_ms / acquires if acquires else rng.uniform(0.05, 0.3)
    yield (at, service, pod, "db.client.connection.count", float(in_use), "{connection}", attrs)
    yield (at, service, pod, "db.client.connection.max", float(size), "{connection}", attrs)
    yield (at, service, pod, "db.client.connection.pending_requests", float(round(pending)), "{request}", attrs)
    yield (at, service, pod, "db.client.connection.wait_time", round(wait, 3), "ms", attrs)
    yield (at, service, pod, "db.client.connection.timeouts", float(timeouts), "{timeout}", attrs)


def query_stat_rows(requests: Requests, load: LoadModel, locks: list[TableLock], clock: Clock, seed: int, t0: int,
                    sampled: float) -> Iterator[tuple]:
    """Rows for db_query_stats: per minute, per service and statement, as pg_stat_statements deltas. The
    database counts every statement, not the sampled ones: what the sampled spans ran, divided by
    `sampled` (the share of requests traced); lock waits come from the load model, since the sampled
    statements that got a connection while a lock was held are too few to show them."""
    rng = Random(seed * 401 + 29)
    full = 1 / sampled
    stats = {key: [value * full for value in values] for key, values in requests.db_stats.items()}
    stats.update(load.locked)
    for (minute, service, statement), (calls, total_ms, rows, lock_ms) in sorted(stats.items()):
        noise = rng.random() * 0.02 * calls ** 0.5  # row-lock waits between concurrent writers, always
        yield (clock.ts(t0 + minute * MINUTE), service, "postgresql", statement, round(calls), round(total_ms, 3),
               round(rows), round(lock_ms + noise, 3))
    for lock in locks:
        assert lock.when.start is not None and lock.when.end is not None
        finished = lock.when.end - lock.when.end % MINUTE
        yield (clock.ts(finished), lock.service, "postgresql", lock.ddl, 1,
               round((lock.when.end - lock.when.start) / MS, 3), 0, 0.0)


@dataclass(frozen=True)
class Fired:
    at: int
    first_minute: int
    error_rate: float
    p95_ms: float


def evaluate_alert(alert: Alert, requests: Requests, t0: int, t1: int, not_before: int) -> Fired:
    """When the alert rule first holds for `for_minutes` consecutive minutes at or after `not_before`."""
    per_minute: dict[int, list[float]] = defaultdict(list)
    errors: dict[int, int] = defaultdict(int)
    buckets_per_minute = MINUTE // BUCKET
    for (service, name, bucket), durations in requests.red.items():
        if service == alert.service and name == alert.operation:
            per_minute[bucket // buckets_per_minute].extend(durations)
            errors[bucket // buckets_per_minute] += requests.red_errors.get((service, name, bucket), 0)

    def measured(minute: int) -> tuple[list[float], int]:
        """Durations and errors over the rule's range, ending with `minute`."""
        span = range(minute - alert.over_minutes + 1, minute + 1)
        return [d for m in span for d in per_minute.get(m, ())], sum(errors.get(m, 0) for m in span)

    def breached(minute: int) -> bool:
        durations, failed = measured(minute)
        if len(durations) < 3:
            return False
        if alert.signal == "errors":
            return failed / len(durations) > alert.threshold
        return p95(durations) > alert.threshold

    first = (not_before - t0) // MINUTE
    for minute in range(first, (t1 - t0) // MINUTE - alert.for_minutes):
        if all(breached(m) for m in range(minute, minute + alert.for_minutes)):
            last = minute + alert.for_minutes - 1
            durations, failed = measured(last)
            fired = t0 + (last + 1) * MINUTE + 40 * US  # the rule is evaluated every minute
            return Fired(fired, minute, failed / len(durations), p95(durations))
    raise ScenarioError(f"alert {alert.incident_id} ({alert.signal} of {alert.service} {alert.operation} above "
                     f"{alert.threshold}) never fires: the scenario's fault does not show")


def incident_row(alert: Alert, fired: Fired, clock: Clock, t1: int) -> tuple:
    window_start = fired.at - 15 * MINUTE
    window_start -= window_start % (5 * MINUTE)
    window_end = fired.at + 25 * MINUTE
    window_end = min(window_end - window_end % (5 * MINUTE) + 5 * MINUTE, t1)  # rounded up, within the data
    what = "5xx rate" if alert.signal == "errors" else "p95 latency"
    over = f" over {alert.over_minutes} min" if alert.over_minutes > 1 else ""
    symptoms = [f"{alert.service} {alert.operation} {what}{over} above "
                + (f"{alert.threshold:.0%}" if alert.signal == "errors" else f"{alert.threshold / 1000:g} s")
                + f" for {alert.for_minutes} min",
                f"{alert.operation} 5xx rate {fired.error_rate:.1%}",
                f"{alert.operation} p95 {fired.p95_ms / 1000:.2f} s"]
    return (alert.incident_id, alert.title, alert.service, clock.ts(fired.at)[:-7], clock.ts(window_start)[:-7],
            clock.ts(window_end)[:-7], json.dumps(symptoms), alert.ticket, None, None)  # no pinned baseline
