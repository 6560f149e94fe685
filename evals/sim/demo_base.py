"""The demo world's clock, its fault's timeline and the aggregates its metrics are derived from.

The shop itself (services, pods, routes, statements) is the simulator's (shop.py); what is the demo's own
is its afternoon. Times are integer microseconds since 2026-11-03 00:00 UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from random import Random
from typing import TypeVar

from inquest.evals.sim.model import BUCKET, US, hms
from inquest.evals.sim.shop import SHOP
from inquest.evals.sim.traffic import Clock

T_START, T_END = hms(11, 30), hms(14, 40)
ROLLOUT = hms(13, 58, 30)  # orders v2.14.0 pods start replacing v2.13.2
BUCKETS = (T_END - T_START) // BUCKET
BASE_RATE = 9.0  # entry requests per second at scale 1.0

_ORDERS = next(s for s in SHOP.services if s.name == "orders")
# orders' pool as the demo's config has it (ORDERS_POOL_MAX_SIZE 20 in shop_code.py); the scenarios run
# the same service with half that, which is where their pool faults bite sooner.
POOL_SIZE, POOL_TIMEOUT_MS = 20, int(_ORDERS.pool_timeout_ms)

PODS = {spec.name: spec.pods for spec in SHOP.services}
ROUTES = tuple((route.operation, route.share) for route in SHOP.routes)  # frontend endpoint, share of traffic

POOL_TIMEOUT_MESSAGE = f"timeout acquiring connection from pool after {POOL_TIMEOUT_MS}ms (pool size {POOL_SIZE})"


# Store timestamps over the hours the world spans.
CLOCK = Clock("2026-11-03", 10, 16)


def adoption(t: int, inject: bool) -> float:
    """Share of orders requests served by the guilty v2.14.0 code (a rolling update over 75 s)."""
    if not inject or t < ROLLOUT:
        return 0.0
    return min(1.0, (t - ROLLOUT) / (75 * US))


def pressure(t: int, inject: bool) -> float:
    """How saturated orders' connection pool is, 0..1: climbs as v2.14.0 takes traffic, then stays."""
    if not inject or t < ROLLOUT + 20 * US:
        return 0.0
    ramp = min(1.0, (t - ROLLOUT - 20 * US) / (80 * US))
    return ramp * (0.92 + 0.08 * math.sin((t - ROLLOUT) / (410 * US)))


def make_pods(seed: int) -> dict[str, list[str]]:
    rng = Random(seed * 31 + 5)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    pods = {}
    for service, count in PODS.items():
        replica_set = "".join(rng.choice("0123456789abcdef") for _ in range(6))
        pods[service] = [f"{service}-{replica_set}-{''.join(rng.choice(alphabet) for _ in range(5))}"
                         for _ in range(count)]
    return pods

Key = TypeVar("Key")  # what a counter is kept per: (pod, bucket) or (minute, service, statement)


@dataclass
class Aggregates:
    """What metrics and statement stats are computed from; adds up across segments."""

    pods: dict[str, list[str]]
    inject: bool
    requests: int = 0
    red_durations: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (service, bucket)
    red_errors: dict[tuple[str, int], int] = field(default_factory=dict)
    # (host, bucket): acquires, wait ms, timeouts, ms connections were held
    pool: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    db_stats: dict[tuple[int, str, str], list[float]] = field(default_factory=dict)  # (minute, ...): calls, ms, rows

    def add(self, other: Aggregates) -> None:
        self.requests += other.requests
        for key, values in other.red_durations.items():
            self.red_durations.setdefault(key, []).extend(values)
        for key, count in other.red_errors.items():
            self.red_errors[key] = self.red_errors.get(key, 0) + count
        _add_counters(self.pool, other.pool)
        _add_counters(self.db_stats, other.db_stats)


def _add_counters(mine: dict[Key, list[float]], theirs: dict[Key, list[float]]) -> None:
    """Adds another segment's counters into these, field by field."""
    for key, values in theirs.items():
        if key in mine:
            mine[key] = [a + b for a, b in zip(mine[key], values)]
        else:
            mine[key] = list(values)
