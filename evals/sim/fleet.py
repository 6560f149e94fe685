"""The pods each service runs on, over time: rolling updates, OOM kills and restarts.

Each service has a fixed number of slots (its replica count). A deploy or config rollout replaces the
slots' pods one by one with pods of a new ReplicaSet (new names, next version); a memory leak makes a
pod's memory climb until the container's limit, when it is OOM-killed: for a few seconds its endpoint
still receives requests and refuses them, then it is out of rotation while it restarts (with
CrashLoopBackOff's growing delay), and it comes back with its memory reset and its restart counter up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from inquest.evals.sim.model import MINUTE, US, ChangeSpec, MemoryLeak, ScenarioError, Topology

_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
ROLLOUT_FIRST_S, ROLLOUT_STEP_S = 30, 25  # the first new pod is ready after 30 s, the next 25 s later
REFUSING_S = 12  # after an OOM kill, until the readiness probe takes the endpoint out: connections refused
START_S = 15  # a restarted container's start-up until it is ready again
BACKOFF_S = (0, 10, 20, 40, 80, 160, 300)  # CrashLoopBackOff before the n-th restart in a row
BACKOFF_RESET_S = 600  # a container that ran this long starts its back-off afresh


@dataclass
class Life:
    start: int
    end: int
    pod: str
    version: int  # how many rollouts of the service precede this pod


@dataclass
class Outage:
    killed: int  # OOM kill
    unrouted: int  # endpoint removed: no more requests come
    ready: int  # restarted and ready


@dataclass
class Slot:
    service: str
    index: int
    lives: list[Life]
    outages: list[Outage] = field(default_factory=list)
    leak_mb_per_min: float = 0.0
    leak_from_version: int = 0
    base_mb: float = 0.0
    limit_mb: float = 0.0

    def life(self, at: int) -> Life:
        for life in reversed(self.lives):
            if life.start <= at:
                return life
        return self.lives[0]

    def refusing(self, at: int) -> bool:
        return any(o.killed <= at < o.unrouted for o in self.outages)

    def routed(self, at: int) -> bool:
        return not any(o.unrouted <= at < o.ready for o in self.outages)

    def restarts_before(self, at: int) -> int:
        """Container restarts of the pod alive at `at`, up to then: what k8s.container.restarts reports."""
        pod = self.life(at)
        return sum(1 for o in self.outages if pod.start <= o.ready <= at)

    def memory_mb(self, at: int) -> float:
        """Memory of the pod alive at `at`: its base, plus what a leak accumulated since it last started."""
        pod = self.life(at)
        if not self.leak_mb_per_min or pod.version < self.leak_from_version:
            return self.base_mb
        since = pod.start
        for outage in self.outages:
            if outage.killed <= at < outage.ready:
                return 0.0
            if pod.start <= outage.ready <= at:
                since = outage.ready
        return min(self.limit_mb, self.base_mb + self.leak_mb_per_min * (at - since) / MINUTE)


class Fleet:
    def __init__(self, topology: Topology, changes: tuple[ChangeSpec, ...], leaks: list[MemoryLeak], seed: int,
                 until: int) -> None:
        rng = Random(seed * 7_919 + 17)
        self.slots: dict[str, list[Slot]] = {}
        self.version_of: dict[str, tuple[str, int]] = {}  # change id -> (service, version its pods run)
        for spec in topology.services:
            replica_set = self._replica_set(rng)
            self.slots[spec.name] = [
                Slot(spec.name, i, [Life(-10 * 24 * 60 * MINUTE, until, self._pod(rng, spec.name, replica_set), 0)],
                     base_mb=spec.memory_mb * rng.uniform(0.94, 1.06), limit_mb=spec.memory_limit_mb)
                for i in range(spec.pods)]
        versions: dict[str, int] = {}
        for change in sorted(changes, key=lambda c: c.at):
            if not change.replaces_pods or change.service not in self.slots:
                continue
            version = versions[change.service] = versions.get(change.service, 0) + 1
            self.version_of[change.id] = (change.service, version)
            replica_set = self._replica_set(rng)
            for slot in self.slots[change.service]:
                at = change.at + (ROLLOUT_FIRST_S + slot.index * ROLLOUT_STEP_S) * US
                slot.lives[-1].end = at
                slot.lives.append(Life(at, until, self._pod(rng, change.service, replica_set), version))
        for leak in leaks:
            self._leak(leak, rng, until)
        self.any_outage = {s: any(slot.outages for slot in slots) for s, slots in self.slots.items()}

    @staticmethod
    def _replica_set(rng: Random) -> str:
        return "".join(rng.choice(_POD_ALPHABET) for _ in range(10))

    @staticmethod
    def _pod(rng: Random, service: str, replica_set: str) -> str:
        return f"{service}-{replica_set}-{''.join(rng.choice(_POD_ALPHABET) for _ in range(5))}"

    def version_required(self, change_id: str) -> int:
        if change_id not in self.version_of:
            raise ScenarioError(f"effect waits for change {change_id!r}, which rolls out no pods")
        return self.version_of[change_id][1]

    def _leak(self, leak: MemoryLeak, rng: Random, until: int) -> None:
        version = self.version_required(leak.when.after) if leak.when.after else 0
        for slot in self.slots[leak.service]:
            slot.leak_mb_per_min = leak.mb_per_min * rng.uniform(0.8, 1.2)
            slot.leak_from_version = version
            for life in slot.lives:
                if life.version < version:
                    continue
                start = max(life.start, leak.when.start or life.start)
                in_a_row = 0
                while True:
                    killed = start + int((slot.limit_mb - slot.base_mb) / slot.leak_mb_per_min * MINUTE)
                    if killed >= min(life.end, until):
                        break
                    if killed - start >= BACKOFF_RESET_S * US:
                        in_a_row = 0
                    backoff = BACKOFF_S[min(in_a_row, len(BACKOFF_S) - 1)]
                    ready = killed + (REFUSING_S + backoff + START_S) * US
                    slot.outages.append(Outage(killed, killed + REFUSING_S * US, ready))
                    in_a_row += 1
                    start = ready

    def pick(self, service: str, at: int, draw: float) -> tuple[Slot, bool]:
        """The slot a request to `service` at `at` lands on (round-robin over routed endpoints, drawn by
        `draw` in [0, 1)), and whether that pod refuses the connection."""
        slots = self.slots[service]
        if not self.any_outage[service]:
            return slots[int(draw * len(slots))], False
        routed = [s for s in slots if s.routed(at)] or slots
        slot = routed[int(draw * len(routed))]
        return slot, slot.refusing(at)

    def live(self, service: str, at: int) -> list[Slot]:
        return [s for s in self.slots[service] if s.routed(at) and not s.refusing(at)]
