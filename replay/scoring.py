"""Scoring replays: where the truth ranks in a report, what a run adds up to, and what changed since
another run. Pure: values in, values out.

How a hypothesis is judged against the truth:

- The truth names a service and a change: a hypothesis matches when it blames that service *and* that
  change id. Blaming the right service but another change (or none) is not the answer a person could
  act on, so it counts only at the service level (`service_rank`).
- The truth names a service and `change: null` (no change of ours caused it: a noisy neighbour, a
  traffic surge): a hypothesis matches when it blames that service and no change. Blaming an innocent
  deploy there would send someone to roll back the wrong thing.
- The truth names no service (a false alarm): the right answer is "no root cause", i.e. no hypothesis
  reaches the report's root-cause confidence. Then the rank is 1; otherwise the case is a miss.

A tie in confidence counts against us: the truth's rank is one plus the number of other hypotheses
ranked above it or as confident as it, wherever the ranking put them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from inquest.coordinator.calibration import reliability
from inquest.coordinator.calibration import summary as calibration_summary
from inquest.core import ROOT_CAUSE_CONFIDENCE, RankedHypothesis, Report
from inquest.quantiles import percentile
from inquest.replay.cases import Case, Truth


@dataclass(frozen=True)
class AgentFailure:
    agent: str
    status: str  # "error" or "timeout"
    error: str | None = None
    expected: bool = False  # the case gives this agent no data (case.yaml expected_agent_failures)


@dataclass(frozen=True)
class Answer:
    """What the report put first."""

    service: str | None
    change: str | None
    confidence: float
    summary: str


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    incident: str
    truth: Truth
    status: Literal["ok", "error"]  # error: the case could not be replayed at all (no report)
    rank_of_truth: int | None = None  # None: the truth is not among the hypotheses (a miss)
    service_rank: int | None = None  # the same, judged at the service level only
    seconds: float | None = None  # time to report
    top: Answer | None = None
    root_cause_found: bool = False  # the report named a root cause (top hypothesis confident enough)
    hypotheses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    agent_failures: tuple[AgentFailure, ...] = ()
    error: str | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _is_the_truth(hypothesis: RankedHypothesis, truth: Truth, *, service_only: bool = False) -> bool:
    if hypothesis.service != truth.service:
        return False
    if service_only:
        return True
    blamed = hypothesis.change.id if hypothesis.change is not None else None
    return blamed == truth.change


def _rank(hypotheses: Sequence[RankedHypothesis], truth: Truth, service_only: bool) -> int | None:
    ordered = sorted(hypotheses, key=lambda h: h.rank)
    if truth.service is None:
        confident = ordered and ordered[0].confidence >= ROOT_CAUSE_CONFIDENCE
        return None if confident else 1
    match = next((h for h in ordered if _is_the_truth(h, truth, service_only=service_only)), None)
    if match is None:
        return None
    ahead = [h for h in ordered if h is not match and (h.rank < match.rank or h.confidence >= match.confidence)]
    if service_only:
        ahead = [h for h in ahead if h.service != truth.service]
    return 1 + len(ahead)


def rank_of_truth(hypotheses: Sequence[RankedHypothesis], truth: Truth) -> int | None:
    """1-based rank of the first hypothesis that is the truth (service and change), None for a miss."""
    return _rank(hypotheses, truth, service_only=False)


def service_rank(hypotheses: Sequence[RankedHypothesis], truth: Truth) -> int | None:
    """Like rank_of_truth, judging only the service."""
    return _rank(hypotheses, truth, service_only=True)


def score_report(case: Case, report: Report, seconds: float) -> CaseResult:
    top = min(report.hypotheses, key=lambda h: h.rank, default=None)
    return CaseResult(
        case_id=case.id, incident=case.incident, truth=case.truth, status="ok",
        rank_of_truth=rank_of_truth(report.hypotheses, case.truth),
        service_rank=service_rank(report.hypotheses, case.truth), seconds=round(seconds, 3),
        top=None if top is None else Answer(top.service, top.change.id if top.change else None, top.confidence,
                                            top.summary),
        root_cause_found=report.root_cause is not None, hypotheses=len(report.hypotheses),
        input_tokens=report.usage.input_tokens, output_tokens=report.usage.output_tokens,
        cost_usd=report.usage.cost_usd,
        agent_failures=tuple(AgentFailure(a.agent, a.status, a.error, a.agent in case.expected_agent_failures)
                             for a in report.agents if a.status in ("error", "timeout")),
    )


def failed_case(case: Case, error: str) -> CaseResult:
    return CaseResult(case_id=case.id, incident=case.incident, truth=case.truth, status="error", error=error)


# --- a run's summary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    cases: int
    top1: float
    top3: float
    mrr: float
    p50_seconds: float | None
    p95_seconds: float | None
    service_top1: float = 0.0
    errors: int = 0  # cases that produced no report
    agent_failures: Mapping[str, int] = field(default_factory=dict)  # agent -> cases it failed in unexpectedly
    tokens: int = 0
    cost_usd: float = 0.0
    ece: float = 0.0  # expected calibration error of the top answers' confidences (0 is perfect)
    brier: float = 0.0  # mean squared gap between that confidence and being right
    reliability: tuple[tuple[float, float, int], ...] = ()  # per confidence bin: mean confidence, accuracy, cases


def _reciprocal(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def summarize(results: Sequence[CaseResult]) -> Summary:
    n = len(results)
    if n == 0:
        return Summary(cases=0, top1=0.0, top3=0.0, mrr=0.0, p50_seconds=None, p95_seconds=None)
    ranks = [r.rank_of_truth for r in results]
    seconds = [r.seconds for r in results if r.seconds is not None]
    failures = Counter(f.agent for r in results for f in r.agent_failures if not f.expected)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return Summary(
        cases=n, top1=round(sum(1 for k in ranks if k == 1) / n, 4),
        top3=round(sum(1 for k in ranks if k is not None and k <= 3) / n, 4),
        mrr=round(sum(_reciprocal(k) for k in ranks) / n, 4),
        p50_seconds=rounded(percentile(seconds, 50)), p95_seconds=rounded(percentile(seconds, 95)),
        service_top1=round(sum(1 for r in results if r.service_rank == 1) / n, 4),
        errors=sum(1 for r in results if r.status == "error"), agent_failures=dict(sorted(failures.items())),
        tokens=sum(r.tokens for r in results), cost_usd=round(sum(r.cost_usd for r in results), 6),
        **_calibration(results),
    )


def _calibration(results: Sequence[CaseResult]) -> dict:
    """How well the confidence of each report's top answer matched whether it was the truth."""
    answered = [r for r in results if r.status == "ok"]
    confidences = [r.top.confidence if r.top else 0.0 for r in answered]
    right = [r.rank_of_truth == 1 for r in answered]
    return {**calibration_summary(confidences, right), "reliability": tuple(reliability(confidences, right))}


