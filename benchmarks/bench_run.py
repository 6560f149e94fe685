"""Runs the engine and the trivial baselines on benchmark cases and scores both the same way.

Every benchmark (Nezha, PetShop, …) hands over cases that say what an alert said (`incident`), where the
truth is (`truth_service`), which split the case belongs to (dev or test) and how to group it (fault type,
traffic regime). The engine's report is scored by replay's own scoring (`replay.scoring.score_report`,
service-level: no benchmark labels a change), so a benchmark case is judged exactly as a replayed incident
is; the paper-style rank is the truth's place in the report's services, each named once (a service the
engine never named is a miss at every k). Baselines are ranked lists of services, scored the same way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from inquest.agents.base import Deps
from inquest.benchmarks.baselines import METHODS, Answer, run_baselines
from inquest.coordinator.calibration import brier, expected_calibration_error
from inquest.coordinator.investigation import investigate
from inquest.coordinator.triage import plan_scope
from inquest.core import Incident, Report
from inquest.replay.cases import Case as ReplayCase
from inquest.replay.cases import Truth
from inquest.replay.scoring import CaseResult as ReplayResult
from inquest.replay.scoring import score_report, summarize

KS = (1, 3, 5)


class BenchCase(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def incident(self) -> Incident: ...
    @property
    def truth_service(self) -> str: ...
    @property
    def split(self) -> str: ...  # "dev" (where tuning may look) or "test" (what is reported)
    @property
    def group(self) -> str: ...  # fault type, traffic regime…
    @property
    def modalities(self) -> tuple[str, ...]: ...


# A benchmark's own case type, kept through `run` so its callbacks see that type's fields (a PetShop case's
# store path, its issue's folder), not only the protocol's.
C = TypeVar("C", bound=BenchCase)


@dataclass(frozen=True)
class Outcome:
    id: str
    truth_service: str
    split: str
    group: str
    ranked_services: tuple[str, ...]
    rank: int | None
    confidences: tuple[float, ...]  # the best hypothesis' confidence per ranked service: the calibration hook
    top: str | None
    agents: dict[str, str]  # agent -> status
    duration_ms: int
    modalities: tuple[str, ...]
    replay: ReplayResult
    baselines: dict[str, tuple[str, ...]] = field(default_factory=dict)  # method -> ranked services
    baseline_notes: dict[str, str] = field(default_factory=dict)

    def baseline_rank(self, method: str) -> int | None:
        return rank_of(self.truth_service, self.baselines.get(method, ()))


def ranked_services(report: Report) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h.service for h in report.hypotheses if h.service))


def rank_of(truth: str, ranked: Sequence[str]) -> int | None:
    return ranked.index(truth) + 1 if truth in ranked else None


def accuracy_at(ranks: Sequence[int | None], k: int) -> float:
    """AS@k: the fraction of cases whose truth ranks within the first k (unranked counts as a miss)."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def figures(ranks: Sequence[int | None]) -> dict[str, float | int]:
    return {"cases": len(ranks), **{f"as{k}": round(accuracy_at(ranks, k), 4) for k in KS}}


def _confidences(report: Report, services: Sequence[str]) -> tuple[float, ...]:
    best: dict[str, float] = {}
    for h in report.hypotheses:
        if h.service and h.service not in best:
            best[h.service] = h.confidence
    return tuple(round(best[s], 4) for s in services)


def replay_score(case_id: str, incident: Incident, truth_service: str, fault: str | None, report: Report,
                 seconds: float, source: Path) -> ReplayResult:
    """The report judged by replay's own scoring, as a replayed incident would be (service level, no change)."""
    replay_case = ReplayCase(id=case_id, incident=incident.id, truth=Truth(truth_service, None, fault), source=source)
    return score_report(replay_case, report, seconds)


def score(case: BenchCase, report: Report, seconds: float, source: Path, fault: str | None = None) -> Outcome:
    ranked = ranked_services(report)
    return Outcome(
        id=case.id, truth_service=case.truth_service, split=case.split, group=case.group, ranked_services=ranked,
        rank=rank_of(case.truth_service, ranked), confidences=_confidences(report, ranked),
        top=report.hypotheses[0].summary if report.hypotheses else None,
        agents={run.agent: run.status for run in report.agents}, duration_ms=int(seconds * 1000),
        modalities=case.modalities,
        replay=replay_score(case.id, case.incident, case.truth_service, fault, report, seconds, source))


