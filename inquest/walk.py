"""Personalised PageRank on a small weighted directed graph, in plain Python.

The graphs the engine walks have one node per service (tens, not millions), so the power iteration costs
microseconds, while importing networkx and the scipy.sparse it now uses for `pagerank` cost about half a
second of every investigation's start. The iteration is networkx's (`pagerank_scipy`): rows normalised by
their out-weight, a dangling node's mass restarted by the personalisation, stop when the L1 change falls
under `len(nodes) * tol` — so ranks agree with networkx's to within `tol` (tests/test_walk.py checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping


class PowerIterationFailed(RuntimeError):
    """The walk did not settle within max_iter steps (networkx's PowerIterationFailedConvergence)."""


class WeightedGraph:
    """Directed graph with one float weight per edge; nodes keep the order they were first seen in."""

    def __init__(self) -> None:
        self.out: dict[str, dict[str, float]] = {}

    def add_nodes_from(self, nodes: Iterable[str]) -> None:
        for node in nodes:
            self.out.setdefault(node, {})

    def add_edge(self, source: str, target: str, weight: float) -> None:
        self.out.setdefault(source, {})[target] = weight
        self.out.setdefault(target, {})

    def add_weight(self, source: str, target: str, extra: float) -> None:
        """Adds to an existing edge's weight (creating it at `extra` when absent)."""
        self.add_edge(source, target, self.out.get(source, {}).get(target, 0.0) + extra)

    def has_edge(self, source: str, target: str) -> bool:
        return target in self.out.get(source, {})

    @property
    def nodes(self) -> list[str]:
        return list(self.out)

    def edges(self) -> Iterator[tuple[str, str, float]]:
        for source, targets in self.out.items():
            for target, weight in targets.items():
                yield source, target, weight


def pagerank(graph: WeightedGraph, personalization: Mapping[str, float], alpha: float = 0.85,
             max_iter: int = 100, tol: float = 1e-6) -> dict[str, float]:
    """Stationary mass of the walk that follows edges by weight with probability `alpha` and otherwise
    restarts at a node drawn from `personalization` (nodes missing from it restart there with weight 0)."""
    nodes = graph.nodes
    if not nodes:
        return {}
    restart_total = sum(personalization.get(n, 0.0) for n in nodes)
    if restart_total == 0:
        raise ZeroDivisionError("personalization sums to zero")
    restart = {n: personalization.get(n, 0.0) / restart_total for n in nodes}
    out_total = {n: sum(graph.out[n].values()) for n in nodes}
    dangling = [n for n in nodes if out_total[n] == 0]
    x = dict.fromkeys(nodes, 1.0 / len(nodes))
    for _ in range(max_iter):
        stranded = sum(x[n] for n in dangling)
        step = {n: stranded * restart[n] for n in nodes}
        for source, targets in graph.out.items():
            if out_total[source]:
                share = x[source] / out_total[source]
                for target, weight in targets.items():
                    step[target] += share * weight
        new = {n: alpha * step[n] + (1 - alpha) * restart[n] for n in nodes}
        if sum(abs(new[n] - x[n]) for n in nodes) < len(nodes) * tol:
            return new
        x = new
    raise PowerIterationFailed(f"pagerank did not converge in {max_iter} iterations")