# --- comparing two runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How much worse a run may be than the one it is compared with before it counts as a regression."""

    top1_drop: float = 0.0  # fraction of cases, over the cases both runs replayed
    mrr_drop: float = 0.0
    rank_worsening: int = 0  # places a single case's truth may drop; becoming a miss always counts


@dataclass(frozen=True)
class CaseDelta:
    case_id: str
    before: int | None
    after: int | None
    verdict: Literal["better", "worse", "same", "new", "gone"]
    regression: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Comparison:
    against: str  # the run compared with
    deltas: tuple[CaseDelta, ...]
    before: Summary  # both over the cases the two runs share
    after: Summary
    regressions: tuple[str, ...]  # why this run is a regression; empty when it is not

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def _place(rank: int | None) -> float:
    return math.inf if rank is None else rank


def _delta(case_id: str, before: CaseResult | None, after: CaseResult | None, tolerance: Tolerance) -> CaseDelta:
    if before is None:
        return CaseDelta(case_id, None, after.rank_of_truth if after else None, "new")
    if after is None:
        return CaseDelta(case_id, before.rank_of_truth, None, "gone")
    b, a = before.rank_of_truth, after.rank_of_truth
    if after.status == "error" and before.status != "error":
        return CaseDelta(case_id, b, a, "worse", True, f"{case_id}: could not be replayed ({after.error})")
    if _place(a) == _place(b):
        return CaseDelta(case_id, b, a, "same")
    if _place(a) < _place(b):
        return CaseDelta(case_id, b, a, "better")
    beyond = a is None or a - (b or 0) > tolerance.rank_worsening
    was, now = f"#{b}" if b else "missed", f"#{a}" if a else "missed"
    return CaseDelta(case_id, b, a, "worse", beyond, f"{case_id}: the truth went from {was} to {now}")


def compare(against: str, before: Sequence[CaseResult], after: Sequence[CaseResult],
            tolerance: Tolerance) -> Comparison:
    old, new = {r.case_id: r for r in before}, {r.case_id: r for r in after}
    deltas = tuple(_delta(case_id, old.get(case_id), new.get(case_id), tolerance)
                   for case_id in [*new, *(c for c in old if c not in new)])
    shared = [c for c in new if c in old]
    summary_before = summarize([old[c] for c in shared])
    summary_after = summarize([new[c] for c in shared])
    reasons = [d.reason for d in deltas if d.regression]
    # A float's last digit must not turn "no change" into a regression.
    if summary_before.top1 - summary_after.top1 > tolerance.top1_drop + 1e-9:
        reasons.insert(0, f"top-1 accuracy fell from {summary_before.top1:.0%} to {summary_after.top1:.0%} "
                          f"(tolerance {tolerance.top1_drop:.0%})")
    if summary_before.mrr - summary_after.mrr > tolerance.mrr_drop + 1e-9:
        reasons.insert(0, f"mean reciprocal rank fell from {summary_before.mrr:.3f} to {summary_after.mrr:.3f} "
                          f"(tolerance {tolerance.mrr_drop:.3f})")
    return Comparison(against, deltas, summary_before, summary_after, tuple(reasons))
