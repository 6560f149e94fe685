"""The pieces of queueing the load model is made of: pure functions and the state they produce.

A processor slows down as its utilisation nears one; a connection pool is an M/M/c queue (Erlang C);
a call with a given mean latency outlasts its timeout some of the time; a fault acts on a pod or on
a share of the service, depending on how it rolled out; a fluid model visits callees before callers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from inquest.evals.sim.fleet import Fleet, Slot
from inquest.evals.sim.model import US, Call, ExtraCalls, Operation, Publish, When


def slowdown(utilisation: float, knee: float = 0.55, cap: float = 0.95) -> float:
    """How much longer work takes on a busy processor: 1 below the knee, then ~1/(1-ρ)."""
    return max(1.0, (1 - knee) / (1 - min(utilisation, cap)))


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits, in an M/M/c queue with `offered` Erlangs (< servers)."""
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= offered / k
        total += term
    term *= offered / servers
    tail = term * servers / (servers - offered)
    return tail / (total + tail)


def timeout_share(mean_ms: float, timeout_ms: float) -> float:
    """Share of calls with mean latency `mean_ms` that outlast `timeout_ms` (a heavy-tailed guess)."""
    if mean_ms <= 0:
        return 0.0
    return 1.0 / (1.0 + (timeout_ms / mean_ms) ** 4)


@dataclass
class PoolState:
    p_timeout: float = 0.0
    p_wait: float = 0.0
    mean_wait_ms: float = 0.0  # of those that wait and get a connection
    in_use: float = 0.0
    pending: float = 0.0
    size: int = 0


def pool_state(size: int, arrivals: float, held: float, timeout_ms: float) -> PoolState:
    """A connection pool of `size` as an M/M/c queue (Erlang C): `arrivals` requests a second holding
    `held` connections on average between them. Past ~98% of the connections in use the queue only grows
    until waiters time out, which Erlang C (a steady state) cannot describe: then the overflow times out."""
    state = PoolState(size=size)
    if not arrivals:
        return state
    hold_ms = held / arrivals * 1000
    if held < size * 0.98:
        state.p_wait = erlang_c(size, held)
        state.mean_wait_ms = hold_ms / (size - held)
        state.p_timeout = state.p_wait * math.exp(-timeout_ms / state.mean_wait_ms)
        state.in_use = held
        state.pending = state.p_wait * held / (size - held)
    else:  # more work than connections: the queue fills until waiters time out
        state.p_timeout = max(1 - size / held, 0.02)
        state.p_wait = 1 - state.p_timeout
        state.mean_wait_ms = timeout_ms * 0.7
        state.in_use = size
        state.pending = arrivals * timeout_ms / 1000 * 0.85
    return state


@dataclass
class SlotState:
    mult: float = 1.0  # own work takes this many times longer
    delay_ms: float = 0.0  # queueing before the handler starts
    shed: float = 0.0  # share of requests refused with 503
    cpu: float = 0.0
    pool: PoolState | None = None


class Activation:
    """How much of an effect acts at a time: on one pod, or across the service."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.off = False  # while measuring the fault-free shop

    def on(self, when: When, at: int, slot: Slot | None = None) -> float:
        if self.off or (when.end is not None and at >= when.end):
            return 0.0
        if when.after is not None:
            service, version = self.fleet.version_of[when.after]
            if slot is not None and slot.service == service:
                return when.share if slot.life(at).version >= version else 0.0
            slots = self.fleet.slots[service]
            return when.share * sum(s.life(at).version >= version for s in slots) / len(slots)
        assert when.start is not None
        if at < when.start:
            return 0.0
        if when.ramp_s and at < when.start + when.ramp_s * US:
            return when.share * (at - when.start) / (when.ramp_s * US)
        return when.share


def mean(r: tuple[float, float]) -> float:
    return (r[0] + r[1]) / 2


def own_ms(op: Operation) -> float:
    pre = op.pre_ms[0] * math.exp(op.pre_ms[1] ** 2 / 2) if op.lognormal else mean(op.pre_ms)
    return pre + mean(op.post_ms)


def callees_first(ops: dict[tuple[str, str], Operation], extra: list[ExtraCalls]) -> list[tuple[str, str]]:
    """Every operation after everything it calls or publishes to (and the calls a fault adds), so a
    fluid model can compute each callee's latency and failure before its callers read them."""
    order: list[tuple[str, str]] = []
    added = defaultdict(list)
    for e in extra:
        added[(e.service, e.operation)].append((e.call.service, e.call.operation))

    def visit(key: tuple[str, str]) -> None:
        if key in order:
            return
        for step in ops[key].steps:
            if isinstance(step, Call):
                visit((step.service, step.operation))
            elif isinstance(step, Publish):
                visit(step.consumer)
        for callee in added[key]:
            visit(callee)
        order.append(key)

    for key in ops:
        visit(key)
    return order
