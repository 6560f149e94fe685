"""How saturated everything is, every ten seconds: the physics under the sampled requests.

The traces are a sample; the shop serves NOMINAL_RATE requests a second at its average. Saturation is
computed from that full traffic as a fluid model, bucket by bucket, so it does not depend on the sample
size: request rates flow down the call graph (multiplied by retries of failing calls and by extra calls
a fault adds); each pod's CPU demand gives its utilisation, a slowdown, and once it exceeds its capacity
a backlog (queueing delay, capped: beyond it the pod sheds requests with 503); each database's load slows
its statements; each connection pool is an M/M/c queue (Erlang C) over the time connections are held.
From these come every operation's failure probability and mean latency, which the next bucket's retries
and client timeouts feed on: a retry storm or a saturated dependency grows on its own, as in production.
"""

from __future__ import annotations

from collections import defaultdict

from inquest.evals.sim.fleet import Fleet, Slot
from inquest.evals.sim.model import (
    MS,
    US,
    Call,
    ClientTimeout,
    DatabaseFailover,
    Effect,
    External,
    ExtraCalls,
    FailOperation,
    HostSteal,
    PeerOutage,
    PoolSize,
    Publish,
    Query,
    Retries,
    SlowOperation,
    Step,
    SwapStatement,
    TableLock,
    Topology,
    TrafficSurge,
)
from inquest.evals.sim.queueing import (
    Activation,
    PoolState,
    SlotState,
    callees_first,
    mean,
    own_ms,
    pool_state,
    slowdown,
    timeout_share,
)
from inquest.evals.sim.traffic import diurnal

NOMINAL_RATE = 2000.0  # entry requests per second the sampled traces stand for, on average
DT = 10 * US
MEAN_ITEMS = 7.5  # cart lines at checkout: 3..12
NET_MS = 1.3  # a call's two network legs
QUEUE_CAP_S = 3.0  # a pod's backlog beyond this many seconds of work is shed
GAP_MS = 0.15  # between statements on one connection


