"""The sampled requests: every span and log line, one request at a time, walking the call graph.

Each operation is interpreted from its steps (calls, statements, external calls, messages), with the
faults that act on it at that moment and on that pod, and with the saturation the load model computed
for that pod and database. Errors start where a fault or the load puts them and travel up the call
chain: the failing span, then each caller's client span and server span, each caller logging an ERROR
with the trace id. A caller's timeout ends its client span while the callee works on; a caller's retry
policy repeats the call. Spans and logs are written as tab-separated lines in TABLES column order
(empty field = NULL, traffic.py); what metrics and statement statistics are derived from is aggregated on the way.
"""

from __future__ import annotations

import math
from collections import defaultdict

from inquest.evals.sim.fleet import Fleet, Slot
from inquest.evals.sim.load import LoadModel
from inquest.evals.sim.model import (
    BUCKET,
    MINUTE,
    MS,
    US,
    Call,
    ClientTimeout,
    DatabaseFailover,
    External,
    ExtraCalls,
    FailOperation,
    Operation,
    PeerOutage,
    Publish,
    Query,
    Retries,
    Scenario,
    SlowOperation,
    Step,
    SwapStatement,
    TableLock,
    Topology,
)
from inquest.evals.sim.shop import DB_SPAN_ATTRS, DECLINE_REASONS, POOL_ATTRS, REASONS
from inquest.evals.sim.traffic import Clock, Flush, Traffic

REFUSED = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"


class OpEffects:
    """The faults that may act on one operation, sorted by kind, so a request checks only its own."""

    def __init__(self) -> None:
        self.slow: list[SlowOperation] = []
        self.fail: list[FailOperation] = []
        self.swap: list[SwapStatement] = []
        self.extra: list[ExtraCalls] = []
        self.retries: list[Retries] = []

    def __bool__(self) -> bool:
        return bool(self.slow or self.fail or self.swap or self.extra or self.retries)


