"""Log lines that belong to no request: pods starting (after a rollout or a restart), migration jobs,
and the frontend rejecting expired session tokens now and then."""

from __future__ import annotations

import zlib
from random import Random

from inquest.evals.sim.fleet import Fleet
from inquest.evals.sim.model import US, Scenario, TableLock
from inquest.evals.sim.requests import Requests


def versions_by_rollout(scenario: Scenario, initial: dict[str, str]) -> dict[tuple[str, int], str]:
    """(service, how many rollouts) -> the version its pods then run."""
    versions = {(service, 0): version for service, version in initial.items()}
    count: dict[str, int] = {}
    for change in sorted(scenario.changes, key=lambda c: c.at):
        if change.replaces_pods:
            n = count[change.service] = count.get(change.service, 0) + 1
            versions[(change.service, n)] = change.version or versions[(change.service, n - 1)]
    return versions


def start_up_logs(requests: Requests, fleet: Fleet, versions: dict[tuple[str, int], str]) -> None:
    """Every pod that starts within the afternoon says so: after a rollout, and after each restart."""
    specs = {s.name: s for s in requests.topology.services}
    rng = Random(requests.rng.random())
    for service, slots in fleet.slots.items():
        spec = specs[service]
        for slot in slots:
            starts = [(life.start, life) for life in slot.lives]
            starts += [(o.ready - 4 * US, slot.life(o.ready)) for o in slot.outages]
            for at, life in starts:
                if not requests.t0 <= at < requests.t1:
                    continue
                at += int(rng.random() * 2 * US)
                pool = requests.load.slot_state(slot, at).pool
                if pool is not None:  # the size it starts with is the one its config says
                    requests.log(at + 180_000, None, None, "INFO", 9, service, life.pod,
                                 f"connection pool ready (min 2, max {pool.size}, timeout "
                                 f"{spec.pool_timeout_ms:.0f}ms)")
                requests.log(at + 400_000, None, None, "INFO", 9, service, life.pod,
                             f"{service} {versions[(service, life.version)]} ready")


def migration_logs(requests: Requests, locks: list[TableLock]) -> None:
    """The migration job's own lines: which DDL it applies and, once the lock is released, how long it took."""
    for lock in locks:
        assert lock.when.start is not None and lock.when.end is not None
        host = f"{lock.service}-migrate-{zlib.crc32(lock.ddl.encode()) % 10**5:05d}"
        requests.log(lock.when.start - 2 * US, None, None, "INFO", 9, lock.service, host,
                     f"applying migration on {lock.db}: {lock.ddl}")
        requests.log(lock.when.end + 300_000, None, None, "INFO", 9, lock.service, host,
                     f"migration applied in {(lock.when.end - lock.when.start) / US:.0f} s")


def expired_token_logs(requests: Requests, seed: int) -> None:
    """Expired session tokens turned away by the frontend, every minute or two: WARN noise."""
    rng = Random(seed * 53 + 7)
    at = requests.t0
    while True:
        at += int(rng.expovariate(1 / 90) * US)
        if at >= requests.t1:
            return
        slot, _ = requests.fleet.pick("frontend", at, rng.random())
        requests.log(at, None, None, "WARN", 13, "frontend", slot.life(at).pod,
                     f"rejected session token for u-{rng.randrange(40000):05d}: token expired")
