"""Where load comes from. Pure functions over the call graph and entry traffic.

Failures flow from callee to caller, but load flows the other way: a service drowning in requests is
often the victim of a caller that started sending more of them (a feature flag fanning out, a retry
policy multiplying attempts) or of customers arriving in a surge. Comparing each call edge's rate with
the baseline, scaled by how much more traffic entered the system, tells amplification from growth.
"""

from __future__ import annotations

from dataclasses import dataclass

from inquest.tools.telemetry import Table

SURGE_FACTOR = 2.0  # entry traffic at least doubled: load alone explains saturation downstream
AMPLIFICATION = 2.0  # an edge carrying at least twice the calls per caller request it used to
MIN_EXTRA_CALLS_PER_MIN = 5.0
# Counts are Poisson-ish: an excess smaller than this many standard deviations of the expected count is
# what light traffic does by itself.
MIN_POISSON_Z = 5.0


def covered_minutes(table: Table, nominal: float) -> float:
    """Minutes of a window that hold data (from span_minutes), or its nominal length when it says nothing."""
    minutes = table.rows[0][0] if table.rows else 0
    return float(minutes) if minutes else nominal


def poisson_z(observed: float, expected: float) -> float:
    return (observed - expected) / (expected + 1.0) ** 0.5


@dataclass(frozen=True)
class EntryTraffic:
    baseline_per_min: float
    incident_per_min: float
    incident_minutes: float = 1.0

    @property
    def factor(self) -> float:
        return self.incident_per_min / self.baseline_per_min if self.baseline_per_min else 1.0

    @property
    def surge(self) -> bool:
        expected = self.baseline_per_min * self.incident_minutes
        return self.factor >= SURGE_FACTOR and \
            poisson_z(self.incident_per_min * self.incident_minutes, expected) >= MIN_POISSON_Z


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


def entry_traffic(now: Table, before: Table, minutes: tuple[float, float]) -> EntryTraffic:
    """From entry_services tables (root spans per service) of the baseline and the incident window."""
    base = sum(r["requests"] for r in before.records()) / max(minutes[0], 1e-9)
    return EntryTraffic(base, sum(r["requests"] for r in now.records()) / max(minutes[1], 1e-9), minutes[1])


def amplified_edges(now: Table, before: Table, minutes: tuple[float, float], served_now: dict[str, int],
                    served_before: dict[str, int]) -> list[Edge]:
    """Call edges carrying far more calls per request of the caller than in the baseline, strongest first.
    Per request, not per minute: a caller serving more traffic sends more calls without amplifying
    anything, and traces collected for only part of a window thin out both counts alike."""
    per_request = {(r["caller"], r["callee"]): r["calls"] / served_before[r["caller"]] for r in before.records()
                   if served_before.get(r["caller"])}
    # A caller the baseline never saw has no past to compare with; a known caller opening a new edge is
    # fair game (a flag adding a call path).
    known = {caller for caller, _ in per_request}
    edges = []
    for row in now.records():
        caller = row["caller"]
        if caller not in known or not served_now.get(caller):
            continue
        expected_calls = served_now[caller] * per_request.get((caller, row["callee"]), 0.0)
        edge = Edge(caller, row["callee"], row["calls"] / max(minutes[1], 1e-9), expected_calls / max(minutes[1], 1e-9))
        if edge.ratio >= AMPLIFICATION and poisson_z(row["calls"], expected_calls) >= MIN_POISSON_Z and \
                edge.incident_per_min - edge.expected_per_min >= MIN_EXTRA_CALLS_PER_MIN:
            edges.append(edge)
    return sorted(edges, key=lambda e: -(e.incident_per_min - e.expected_per_min))