class LoadModel:
    def __init__(self, topology: Topology, effects: tuple[Effect, ...], fleet: Fleet, t0: int, t1: int) -> None:
        self.topology, self.effects, self.fleet, self.t0, self.t1 = topology, effects, fleet, t0, t1
        self.act = Activation(fleet)
        self._by_kind: dict[type, list] = defaultdict(list)
        for effect in effects:
            self._by_kind[type(effect)].append(effect)
        self.ops = {(op.service, op.name): op for op in topology.operations}
        self._swapped = {(e.service, e.operation) for e in self._of(SwapStatement)}
        self._plain_queries = {key: [(q, 1.0) for q in op.steps if isinstance(q, Query)]
                               for key, op in self.ops.items()}
        self.order = callees_first(self.ops, self._of(ExtraCalls))
        self.buckets = (t1 - t0) // DT
        self.slot_states: dict[tuple[str, int], list[SlotState]] = {
            (s, slot.index): [] for s, slots in fleet.slots.items() for slot in slots}
        self.db_mult: dict[str, list[float]] = {db: [] for db in topology.databases}
        self.entry: list[float] = []  # entry traffic relative to nominal
        self.p_fail: dict[tuple[str, str], float] = {k: 0.0 for k in self.ops}
        self.latency: dict[tuple[str, str], float] = {}
        for key in self.order:
            self.latency[key] = self._static_latency(key)
        self.act.off = True
        self.nominal_work, self.nominal_db = self._nominal()
        self.act.off = False
        self._backlog: dict[tuple[str, int], float] = defaultdict(float)
        self._pool_loss: dict[str, float] = defaultdict(float)  # last bucket's, smoothed
        # (minute, service, statement) -> [calls, execution ms, rows, lock-wait ms] of statements that
        # waited for a lock, over all traffic: what the database itself reports, and what the few sampled
        # statements that got a connection while the lock was held cannot show
        self.locked: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])

    def _of(self, kind: type) -> list:
        return self._by_kind.get(kind, [])

    def _static_latency(self, key: tuple[str, str]) -> float:
        op = self.ops[key]
        total = own_ms(op)
        for step in op.steps:
            if isinstance(step, Query):
                total += mean(step.ms) * (MEAN_ITEMS if step.per_item else 1)
            elif isinstance(step, Call):
                total += NET_MS + self.latency.get((step.service, step.operation), 0.0)
            elif isinstance(step, External):
                total += mean(step.ms)
        return total

    # -- rates ------------------------------------------------------------------------------------

    def _queries(self, key: tuple[str, str], at: int, slot: Slot | None) -> list[tuple[Query, float]]:
        """The statements an operation runs per request, each with the share of requests running it."""
        if key not in self._swapped:
            return self._plain_queries[key]
        op = self.ops[key]
        swaps = [(e, self.act.on(e.when, at, slot)) for e in self._of(SwapStatement) if (e.service, e.operation) == key]
        out: list[tuple[Query, float]] = []
        for step in op.steps:
            if not isinstance(step, Query):
                continue
            kept = 1.0
            for swap, level in swaps:
                if level and swap.old == step.statement:
                    kept -= level
                    out.extend((q, level) for q in swap.new)
            out.append((step, max(kept, 0.0)))
        return out

    def _attempts(self, key: tuple[str, str], call: Call, at: int) -> float:
        attempts = float(call.attempts)
        for e in self._of(Retries):
            if (e.service, e.operation) == key and e.callee == (call.service, call.operation):
                level = self.act.on(e.when, at)
                attempts = attempts * (1 - level) + e.attempts * level
        return attempts

    def _timeout(self, service: str, peer: str, default: float, at: int) -> float:
        for e in self._of(ClientTimeout):
            if e.service == service and e.peer == peer:
                level = self.act.on(e.when, at)
                if level:
                    return default * (1 - level) + e.timeout_ms * level
        return default

    def _seen_failure(self, caller: str, call: Call, at: int) -> float:
        """Failure probability of one attempt, as the caller sees it (errors, or its timeout)."""
        callee = (call.service, call.operation)
        timeout = self._timeout(caller, call.service, call.timeout_ms, at)
        late = timeout_share(self.latency[callee], timeout)
        return 1 - (1 - self.p_fail[callee]) * (1 - late)

    def _rates(self, at: int, entry: float) -> dict[tuple[str, str], float]:
        rates: dict[tuple[str, str], float] = defaultdict(float)
        extra = [(e, self.act.on(e.when, at)) for e in self._of(ExtraCalls)]

        def visit(key: tuple[str, str], rate: float) -> None:
            rates[key] += rate
            op = self.ops[key]
            going = rate
            # Each call with how many times a request makes it (a fault's extra calls, as many as it adds).
            calls: list[tuple[Step, float]] = [(s, 1.0) for s in op.steps if not isinstance(s, Query)]
            for e, level in extra:
                if level and (e.service, e.operation) == key:
                    calls.append((e.call, level * mean(e.count)))
            for step, count in calls:
                if isinstance(step, Call):
                    n = self._attempts(key, step, at)
                    p = min(self._seen_failure(key[0], step, at), 0.999)
                    expected = (1 - p ** n) / (1 - p)
                    visit((step.service, step.operation), going * count * expected)
                    if step.required:
                        going *= 1 - p ** n
                elif isinstance(step, Publish):
                    visit(step.consumer, going)

        for route in self.topology.routes:
            visit((self.topology.entry, route.operation), entry * route.share)
        return rates

    def _nominal(self) -> tuple[dict[str, float], dict[str, float]]:
        rates = self._rates(self.t0 - 10 * DT, 1.0)  # before any effect, nothing failing yet
        work: dict[str, float] = defaultdict(float)
        db: dict[str, float] = defaultdict(float)
        for key, rate in rates.items():
            work[key[0]] += rate * self.ops[key].weight
            for q, share in self._queries(key, self.t0 - 10 * DT, None):
                db[q.db] += rate * share * mean(q.ms) * (MEAN_ITEMS if q.per_item else 1)
        return dict(work), dict(db)

    # -- one bucket -------------------------------------------------------------------------------

    def run(self) -> LoadModel:
        for b in range(self.buckets):
            self._step(self.t0 + b * DT + DT // 2)
        return self

    def _step(self, at: int) -> None:
        entry = diurnal(at, self.t0)
        for surge in self._of(TrafficSurge):
            entry *= 1 + (surge.multiplier - 1) * self.act.on(surge.when, at)
        self.entry.append(entry)
        rates = self._rates(at, entry)
        db_mult = self._databases(at, rates)

        shed_of: dict[str, float] = {}
        refused_of: dict[str, float] = {}
        pool_of: dict[str, list[PoolState]] = defaultdict(list)
        delay_of: dict[str, float] = {}
        mult_of: dict[str, float] = {}
        work_of: dict[str, float] = defaultdict(float)
        for key, rate in rates.items():
            work_of[key[0]] += rate * self.ops[key].weight
        steals = bool(self._of(HostSteal))
        for spec in self.topology.services:
            slots = self.fleet.slots[spec.name]
            outages = self.fleet.any_outage[spec.name]
            live = (self.fleet.live(spec.name, at) or slots) if outages else slots
            work = work_of[spec.name]
            share = work / len(live) / (self.nominal_work.get(spec.name, 1.0) / spec.pods)
            sheds, delays, mults, refused = [], [], [], 0
            for slot in slots:
                state = SlotState()
                steal = sum(self.act.on(e.when, at, slot) * e.steal for e in self._of(HostSteal)
                            if e.service == spec.name and e.slot == slot.index) if steals else 0.0
                refusing = outages and slot.refusing(at)
                routed = not outages or (slot.routed(at) and not refusing)
                refused += refusing
                util = spec.cpu * share / (1 - steal) if routed else 0.0
                backlog = self._backlog[(spec.name, slot.index)]
                backlog = min(QUEUE_CAP_S, max(0.0, backlog + (util - 1) * DT / US))
                self._backlog[(spec.name, slot.index)] = backlog
                state.delay_ms = backlog * 1000
                state.shed = (util - 1) / util if backlog >= QUEUE_CAP_S and util > 1 else 0.0
                memory = slot.memory_mb(at) / slot.limit_mb if slot.leak_mb_per_min else 0.0
                gc = 1 + 25 * ((memory - 0.85) / 0.15) ** 2 if memory > 0.85 else 1.0  # the collector thrashes
                state.mult = slowdown(util) * gc
                state.cpu = min(0.995, util + 0.25 * steal) if routed else 0.0
                if spec.pool_size:
                    state.pool = self._pool(spec.name, spec.pool_size, spec.pool_timeout_ms, rates, slot,
                                            len(live), at, db_mult, state.mult)
                    pool_of[spec.name].append(state.pool)
                if routed:
                    sheds.append(state.shed)
                    delays.append(state.delay_ms)
                    mults.append(state.mult)
                self.slot_states[(spec.name, slot.index)].append(state)
            shed_of[spec.name] = sum(sheds) / len(sheds) if sheds else 1.0
            if pool_of.get(spec.name):
                loss = sum(p.p_timeout for p in pool_of[spec.name]) / len(pool_of[spec.name])
                self._pool_loss[spec.name] = 0.5 * self._pool_loss[spec.name] + 0.5 * loss
            delay_of[spec.name] = sum(delays) / len(delays) if delays else 0.0
            mult_of[spec.name] = sum(mults) / len(mults) if mults else 1.0
            refused_of[spec.name] = refused / len(slots)
        self._failures_and_latency(at, shed_of, refused_of, delay_of, mult_of, pool_of, db_mult)

    def _databases(self, at: int, rates: dict[tuple[str, str], float]) -> dict[str, float]:
        """How much slower each database answers now than idle, from the statement work the rates send it."""
        db_work: dict[str, float] = defaultdict(float)
        for key, rate in rates.items():
            # Requests that timed out waiting for a connection never reach the database.
            reaching = 1 - self._pool_loss[key[0]] if self.ops[key].pool else 1.0
            for q, share in self._queries(key, at, None):
                db_work[q.db] += rate * reaching * share * mean(q.ms) * (MEAN_ITEMS if q.per_item else 1)
        db_mult = {}
        for db, nominal_util in self.topology.databases.items():
            util = nominal_util * db_work.get(db, 0.0) / max(self.nominal_db.get(db, 0.0), 1e-9)
            db_mult[db] = slowdown(util, knee=0.5, cap=0.92)
            self.db_mult[db].append(db_mult[db])
        return db_mult

    def _lock(self, q: Query, at: int) -> tuple[float, float]:
        """(expected wait ms, probability of a statement timeout) for a statement arriving at `at`."""
        for lock in self._of(TableLock):
            if lock.db == q.db and lock.table in q.statement and self.act.on(lock.when, at):
                assert lock.when.end is not None
                left = (lock.when.end - at) / MS
                return min(left, lock.statement_timeout_ms), float(left > lock.statement_timeout_ms)
        return 0.0, 0.0

    def _pool_size(self, service: str, default: int, at: int, slot: Slot) -> int:
        size = default
        for e in self._of(PoolSize):
            if e.service == service and self.act.on(e.when, at, slot):
                size = e.size
        return size

    def _pool(self, service: str, size: int, timeout_ms: float, rates: dict, slot: Slot, live: int, at: int,
              db_mult: dict[str, float], mult: float) -> PoolState:
        size = self._pool_size(service, size, at, slot)
        arrivals, held = 0.0, 0.0
        waiting: list[tuple[Query, float, float]] = []  # (statement, its calls a second, its lock wait)
        for key, rate in rates.items():
            op = self.ops[key]
            if key[0] != service or not op.pool:
                continue
            per_pod = rate * NOMINAL_RATE / live
            hold = mean(op.post_ms) * mult  # the handler's own work runs inside the transaction
            for q, share in self._queries(key, at, slot):
                wait, _ = self._lock(q, at)
                count = MEAN_ITEMS if q.per_item else 1
                hold += share * count * (mean(q.ms) * db_mult[q.db] + GAP_MS + wait)
                if wait:
                    waiting.append((q, per_pod * share * count, wait))
            arrivals += per_pod
            held += per_pod * hold / 1000
        state = pool_state(size, arrivals, held, timeout_ms)
        if not arrivals:
            return state
        minute = (at - self.t0) // (60 * US)
        for q, per_s, wait in waiting:
            calls = per_s * (1 - state.p_timeout) * DT / US  # only requests that got a connection get there
            row = self.locked[(minute, service, q.statement)]
            row[0] += calls
            row[1] += calls * (mean(q.ms) * db_mult[q.db] + wait)
            row[2] += calls * (MEAN_ITEMS if q.rows is None else q.rows)
            row[3] += calls * wait
        return state

    def _failures_and_latency(self, at: int, shed_of: dict[str, float], refused_of: dict[str, float],
                              delay_of: dict[str, float], mult_of: dict[str, float],
                              pool_of: dict[str, list[PoolState]], db_mult: dict[str, float]) -> None:
        extra = [(e, self.act.on(e.when, at)) for e in self._of(ExtraCalls)]
        for key in self.order:
            op, service = self.ops[key], key[0]
            ok = (1 - shed_of[service]) * (1 - refused_of[service])
            latency = delay_of[service] + own_ms(op) * mult_of[service]
            for e in self._of(FailOperation):
                if (e.service, e.operation) == key:
                    ok *= 1 - e.rate * self.act.on(e.when, at)
            for e in self._of(SlowOperation):
                if (e.service, e.operation) == key:
                    latency += mean(e.add_ms) * self.act.on(e.when, at)
            ok *= 1 - sum(o.rate for o in op.outcomes if o.error)
            pools = pool_of.get(service) if op.pool else None
            if pools:
                ok *= 1 - sum(p.p_timeout for p in pools) / len(pools)
                latency += sum(p.p_wait * p.mean_wait_ms for p in pools) / len(pools)
            for q, share in self._queries(key, at, None):
                wait, timed_out = self._lock(q, at)
                count = MEAN_ITEMS if q.per_item else 1
                latency += share * count * (mean(q.ms) * db_mult[q.db] + wait)
                failover = sum(f.rate * self.act.on(f.when, at) for f in self._of(DatabaseFailover) if f.db == q.db)
                ok *= 1 - share * min(1.0, failover + timed_out)
            calls: list[tuple] = [(s, 1.0) for s in op.steps if isinstance(s, (Call, External))]
            calls += [(e.call, level * mean(e.count)) for e, level in extra
                      if level and (e.service, e.operation) == key]
            for step, count in calls:
                if isinstance(step, External):
                    lat, fail = self._external(service, step, at)
                    latency += lat
                    ok *= 1 - fail
                    continue
                callee = (step.service, step.operation)
                n = self._attempts(key, step, at)
                timeout = self._timeout(service, step.service, step.timeout_ms, at)
                p = self._seen_failure(service, step, at)
                latency += count * (NET_MS + min(self.latency[callee], timeout)) * (1 - p ** n) / max(1 - p, 1e-3)
                if step.required:
                    ok *= 1 - min(1.0, count * p ** n)
            self.p_fail[key] = 1 - ok
            self.latency[key] = latency

    def _external(self, service: str, step: External, at: int) -> tuple[float, float]:
        timeout = self._timeout(service, step.peer, step.timeout_ms, at)
        normal = (1 - step.slow_share) * mean(step.ms) + step.slow_share * mean(step.slow_ms)
        late = step.slow_share * max(0.0, min(1.0, (step.slow_ms[1] - timeout) / (step.slow_ms[1] - step.slow_ms[0]
                                                                                   or 1)))
        fail = step.fail_rate + late
        for e in self._of(PeerOutage):
            if e.peer == step.peer:
                level = e.rate * self.act.on(e.when, at)
                normal = normal * (1 - level) + min(mean(e.ms), timeout) * level
                fail = fail * (1 - level) + level
        return normal, min(fail, 1.0)

    # -- what the request generator reads ---------------------------------------------------------

    def slot_state(self, slot: Slot, at: int) -> SlotState:
        states = self.slot_states[(slot.service, slot.index)]
        return states[min(max((at - self.t0) // DT, 0), len(states) - 1)]

    def entry_multiplier(self, at: int) -> float:
        return self.entry[min(max((at - self.t0) // DT, 0), len(self.entry) - 1)]

    def database(self, db: str, at: int) -> float:
        values = self.db_mult[db]
        return values[min(max((at - self.t0) // DT, 0), len(values) - 1)]
