"""Which side of a call edge is slow: the caller, the wire, or the callee. Pure functions.

For a call seen on both sides, the caller's client span contains the callee's server span; what the
client span holds beyond it (the gap) is the network, queues and (de)serialisation. So:

- the gap grew while the callee's span did not: the edge is slow (a network delay). It is credited to
  the callee being called, whose network it usually is, never to the caller's own code;
- the callee's span grew with its exclusive time: the callee's own code is slow;
- the callee's span grew but not its exclusive time: the time is added further down, below the callee.

Without client spans (the callee's server span hangs directly under the caller's server span) the gap
is mixed with the caller's own work: a slow wire and a slow caller cannot be told apart from spans,
and the evidence says so. A quantity "grew" when its median in the window is above the baseline's 90th
percentile (more than half the calls now take longer than nine in ten did) by more than the clock's
resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inquest.tools.backends.protocol import Table


@dataclass(frozen=True)
class EdgeVerdict:
    caller: str
    callee: str
    client: bool  # the caller's span is a client span, so the gap is the wire
    calls: int
    gap_before_ms: float
    gap_now_ms: float
    callee_before_ms: float
    callee_now_ms: float
    verdict: str  # "network", "caller_side", "callee", "below_callee", "caller_or_network"

    @property
    def blamed(self) -> str | None:
        """The service the edge's slowness is credited to, if spans can tell."""
        if self.verdict == "caller_side":
            return self.caller
        return self.callee if self.verdict in ("network", "callee") else None

    @property
    def new_share(self) -> float:
        """How much of the slow part's time (the gap for a slow wire, the callee's span otherwise) is new."""
        before, now = ((self.gap_before_ms, self.gap_now_ms) if self.verdict in ("network", "caller_side", "caller_or_network")
                       else (self.callee_before_ms, self.callee_now_ms))
        return round(max(0.0, 1.0 - max(before, 0.0) / now), 4) if now > 0 else 0.0

    def describe(self) -> str:
        edge = f"{self.caller} → {self.callee}"
        gap = f"the time outside {self.callee}'s span grew {self.gap_before_ms:.1f} → {self.gap_now_ms:.1f} ms (median)"
        callee = f"{self.callee}'s own span {self.callee_before_ms:.1f} → {self.callee_now_ms:.1f} ms"
        return {
            "network": f"network delay on {edge}: {gap} while {callee} did not grow — the wire or {self.callee}'s "
                       f"network, not {self.caller}'s code",
            "caller_side": f"{edge}: {gap} while {callee} did not grow, and so did the gap on the other calls "
                           f"{self.caller} makes — {self.caller}'s side (its CPU or its network), not {self.callee}'s",
            "callee": f"{self.callee} is slow when {self.caller} calls it: {callee}, with its exclusive time",
            "below_callee": f"{edge}: {callee}, but not its exclusive time — the time is added below {self.callee}",
            "caller_or_network": f"{edge} has no client spans: {gap}; {self.caller}'s own work and the wire cannot "
                                 "be told apart without client spans",
        }[self.verdict]


def _grew(now: float | None, before_p50: float | None, before_p90: float | None, tick: float) -> bool:
    if now is None or before_p50 is None:
        return False
    return now > max(before_p90 if before_p90 is not None else before_p50, before_p50 + tick) + tick


def judge_edges(now: Table, before: Table, tick: float = 0.0) -> list[EdgeVerdict]:
    """Edges (from edge_latency of the window and the baseline) where something grew, slowest first."""
    past = {(r["caller"], r["callee"], r["client"]): r for r in before.records()}
    verdicts = []
    for r in now.records():
        b = past.get((r["caller"], r["callee"], r["client"]))
        if b is None:
            continue
        gap = _grew(r["gap_p50_ms"], b["gap_p50_ms"], b["gap_p90_ms"], tick)
        callee = _grew(r["callee_p50_ms"], b["callee_p50_ms"], b["callee_p90_ms"], tick)
        own = _grew(r["callee_self_p50_ms"], b["callee_self_p50_ms"], b["callee_self_p90_ms"], tick)
        if gap and not callee:
            verdict = "network" if r["client"] else "caller_or_network"
        elif callee:
            verdict = "callee" if own else "below_callee"
        else:
            continue
        verdicts.append(EdgeVerdict(r["caller"], r["callee"], bool(r["client"]), int(r["calls"]),
                                    b["gap_p50_ms"] or 0.0, r["gap_p50_ms"] or 0.0, b["callee_p50_ms"] or 0.0,
                                    r["callee_p50_ms"] or 0.0, verdict))
    return _sides(sorted(verdicts, key=lambda v: -max(v.gap_now_ms - v.gap_before_ms,
                                                      v.callee_now_ms - v.callee_before_ms)))


def _sides(verdicts: list[EdgeVerdict]) -> list[EdgeVerdict]:
    """A slow wire is shared by the edges of the side it belongs to: a callee's network slows every call
    into it, a caller's (or a caller starved of CPU, late to read its answers) every call out of it. An
    edge whose caller has more slow wires out than its callee has in is the caller's; a lone slow edge
    stays the callee's, the usual place of an injected or congested network."""
    out: dict[str, int] = {}
    into: dict[str, int] = {}
    for v in verdicts:
        if v.verdict == "network":
            out[v.caller] = out.get(v.caller, 0) + 1
            into[v.callee] = into.get(v.callee, 0) + 1
    return [replace(v, verdict="caller_side") if v.verdict == "network" and out[v.caller] > 1 and
            out[v.caller] > into[v.callee] else v for v in verdicts]
