"""Metrics and pg_stat_statements-style rows of the demo shop, derived from the generated traffic.

RED metrics (rate, errors, p95) are computed from the SERVER/CONSUMER spans of each 30 s interval,
connection-pool metrics from orders' `pool.acquire` spans, statement stats from the DB spans, so every
number agrees with the spans it summarises. Resource metrics (CPU, memory, restarts) are flat with
noise, except that orders' CPU rises a little while its pool is saturated. A metric row's timestamp is
the start of the interval it covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from random import Random

from inquest.evals.sim.demo_base import BUCKET, BUCKETS, CLOCK, POOL_SIZE, T_START, Aggregates, pressure
from inquest.evals.sim.model import MS, US
from inquest.evals.sim.shop import POOL_ATTRS, SHOP
from inquest.evals.sim.signals import red_rows

# The shop's CPU and memory per pod (shop.py), except that the demo's inventory has always run a little
# cooler than the scenarios' (0.19 against 0.24): kept, so the demo's metrics stay what they were.
_CPU = {spec.name: spec.cpu for spec in SHOP.services} | {"inventory": 0.19}
_MEMORY_MB = {spec.name: spec.memory_mb for spec in SHOP.services}
_RESTARTS = {("catalog", 0): 2, ("notifications", 1): 1}
_POOL_ATTRS = {"orders": POOL_ATTRS % "orders-db", "inventory": POOL_ATTRS % "inventory-db"}


def metric_rows(traffic: Aggregates, seed: int) -> Iterator[tuple]:
    """Rows for the metrics table, in TABLES["metrics"] order."""
    rng = Random(seed * 977 + 11)
    offsets = {host: (rng.uniform(-0.03, 0.03), rng.uniform(-0.06, 0.06))
               for pods in traffic.pods.values() for host in pods}
    for bucket in range(BUCKETS):
        start = T_START + bucket * BUCKET
        at = CLOCK.ts(start)
        load = pressure(start + BUCKET // 2, traffic.inject)
        drift = bucket / BUCKETS
        for service, pods in traffic.pods.items():
            for index, host in enumerate(pods):
                cpu_offset, memory_offset = offsets[host]
                cpu = _CPU[service] + cpu_offset + rng.gauss(0, 0.012) + (0.07 * load if service == "orders" else 0)
                memory = _MEMORY_MB[service] * (1 + memory_offset + 0.02 * drift + rng.gauss(0, 0.004)) * 1024 * 1024
                yield (at, service, host, "process.cpu.utilization", round(min(0.99, max(0.01, cpu)), 4), "1", None)
                yield (at, service, host, "process.memory.usage", float(int(memory)), "By", None)
                yield (at, service, host, "k8s.container.restarts", float(_RESTARTS.get((service, index), 0)),
                       "{restart}", None)
            yield from red_rows(at, service, traffic.red_durations.get((service, bucket), []),
                                traffic.red_errors.get((service, bucket), 0))
        for service in ("orders", "inventory"):
            for host in traffic.pods[service]:
                yield from _pool_rows(traffic, rng, service, host, bucket, at, load if service == "orders" else 0.0)


def _pool_rows(traffic: Aggregates, rng: Random, service: str, host: str, bucket: int, at: str,
               load: float) -> Iterator[tuple]:
    attrs = _POOL_ATTRS[service]
    acquires, wait_ms, timeouts, held_ms = traffic.pool.get((host, bucket), (0, 0.0, 0, 0.0))
    if service == "orders" and load > 0.3:
        in_use = POOL_SIZE
        pending = int(load * rng.uniform(22, 44))
    else:
        in_use = min(POOL_SIZE, round(held_ms / (BUCKET / MS) + rng.choice((1, 1, 2, 2, 3))))
        pending = 0
    wait = wait_ms / acquires if acquires else rng.uniform(0.05, 0.3)
    yield (at, service, host, "db.client.connection.count", float(in_use), "{connection}", attrs)
    yield (at, service, host, "db.client.connection.max", float(POOL_SIZE), "{connection}", attrs)
    yield (at, service, host, "db.client.connection.pending_requests", float(pending), "{request}", attrs)
    yield (at, service, host, "db.client.connection.wait_time", round(wait, 3), "ms", attrs)
    yield (at, service, host, "db.client.connection.timeouts", float(timeouts), "{timeout}", attrs)


def query_stat_rows(traffic: Aggregates, seed: int) -> Iterator[tuple]:
    """Rows for db_query_stats: per minute, per service and statement, as pg_stat_statements deltas."""
    rng = Random(seed * 401 + 29)
    for (minute, service, statement), (calls, total_ms, rows) in sorted(traffic.db_stats.items()):
        lock_wait = round(rng.random() * 0.02 * math.sqrt(calls), 3)
        yield (CLOCK.ts(T_START + minute * 60 * US), service, "postgresql", statement, int(calls), round(total_ms, 3),
               int(rows), lock_wait)



