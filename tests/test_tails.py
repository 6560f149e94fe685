"""The engine's own tail probabilities and PageRank agree with scipy's and networkx's, which they replace
on the investigation's path so it does not pay their import (inquest/tails.py, inquest/walk.py)."""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest
from scipy import stats

from inquest.tails import binom_sf, chi2_contingency_p, fisher_greater_p, norm_isf, theil_sen_interval
from inquest.walk import PowerIterationFailed, WeightedGraph, pagerank


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300) or (math.isinf(a) and a == b)


def test_normal_quantile_down_to_the_smallest_p_the_agents_pass() -> None:
    for p in (1e-300, 1e-100, 1e-12, 0.003, 0.05, 0.5, 0.7, 0.999999, 1.0):
        assert close(norm_isf(p), float(stats.norm.isf(p))), p


def test_binomial_tail_agrees_with_scipy_from_small_to_a_million_trials() -> None:
    rng = random.Random(7)
    cases = [(rng.randrange(-1, n + 2), n, p) for n in (1, 5, 40, 1000, 10**6) for p in (0.01, 0.3, 0.9)
             for _ in range(6)]
    for k, n, p in cases + [(0, 10, 0.01), (50, 100, 0.01), (10**4, 10**6, 0.01)]:
        assert close(binom_sf(k, n, p), float(stats.binom.sf(k, n, p)), rel=1e-8), (k, n, p)


def test_chi_square_contingency_agrees_with_scipy_including_yates_on_2x2() -> None:
    rng = random.Random(11)
    for cols in (2, 3, 7):
        for _ in range(20):
            table = [[rng.randrange(1, 5000) for _ in range(cols)] for _ in range(2)]
            assert close(chi2_contingency_p(table), float(stats.chi2_contingency(table).pvalue), rel=1e-8), table
    assert chi2_contingency_p([[5, 5], [5, 5]]) == 1.0
    with pytest.raises(ValueError):  # a column empty in both windows: no test, as scipy says
        chi2_contingency_p([[0, 4], [0, 9]])


def test_fisher_exact_greater_agrees_with_scipy() -> None:
    rng = random.Random(3)
    tables = [[[rng.randrange(0, m), rng.randrange(0, 50 * m)], [rng.randrange(0, m), rng.randrange(0, 50 * m)]]
              for m in (3, 30, 3000) for _ in range(15)]
    for table in tables + [[[0, 5], [0, 7]], [[40, 100], [2, 10000]]]:
        assert close(fisher_greater_p(table), float(stats.fisher_exact(table, alternative="greater")[1]),
                     rel=1e-8), table


def test_theil_sen_interval_agrees_with_scipy_with_ties() -> None:
    rng = random.Random(5)
    for n in (4, 9, 30):
        x = [float(i * 60) for i in range(n)]
        y = [float(rng.choice((1, 2, 3, rng.random() * 100))) for _ in range(n)]
        _, _, low, high = stats.theilslopes(y, x, 0.95)
        assert theil_sen_interval(y, x, 0.95) == pytest.approx((low, high), rel=1e-12), (x, y)


def test_pagerank_agrees_with_networkx_on_weighted_graphs_with_self_loops_and_dangling_nodes() -> None:
    rng = random.Random(13)
    for size in (1, 4, 12):
        ours, theirs = WeightedGraph(), nx.DiGraph()
        names = [f"s{i}" for i in range(size)]
        ours.add_nodes_from(names)
        theirs.add_nodes_from(names)
        for _ in range(size * 2):
            a, b, w = rng.choice(names), rng.choice(names[:-1] or names), rng.random()
            ours.add_edge(a, b, w)
            theirs.add_edge(a, b, weight=w)
        restart = {n: rng.random() for n in names}
        got = pagerank(ours, restart, alpha=0.85, max_iter=500, tol=1e-10)
        want = nx.pagerank(theirs, alpha=0.85, personalization=restart, weight="weight", max_iter=500, tol=1e-10)
        assert got == pytest.approx(want, abs=1e-8)
        assert sorted(got, key=lambda n: -got[n]) == sorted(want, key=lambda n: -want[n])
    with pytest.raises(PowerIterationFailed):
        pagerank(ours, restart, max_iter=1, tol=0.0)
