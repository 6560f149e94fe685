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
AMPLIFICATION = 2.0  # an edge carrying at least twice what the entry traffic predicts
MIN_EXTRA_CALLS_PER_MIN = 5.0


@dataclass(frozen=True)
class EntryTraffic:
    baseline_per_min: float
    incident_per_min: float

    @property
    def factor(self) -> float:
        return self.incident_per_min / self.baseline_per_min if self.baseline_per_min else 1.0

    @property
    def surge(self) -> bool:
        return self.factor >= SURGE_FACTOR


@dataclass(frozen=True)
class Edge:
    caller: str
    callee: str
    incident_per_min: float
    expected_per_min: float  # the baseline's rate scaled by the change in entry traffic

    @property
    def ratio(self) -> float:
        return (self.incident_per_min + 1.0) / (self.expected_per_min + 1.0)


def entry_traffic(now: Table, before: Table, minutes: tuple[float, float]) -> EntryTraffic:
    """From entry_services tables (root spans per service) of the baseline and the incident window."""
    base = sum(r["requests"] for r in before.records()) / max(minutes[0], 1e-9)
    return EntryTraffic(base, sum(r["requests"] for r in now.records()) / max(minutes[1], 1e-9))


def amplified_edges(now: Table, before: Table, minutes: tuple[float, float], traffic: float) -> list[Edge]:
    """Call edges carrying far more calls than the entry traffic explains, strongest first."""
    expected = {(r["caller"], r["callee"]): r["calls"] / max(minutes[0], 1e-9) * traffic for r in before.records()}
    edges = []
    for row in now.records():
        edge = Edge(row["caller"], row["callee"], row["calls"] / max(minutes[1], 1e-9),
                    expected.get((row["caller"], row["callee"]), 0.0))
        if edge.ratio >= AMPLIFICATION and edge.incident_per_min - edge.expected_per_min >= MIN_EXTRA_CALLS_PER_MIN:
            edges.append(edge)
    return sorted(edges, key=lambda e: -(e.incident_per_min - e.expected_per_min))