def run(cases: Sequence[C], deps_for: Callable[[C], Deps], source: Callable[[C], Path],
        jobs: int = 2, baselines: Sequence[str] = tuple(METHODS),
        on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Investigates every case (`jobs` at a time), runs the baselines on the same store and scope, and
    scores all of them. Results come back in the order of `cases`."""

    def one(case: C) -> Outcome:
        deps = deps_for(case)
        started = time.perf_counter()
        report = investigate(case.incident, deps)
        outcome = score(case, report, time.perf_counter() - started, source(case), getattr(case, "fault", None))
        answers = run_baselines(deps.backend, case.incident, plan_scope(case.incident, deps.config.investigation),
                                baselines)
        outcome = Outcome(**{**outcome.__dict__, "baselines": {m: a.ranked for m, a in answers.items()},
                             "baseline_notes": {m: a.note for m, a in answers.items() if a.note}})
        if on_result is not None:
            on_result(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="bench-case") as pool:
        return list(pool.map(one, cases))


def baseline_runs(incidents: Sequence[Incident], deps: Deps, methods: Sequence[str] = tuple(METHODS),
                  jobs: int = 2) -> list[dict[str, Answer]]:
    """The baselines alone on every case's incident (for a benchmark whose engine runner is its own), in
    order, with the scope the engine's triage would plan. Only the incident is read: a baseline never sees
    the truth, so a case type without the scoring fields (Nezha's) is served as well."""

    def one(incident: Incident) -> dict[str, Answer]:
        return run_baselines(deps.backend, incident, plan_scope(incident, deps.config.investigation), methods)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="bench-baseline") as pool:
        return list(pool.map(one, incidents))


# --- figures -------------------------------------------------------------------------------------


def method_figures(outcomes: Sequence[Outcome], methods: Iterable[str]) -> dict[str, dict[str, float | int]]:
    """Engine and every baseline over the same outcomes."""
    table = {"engine": figures([o.rank for o in outcomes])}
    for method in methods:
        table[method] = figures([o.baseline_rank(method) for o in outcomes])
    return table


def grouped(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o)].append(o)
    return dict(sorted(groups.items()))


def replay_summary(outcomes: Sequence[Outcome] | Sequence[ReplayResult]) -> dict[str, Any]:
    s = summarize([o.replay if isinstance(o, Outcome) else o for o in outcomes])
    return {"cases": s.cases, "top1": s.top1, "top3": s.top3, "mrr": s.mrr, "service_top1": s.service_top1,
            "p50_seconds": s.p50_seconds, "agent_failures": dict(s.agent_failures)}


def calibration_figures(confidences: Sequence[float | None], ranks: Sequence[int | None]) -> dict[str, float]:
    """`{"ece","brier"}` of the top hypothesis' confidence against "the truth ranked first" (no hypothesis:
    confidence 0). The calibration work owns how confidences are made; this is where bench reads them."""
    shown = [c or 0.0 for c in confidences]
    right = [r == 1 for r in ranks]
    return {"ece": expected_calibration_error(shown, right), "brier": brier(shown, right)}


def summary_json(outcomes: Sequence[Outcome], methods: Sequence[str]) -> dict[str, Any]:
    """`{"cases","as1","as3","as5","ece","brier"}`, per split and per group, with the baselines."""
    summary: dict[str, Any] = dict(figures([o.rank for o in outcomes]))
    summary.update(calibration_figures([o.confidences[0] if o.confidences else None for o in outcomes],
                                       [o.rank for o in outcomes]))
    return {
        "summary": summary,
        "splits": {split: method_figures(group, methods) for split, group in grouped(outcomes, lambda o: o.split).items()},
        "groups": {name: method_figures(group, methods) for name, group in grouped(outcomes, lambda o: o.group).items()},
        "groups_by_split": {split: {name: method_figures(g, methods) for name, g in grouped(group, lambda o: o.group).items()}
                            for split, group in grouped(outcomes, lambda o: o.split).items()},
        "baselines": {m: figures([o.baseline_rank(m) for o in outcomes]) for m in methods},
        "replay": replay_summary(outcomes),
    }


def outcome_json(o: Outcome) -> dict[str, Any]:
    return {"id": o.id, "truth_service": o.truth_service, "rank": o.rank, "ranked_services": list(o.ranked_services),
            "replay_rank": o.replay.rank_of_truth,  # replay's scoring: a tie in confidence counts against us
            "confidences": list(o.confidences), "split": o.split, "group": o.group, "top": o.top,
            "agents": o.agents, "modalities": list(o.modalities), "duration_ms": o.duration_ms,
            "baselines": {m: {"rank": o.baseline_rank(m), "ranked_services": list(r[:5])}
                          for m, r in o.baselines.items()},
            **({"baseline_notes": o.baseline_notes} if o.baseline_notes else {})}