class Requests(Traffic):
    """The sampled requests of one afternoon, interpreted from the scenario's topology. A request's
    context `c` is a tuple, for speed: (trace id, user, tenant, whether INFO lines are sampled, cart
    items, SKU, order id)."""

    def __init__(self, scenario: Scenario, topology: Topology, fleet: Fleet, load: LoadModel, clock: Clock,
                 seed: int, scale: float, t0: int, t1: int) -> None:
        super().__init__(clock, seed, scale, t0, t1)
        self.scenario, self.topology, self.fleet, self.load = scenario, topology, fleet, load
        self.ops = {(op.service, op.name): op for op in topology.operations}
        self.pool_of = {s.name: s for s in topology.services if s.pool_size}
        self.effects: dict[tuple[str, str], OpEffects] = defaultdict(OpEffects)
        for e in scenario.effects:
            for kind, attr in ((SlowOperation, "slow"), (FailOperation, "fail"), (SwapStatement, "swap"),
                               (ExtraCalls, "extra"), (Retries, "retries")):
                if isinstance(e, kind):
                    getattr(self.effects[(e.service, e.operation)], attr).append(e)
        self.client_timeouts = [e for e in scenario.effects if isinstance(e, ClientTimeout)]
        self.locks = [e for e in scenario.effects if isinstance(e, TableLock)]
        self.failovers = [e for e in scenario.effects if isinstance(e, DatabaseFailover)]
        self.outages = [e for e in scenario.effects if isinstance(e, PeerOutage)]
        # (pod, bucket) -> acquires, wait ms, timeouts
        self.pool: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0])
        # (minute, service, statement) -> calls, total ms, rows, lock wait ms
        self.db_stats: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])

    # -- plumbing ---------------------------------------------------------------------------------

    def _access(self, at, c, sid, service, host, op: Operation, code) -> None:
        if c[3] and op.kind == "SERVER":
            path = op.route.replace("{id}", str(c[5])).replace("{sku}", f"SKU-{c[5]:05d}")
            self._access_line(at, c, sid, service, host, op.method, path, code)

    def _on(self, when, at: int, slot: Slot | None) -> bool:
        level = self.load.act.on(when, at, slot)
        return level >= 1.0 or (level > 0 and self.r() < level)

    # -- traffic ----------------------------------------------------------------------------------

    def run(self, flush: Flush) -> None:
        """Simulates every request from t0 to t1, handing span lines to `flush` as time passes."""
        routes, entry = self.topology.routes, self.topology.entry
        base = self.scenario.base_rate * self.scale
        for t, route, user, items, sku in self.arrivals(lambda at: base * self.load.entry_multiplier(at),
                                                         [route.share for route in routes], flush):
            c = (f"{self.rng.getrandbits(128):032x}", f"u-{user:05d}", self.tenant_of[user], self.r() < 0.1,
                 items, sku, 4_000_000 + int(self.r() * 1_000_000))
            slot, _ = self.fleet.pick(entry, t, self.r())
            self.serve(c, (entry, routes[route].operation), t, "", slot)

    # -- one operation ----------------------------------------------------------------------------

    def serve(self, c, key: tuple[str, str], start: int, parent: str, slot: Slot) -> tuple[int, int, str]:
        """The operation's SERVER (or CONSUMER) span and everything below it: (end, status, message)."""
        op = self.ops[key]
        service = op.service
        life = slot.life(start)
        host = life.pod
        sid = self._id()
        state = self.load.slot_state(slot, start)
        if state.shed and self.r() < state.shed:
            end = start + self.ms((0.2, 1.5))
            message = "overloaded: request queue full, shedding load"
            self.log(end, c, sid, "ERROR", 17, service, host,
                     f"{op.name} rejected: {message} ({state.delay_ms / 1000:.1f}s of work queued)")
            self._span(c, sid, parent, service, host, op.name, op.kind, start, end, True, message, op.method,
                       op.route, 503)
            self._access(end, c, sid, service, host, op, 503)
            return end, 503, message
        mult = state.mult
        t = start + int(state.delay_ms * (0.4 + 1.2 * self.r()) * MS)
        pre = math.exp(math.log(op.pre_ms[0]) + op.pre_ms[1] * self.rng.gauss(0, 1)) * MS if op.lognormal \
            else self.ms(op.pre_ms)
        t += int(pre * mult)
        if op.flap and (start // US) % op.flap[0] < op.flap[1]:
            t += self.ms(op.flap[2])
        effects = self.effects.get(key)
        steps: list[Step] = list(op.steps)
        fail: FailOperation | None = None
        if effects:
            t, steps, fail = self._faults(effects, start, slot, t, steps)
        status, message = op.ok_status, ""
        if op.pool:
            t, message = self._acquire(c, sid, service, host, op.pool, state, t)
            status = 503 if message else status
        if status < 400:
            t, status, message = self._steps(c, key, op, steps, sid, host, slot, t, mult)
        if status < 400:
            t += int(self.ms(op.post_ms) * mult)
            if fail is not None:
                status, message = fail.status, fail.message
                self.log(t - 200, c, sid, "ERROR", 17, service, host, f"{op.name} failed: {message}")
            else:
                for outcome in op.outcomes:
                    if self.r() < outcome.rate:
                        status = outcome.status
                        if outcome.error:
                            message = outcome.message
                        detail = outcome.detail.format(sku=f"{c[5]:05d}", order_id=c[6], user=c[1])
                        self.log(t - 100, c, sid, outcome.severity, 17 if outcome.severity == "ERROR" else 13,
                                 service, host, outcome.message + detail)
                        break
        if status < 400 and c[3] and op.info:
            self.log(t - 300, c, sid, "INFO", 9, service, host, op.info.format(
                order_id=c[6], user=c[1], tenant=c[2], items=c[4]))
        error = status >= 500 or (op.kind == "CONSUMER" and bool(message))
        self._span(c, sid, parent, service, host, op.name, op.kind, start, t, error, message if error else "",
                   op.method, op.route, status if op.kind == "SERVER" else "")
        self._access(t, c, sid, service, host, op, status)
        return t, status, message

    def _faults(self, effects: OpEffects, start: int, slot: Slot, t: int,
                steps: list[Step]) -> tuple[int, list[Step], FailOperation | None]:
        """What the faults acting now do to one request of an operation: time added, statements swapped,
        calls added, and the failure it ends in, if one strikes: (time, steps, failure)."""
        fail = None
        for slower in effects.slow:
            if self._on(slower.when, start, slot):
                t += self.ms(slower.add_ms)
        for swap in effects.swap:
            if self._on(swap.when, start, slot):
                steps = [n for s in steps
                         for n in (swap.new if isinstance(s, Query) and s.statement == swap.old else (s,))]
        for extra in effects.extra:
            if self._on(extra.when, start, slot):
                steps.extend([extra.call] * (extra.count[0] + int(self.r() * (extra.count[1] - extra.count[0] + 1))))
        for failing in effects.fail:
            if self._on(failing.when, start, slot) and self.r() < failing.rate:
                fail = failing
        return t, steps, fail

    def _acquire(self, c, sid, service, host, db, state, t: int) -> tuple[int, str]:
        """A connection from the pool, as the load model says this pod's pool behaves now: (when the
        request holds one, or gave up; the timeout message if it gave up)."""
        pool, spec = state.pool, self.pool_of[service]
        size = pool.size if pool else spec.pool_size
        counter = self.pool[(host, (t - self.t0) // BUCKET)]
        counter[0] += 1
        draw = self.r()
        if pool and draw < pool.p_timeout:
            end = t + int(spec.pool_timeout_ms * MS) + self.ms((0.05, 0.6))
            message = f"timeout acquiring connection from pool after {spec.pool_timeout_ms:.0f}ms (pool size {size})"
            self._span(c, self._id(), sid, service, host, "pool.acquire", "INTERNAL", t, end, True, message,
                       attrs=POOL_ATTRS % db)
            counter[1] += (end - t) / MS
            counter[2] += 1
            pending = int(pool.pending * (0.8 + 0.4 * self.r()))
            self.log(end + 150, c, sid, "ERROR", 17, service, host, f"timed out waiting for connection from pool "
                     f"after {spec.pool_timeout_ms:.0f}ms (pool size {size}, pending {pending})")
            return end + self.ms((0.4, 2)), message
        wait = self.ms((0.03, 0.4))
        if pool and draw < pool.p_timeout + pool.p_wait:
            wait += int(min(self.rng.expovariate(1 / pool.mean_wait_ms), spec.pool_timeout_ms * 0.98) * MS)
        self._span(c, self._id(), sid, service, host, "pool.acquire", "INTERNAL", t, t + wait, False,
                   attrs=POOL_ATTRS % db)
        counter[1] += wait / MS
        return t + wait, ""

    def _steps(self, c, key, op: Operation, steps: list, sid: str, host: str, slot: Slot, t: int,
               mult: float) -> tuple[int, int, str]:
        service = op.service
        for step in steps:
            if isinstance(step, Query):
                for _ in range(c[4] if step.per_item else 1):
                    t, failure = self._query(c, sid, service, host, step, t + self.ms((0.1, 0.2)))
                    if failure:
                        self.log(t + 200, c, sid, "ERROR", 17, service, host, f"{step.name} failed: {failure}")
                        return t + self.ms((0.3, 1)), 500, failure
            elif isinstance(step, Call):
                t, code, message, failed = self._call(c, key, step, sid, host, t + self.ms((0.3, 1.5)))
                if failed and step.required:
                    text = f"{step.service} call failed: {message}"
                    self.log(t + 100, c, sid, "ERROR", 17, service, host, f"{text} order_id={c[6]}"
                             if service == "checkout" else text)
                    return t + self.ms((0.5, 2)), 500, text
                if 400 <= code < 500 and step.on_client_error == "stop":
                    return t, code, ""
            elif isinstance(step, External):
                t, code, message = self._external(c, sid, service, host, step, t)
                if code >= 500 or code == 0:
                    text = message if op.kind == "CONSUMER" else f"{step.peer} call failed: {message}"
                    self.log(t + 100, c, sid, "ERROR", 17, service, host, f"{text} (order_id={c[6]}, attempt 1/5)"
                             if op.kind == "CONSUMER" else f"{text} order_id={c[6]}")
                    return t + self.ms((0.5, 2)), 502 if op.kind == "SERVER" else 500, text
                if code == 402:
                    reason = DECLINE_REASONS[int(self.r() * len(DECLINE_REASONS))]
                    self.log(t + 100, c, sid, "WARN", 13, service, host, f"card declined: {reason} order_id={c[6]}")
                    return t + self.ms((1, 4)), 402, ""
            elif isinstance(step, Publish):
                producer = self._id()
                end = t + self.ms((0.6, 2.5))
                self._span(c, producer, sid, service, host, f"{step.topic} publish", "PRODUCER", t, end, False,
                           attrs=step.attrs)
                consumer = self.fleet.pick(step.consumer[0], end, self.r())[0]
                self.serve(c, step.consumer, end + self.ms((3, 60)), producer, consumer)
                t = end
        return t, self.ops[key].ok_status, ""

    def _query(self, c, sid, service, host, q: Query, start: int) -> tuple[int, str]:
        duration = int(self.ms(q.ms) * self.load.database(q.db, start))
        wait, failure = 0, ""
        for lock in self.locks:
            if lock.db == q.db and lock.table in q.statement and self._on(lock.when, start, None):
                assert lock.when.end is not None  # a lock is held from a time until a time
                left = lock.when.end - start
                if left > lock.statement_timeout_ms * MS:
                    wait, duration = int(lock.statement_timeout_ms * MS), self.ms((0.1, 0.5))
                    failure = "canceling statement due to statement timeout"
                else:
                    wait = left
        for failover in self.failovers:
            if failover.db == q.db and self._on(failover.when, start, None) and self.r() < failover.rate:
                duration, failure = self.ms((0.3, 3)), failover.message
        end = start + wait + duration
        self._span(c, self._id(), sid, service, host, q.name, "CLIENT", start, end, bool(failure), failure,
                   peer=q.db, statement=q.statement, attrs=DB_SPAN_ATTRS[q.db])
        stat = self.db_stats[((start - self.t0) // MINUTE, service, q.statement)]
        stat[0] += 1
        stat[1] += (end - start) / MS
        stat[2] += 0 if failure else (c[4] if q.rows is None else q.rows)
        stat[3] += wait / MS
        return end, failure

    def _timeout(self, service: str, peer: str, default: float, at: int) -> float:
        for e in self.client_timeouts:
            if e.service == service and e.peer == peer and self._on(e.when, at, None):
                return e.timeout_ms
        return default

    def _call(self, c, key, call: Call, parent: str, host: str, start: int) -> tuple[int, int, str, bool]:
        """A call with the caller's timeout and retry policy: (end, status, message, failed)."""
        service = key[0]
        attempts, backoff = call.attempts, call.backoff_ms
        effects = self.effects.get(key)
        # The caller's own pod is not tracked this deep: while a policy change rolls out, the share of
        # the caller's pods already running it decides, request by request.
        if effects:
            for e in effects.retries:
                if e.callee == (call.service, call.operation) and self._on(e.when, start, None):
                    attempts, backoff = e.attempts, e.backoff_ms
        timeout = self._timeout(service, call.service, call.timeout_ms, start)
        callee = (call.service, call.operation)
        op = self.ops[callee]
        attempt = 1
        while True:
            sid = self._id()
            slot, refused = self.fleet.pick(call.service, start, self.r())
            if refused:
                end, code, message, failed = start + self.ms((0.5, 3)), 503, f"503 {REFUSED}", True
            else:
                served, code, message = self.serve(c, callee, start + self._net(), sid, slot)
                end = served + self._net()
                failed = code >= 500
                if end - start > timeout * MS:
                    end, code, failed = start + int(timeout * MS), 0, True
                    message = f"timed out after {timeout / 1000:g}s waiting for {call.service}"
                elif failed:
                    message = f"{code} {REASONS.get(code, 'Error')}"
            self._span(c, sid, parent, service, host, op.name, "CLIENT", start, end, failed, message if failed else "",
                       op.method, op.route, code or "", call.service)
            if not failed or attempt >= attempts:
                return end, code, message, failed
            attempt += 1
            start = end + int(backoff * MS)

    def _external(self, c, parent, service, host, step: External, start: int) -> tuple[int, int, str]:
        """A call to an uninstrumented peer: (end, status, message); status 0 is a timeout."""
        r = self.r
        timeout = self._timeout(service, step.peer, step.timeout_ms, start)
        duration = self.ms(step.slow_ms) if r() < step.slow_share else self.ms(step.ms)
        code, message = 200, ""
        if step.fail_rate and r() < step.fail_rate:
            code, message = step.fail_status or 0, step.fail_message
        elif step.declines and r() < step.declines:
            code = 402
        for outage in self.outages:
            if outage.peer == step.peer and self._on(outage.when, start, None) and r() < outage.rate:
                duration, code, message = self.ms(outage.ms), outage.status, outage.message
        if duration > timeout * MS:
            duration, code = int(timeout * MS), 0
            message = f"timed out after {timeout / 1000:g}s waiting for {step.peer}"
        failed = code == 0 or code >= 500 or bool(message)
        end = start + duration
        self._span(c, self._id(), parent, service, host, step.name, "CLIENT", start, end, failed,
                   message if failed else "", step.method, "", code or "", step.peer, attrs=step.attrs)
        return end, code if not (failed and code < 500) else 0, message
