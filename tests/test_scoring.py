"""Scoring a replay: where the truth ranks, what a run adds up to, and when a run is a regression."""

from __future__ import annotations

import pytest

from inquest.core import ChangeRef, RankedHypothesis
from inquest.replay.cases import Truth
from inquest.replay.scoring import (
    AgentFailure,
    CaseResult,
    Tolerance,
    compare,
    percentile,
    rank_of_truth,
    service_rank,
    summarize,
)

GUILTY = Truth("orders", "dep-orders-2.14.0", "n_plus_one")


def hyp(rank: int, service: str | None, change: str | None, confidence: float) -> RankedHypothesis:
    ref = ChangeRef(change, "deploy") if change else None
    return RankedHypothesis(rank=rank, summary=f"{service} {change}", service=service, confidence=confidence,
                            evidence=(), change=ref)


def result(case_id: str, rank: int | None, seconds: float = 1.0, status: str = "ok", **more) -> CaseResult:
    return CaseResult(case_id=case_id, incident="INC-1", truth=GUILTY, status=status,  # type: ignore[arg-type]
                      rank_of_truth=rank, service_rank=rank, seconds=seconds if status == "ok" else None, **more)


def test_the_truth_must_name_the_right_change_not_just_the_right_service():
    ranked = [hyp(1, "orders", "dep-orders-2.13.2", 0.9), hyp(2, "orders", "dep-orders-2.14.0", 0.7),
              hyp(3, "frontend", "dep-frontend-5.2.0", 0.1)]
    assert rank_of_truth(ranked, GUILTY) == 2
    assert service_rank(ranked, GUILTY) == 1


def test_a_tie_in_confidence_counts_against_the_engine():
    ranked = [hyp(1, "orders", "dep-orders-2.14.0", 0.8), hyp(2, "notifications", "dep-n-1.9.0", 0.8),
              hyp(3, "frontend", None, 0.8), hyp(4, "catalog", None, 0.2)]
    assert rank_of_truth(ranked, GUILTY) == 3


def test_missing_truth_is_a_miss():
    assert rank_of_truth([hyp(1, "frontend", "dep-frontend-5.2.0", 0.9)], GUILTY) is None
    assert rank_of_truth([], GUILTY) is None


def test_no_change_of_ours_means_the_answer_must_blame_no_change():
    neighbour = Truth("payments", None, "noisy_neighbour")
    blames_deploy = [hyp(1, "payments", "dep-payments-2.7.4", 0.7), hyp(2, "payments", None, 0.6)]
    assert rank_of_truth(blames_deploy, neighbour) == 2  # the innocent deploy on the right service is wrong
    assert rank_of_truth([hyp(1, "payments", None, 0.7)], neighbour) == 1


def test_a_false_alarm_is_right_only_when_no_root_cause_is_claimed():
    nothing = Truth(None, None, None)
    assert rank_of_truth([hyp(1, "frontend", "dep-frontend-5.2.0", 0.2)], nothing) == 1  # a weak lead is fine
    assert rank_of_truth([], nothing) == 1
    assert rank_of_truth([hyp(1, "frontend", "dep-frontend-5.2.0", 0.7)], nothing) is None


def test_summary_accuracy_mrr_and_latency_percentiles():
    results = [result("a", 1, 1.0), result("b", 2, 2.0), result("c", None, 3.0), result("d", 4, 10.0),
               result("e", None, status="error", error="world failed"),
               result("f", 1, 5.0, agent_failures=(AgentFailure("db", "error", "boom"),))]
    s = summarize(results)
    assert s.cases == 6 and s.errors == 1
    assert s.top1 == pytest.approx(2 / 6, abs=1e-4) and s.top3 == pytest.approx(3 / 6, abs=1e-4)
    assert s.mrr == pytest.approx((1 + 0.5 + 0.25 + 1) / 6, abs=1e-4)
    assert s.p50_seconds == 3.0 and s.p95_seconds == pytest.approx(9.0)
    assert s.agent_failures == {"db": 1}


def test_percentile_interpolates_and_handles_no_values():
    assert percentile([], 50) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1, 2, 3, 4], 50) == 2.5


def test_a_case_that_drops_out_of_first_place_is_a_regression_with_zero_tolerance():
    before = [result("a", 1), result("b", 1), result("c", 3)]
    after = [result("a", 1), result("b", 2), result("c", 1), result("new", None)]
    comparison = compare("run-1", before, after, Tolerance())
    verdicts = {d.case_id: d.verdict for d in comparison.deltas}
    assert verdicts == {"a": "same", "b": "worse", "c": "better", "new": "new"}
    assert comparison.regressed
    assert any("b: the truth went from #1 to #2" in r for r in comparison.regressions)
    # the new, unsolved case is reported but is not a regression: accuracy is compared on shared cases
    assert not any("new" in r for r in comparison.regressions)


def test_tolerance_absorbs_small_moves_but_never_a_new_miss():
    before = [result("a", 1), result("b", 1), result("c", 2)]
    small = [result("a", 1), result("b", 1), result("c", 3)]
    tolerant = Tolerance(top1_drop=0.0, mrr_drop=0.1, rank_worsening=1)
    assert not compare("run-1", before, small, tolerant).regressed
    lost = [result("a", 1), result("b", 1), result("c", None)]
    assert compare("run-1", before, lost, Tolerance(top1_drop=1, mrr_drop=1, rank_worsening=10)).regressed


def test_a_case_that_could_not_run_is_worse_than_any_rank():
    comparison = compare("run-1", [result("a", 1)], [result("a", None, status="error", error="store missing")],
                         Tolerance(top1_drop=1, mrr_drop=1, rank_worsening=100))
    assert comparison.regressed and "store missing" in comparison.regressions[-1]


def test_identical_runs_are_not_a_regression():
    runs = [result("a", 1), result("b", None), result("c", 2)]
    comparison = compare("run-1", runs, runs, Tolerance())
    assert not comparison.regressed and {d.verdict for d in comparison.deltas} == {"same"}
