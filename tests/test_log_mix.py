"""The log specialist's tests, written in the standard library to keep scipy off the cold start, agree
with scipy's."""

from __future__ import annotations

import random

from scipy.stats import binomtest, false_discovery_control

from inquest.agents.log_mix import benjamini_hochberg, binomial_tail, binomial_test


def test_binomial_tails_and_fdr_agree_with_scipy() -> None:
    rng = random.Random(3)
    for _ in range(400):
        n = rng.choice([1, 3, 20, 500, 40_000])
        k, p = rng.randint(0, n), rng.uniform(0.001, 0.999)
        assert abs(binomial_tail(k, n, p, upper=True) - binomtest(k, n, p, alternative="greater").pvalue) < 1e-9
        assert abs(binomial_tail(k, n, p, upper=False) - binomtest(k, n, p, alternative="less").pvalue) < 1e-9
        one_sided = min(binomtest(k, n, p, alternative=side).pvalue for side in ("greater", "less"))
        assert abs(binomial_test(k, n, p) - min(1.0, 2 * one_sided)) < 1e-9  # two-sided by doubling
    ps = [rng.random() ** 3 for _ in range(40)]
    assert max(abs(a - b) for a, b in zip(benjamini_hochberg(ps), false_discovery_control(ps))) < 1e-12
