"""Runs the engine on every Nezha case and scores it the way the paper does: service-level AS@k.

A case's ranked services are the services of the report's hypotheses in rank order, each once. A
service the engine did not name is unranked: a case whose truth is unranked is a miss at every k,
however many services there are. AS@k is the fraction of cases whose truth is among the first k.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from inquest.agents.base import Deps
from inquest.benchmarks.bench_run import accuracy_at, rank_of, ranked_services, replay_score
from inquest.benchmarks.nezha_cases import Case
from inquest.config import Config, InvestigationConfig
from inquest.coordinator.investigation import investigate
from inquest.core import Report
from inquest.errors import CodeHistoryError
from inquest.replay.scoring import CaseResult as ReplayResult
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

KS = (1, 3, 5)

# Table 3 of the paper, OnlineBoutique, service level, all modalities: AS@1, AS@3, AS@5 in %.
PAPER_TABLE3 = {
    "OnlineBoutique": (
        ("Nezha", (92.86, 96.43, 96.43)),
        ("PDiagnose", (41.07, 73.21, 82.14)),
        ("MicroRank", (41.07, 48.21, 62.5)),
        ("TraceAnomaly", (30.35, 33.92, 48.21)),
        ("MicroRCA", (16.07, 62.5, 92.75)),
        ("MicroScope", (12.5, 41.07, 55.35)),
    ),
}


@dataclass(frozen=True)
class CaseResult:
    id: str
    truth_service: str
    truth_pod: str
    fault: str
    ranked_services: tuple[str, ...]
    rank: int | None
    modalities: tuple[str, ...]
    trace_coverage: float
    top: str | None  # the report's top hypothesis, as the engine worded it
    agents: dict[str, str]  # agent -> status
    duration_ms: int
    notes: tuple[str, ...]
    confidence: float | None = None  # the top hypothesis' (what calibration is judged on)
    replay: ReplayResult | None = None  # the same report judged by replay's scoring


def summary(results: Sequence[CaseResult]) -> dict[str, float | int]:
    ranks = [r.rank for r in results]
    return {"cases": len(results), **{f"as{k}": round(accuracy_at(ranks, k), 4) for k in KS}}


def by_fault(results: Sequence[CaseResult]) -> dict[str, dict[str, float | int]]:
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        groups[result.fault].append(result)
    return {fault: summary(group) for fault, group in sorted(groups.items())}


def _no_repository(service: str) -> Path:
    raise CodeHistoryError(f"the Nezha benchmark ships no source repository (asked for {service!r})")


def benchmark_deps(store_path: Path, settings: InvestigationConfig, base_dir: Path) -> Deps:
    config = Config(base_dir=base_dir, investigation=settings)
    return Deps(backend=EmbeddedStore(store_path), code=CodeHistory(_no_repository), config=config)


def score_case(case: Case, report: Report, duration_ms: int) -> CaseResult:
    ranked = ranked_services(report)
    top = report.hypotheses[0].summary if report.hypotheses else None
    return CaseResult(
        id=case.id, truth_service=case.fault.service, truth_pod=case.fault.pod, fault=case.fault.fault,
        ranked_services=ranked, rank=rank_of(case.fault.service, ranked), modalities=case.modalities,
        trace_coverage=case.trace_coverage, top=top,
        agents={run.agent: run.status for run in report.agents}, duration_ms=duration_ms,
        notes=case.notes, confidence=report.hypotheses[0].confidence if report.hypotheses else None,
        replay=replay_score(case.id, case.incident, case.fault.service, case.fault.fault, report,
                            duration_ms / 1000, Path(case.id)),
    )


def run_cases(cases: Sequence[Case], deps: Deps, jobs: int = 2,
              on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Investigates every case (`jobs` at a time; the store answers concurrent questions) and scores it.
    Results come back in the order of `cases`."""

    def one(case: Case) -> CaseResult:
        started = time.perf_counter()
        report = investigate(case.incident, deps)
        result = score_case(case, report, int((time.perf_counter() - started) * 1000))
        if on_result is not None:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="nezha-case") as pool:
        return list(pool.map(one, cases))
