"""Where load comes from. Pure functions over the call graph and entry traffic.

Failures flow from callee to caller, but load flows the other way: a service drowning in requests is
often the victim of a caller that started sending more of them (a feature flag fanning out, a retry
policy multiplying attempts) or of customers arriving in a surge. Comparing each call edge's rate with
the baseline, scaled by how much more traffic entered the system, tells amplification from growth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inquest.tools.backends.protocol import Table

SURGE_FACTOR = 2.0  # entry traffic at least doubled: load alone explains saturation downstream
AMPLIFICATION = 2.0  # an edge carrying at least twice the calls per caller request it used to
MIN_EXTRA_CALLS_PER_MIN = 5.0
# Counts are Poisson-ish: an excess smaller than this many standard deviations of the expected count is
# what light traffic does by itself.
MIN_POISSON_Z = 5.0
REQUEST_RATE = "http.server.request.rate"  # requests per second a service served, where metrics report it


def covered_minutes(table: Table, nominal: float) -> float:
    """Minutes of a window that collection covered (from span_minutes: the time spans were arriving, not
    every minute holding one span), or its nominal length when it says nothing."""
    row = table.records()[0] if table.rows else {}
    minutes = row.get("covered_minutes", row.get("minutes")) or 0
    return float(minutes) if minutes else nominal


def poisson_z(observed: float, expected: float) -> float:
    return (observed - expected) / math.sqrt(expected + 1.0)


@dataclass(frozen=True)
class EntryTraffic:
    """Requests entering the system in the baseline and the incident window, counted over the time each
    was observed (covered minutes of traces, or the request-rate metric's own series)."""

    baseline_count: float
    baseline_minutes: float
    incident_count: float
    incident_minutes: float
    source: str = "spans"  # or the metric the counts derive from

    @property
    def baseline_per_min(self) -> float:
        return self.baseline_count / max(self.baseline_minutes, 1e-9)

    @property
    def incident_per_min(self) -> float:
        return self.incident_count / max(self.incident_minutes, 1e-9)

    @property
    def factor(self) -> float:
        return self.incident_per_min / self.baseline_per_min if self.baseline_per_min else 1.0

    @property
    def surge(self) -> bool:
        """At least doubled, and the rise is far outside what two Poisson counts would show by chance:
        the log rate ratio in units of its standard error, so a baseline of a handful of requests
        (traces collected for a few seconds) cannot by itself make a surge."""
        if self.factor < SURGE_FACTOR or not self.baseline_count:
            return False
        spread = math.sqrt(1.0 / (self.baseline_count + 0.5) + 1.0 / (self.incident_count + 0.5))
        return math.log(self.factor) / spread >= MIN_POISSON_Z


@dataclass(frozen=True)
class Edge:
    caller: str
    callee: str
    incident_per_min: float
    expected_per_min: float  # what the caller's own requests would have sent at the baseline's calls per request

    @property
    def ratio(self) -> float:
        return (self.incident_per_min + 1.0) / (self.expected_per_min + 1.0)


def served(stats: Table) -> dict[str, int]:
    """service -> requests it served (SERVER and CONSUMER spans), from span_stats."""
    out: dict[str, int] = {}
    for r in stats.records():
        if r["kind"] in ("SERVER", "CONSUMER"):
            out[r["service"]] = out.get(r["service"], 0) + r["requests"]
    return out


def entry_traffic(now: Table, before: Table, minutes: tuple[float, float],
                  metric: tuple[float, float] | None = None) -> EntryTraffic:
    """From entry_services tables (root spans per service) of the baseline and the incident window over
    their covered minutes; or, where the entry services report a request-rate metric in both windows
    (`metric`: requests per minute before and during), from that metric, which does not depend on how
    completely traces were collected."""
    if metric is not None and metric[0] > 0 and metric[1] > 0:
        return EntryTraffic(metric[0] * minutes[0], minutes[0], metric[1] * minutes[1], minutes[1],
                            source=REQUEST_RATE)
    return EntryTraffic(sum(r["requests"] for r in before.records()), minutes[0],
                        sum(r["requests"] for r in now.records()), minutes[1])


def entry_metric(metric_now: Table, metric_before: Table, entries_now: Table,
                 entries_before: Table) -> tuple[float, float] | None:
    """Requests per minute at the entry services (those with root spans) from the request-rate metric,
    (before, during), or None when either window lacks it."""
    entry = {r["service"] for t in (entries_now, entries_before) for r in t.records()}
    rates = (metric_rate(metric_before, entry), metric_rate(metric_now, entry))
    return rates if all(rates) else None


def metric_rate(stats: Table, services: set[str]) -> float:
    """Requests per minute entering at `services`, from metric_stats of REQUEST_RATE (per second, per
    host or per service): the sum over hosts of each host's median."""
    return 60.0 * sum(r["median"] or 0.0 for r in stats.records()
                      if r["service"] in services and r["name"] == REQUEST_RATE)


def amplified_edges(now: Table, before: Table, minutes: tuple[float, float], served_now: dict[str, int],
                    served_before: dict[str, int]) -> list[Edge]:
    """Call edges carrying far more calls per request of the caller than in the baseline, strongest first.
    Per request, not per minute: a caller serving more traffic sends more calls without amplifying
    anything, and traces collected for only part of a window thin out both counts alike."""
    calls_before, calls_now = _edge_calls(before), _edge_calls(now)
    per_request = {edge: calls / served_before[edge[0]] for edge, calls in calls_before.items()
                   if served_before.get(edge[0])}
    # A caller the baseline never saw has no past to compare with; a known caller opening a new edge is
    # fair game (a flag adding a call path).
    known = {caller for caller, _ in per_request}
    edges = []
    for (caller, callee), calls in calls_now.items():
        if caller not in known or not served_now.get(caller):
            continue
        expected_calls = served_now[caller] * per_request.get((caller, callee), 0.0)
        edge = Edge(caller, callee, calls / max(minutes[1], 1e-9), expected_calls / max(minutes[1], 1e-9))
        if edge.ratio >= AMPLIFICATION and poisson_z(calls, expected_calls) >= MIN_POISSON_Z and \
                edge.incident_per_min - edge.expected_per_min >= MIN_EXTRA_CALLS_PER_MIN:
            edges.append(edge)
    return sorted(edges, key=lambda e: -(e.incident_per_min - e.expected_per_min))


def _edge_calls(graph: Table) -> dict[tuple[str, str], int]:
    """(caller, callee) -> calls. An edge can come in two rows, answered calls (client span -> server span)
    and unanswered ones (client spans naming the peer, whose server span was not collected): both are
    calls the caller sent."""
    calls: dict[tuple[str, str], int] = {}
    for r in graph.records():
        key = (r["caller"], r["callee"])
        calls[key] = calls.get(key, 0) + r["calls"]
    return calls
