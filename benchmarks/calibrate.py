"""Refit the confidence calibration on every labelled dev set: the scenario library, OnlineBoutique's dev
day (Nezha 2022-08-22) and PetShop's train split; the refit never reads a test split (`split=` is for measuring).

Each investigated case gives one sample per candidate (up to five): the candidate's features and
whether it is the truth, so the model learns what a runner-up's share means as well as a leader's.
Real datasets label a service only, so there a candidate is right when its service is; the library
labels the change too, and there it must name it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from inquest.config import Config
from inquest.coordinator.calibration import Calibration, Sample, fit, save
from inquest.coordinator.investigation import investigate
from inquest.core import Report

CANDIDATES_PER_CASE = 5
Say = Callable[[str], None]


def samples_of(report: Report, truth_service: str | None, truth_change: str | None, source: str,
               service_level: bool, case: str = "") -> list[Sample]:
    out, seen = [], set()
    for h in report.hypotheses:
        if service_level and h.service in seen:  # a service is one answer, however many changes it has
            continue
        seen.add(h.service)
        right = h.service == truth_service and (service_level or (h.change.id if h.change else None) == truth_change)
        out.append(Sample(tuple(h.features), right, source, case))
        if len(out) == CANDIDATES_PER_CASE:
            break
    return out


def library_samples(config: Config, data_dir: Path, say: Say) -> list[Sample]:
    from inquest.connect import connect
    from inquest.replay.cases import discover_cases
    from inquest.replay.runner import config_for_world
    from inquest.replay.worlds import materialise

    samples: list[Sample] = []
    for case in discover_cases([], data_dir):
        world = materialise(case, data_dir / "worlds", say)
        deps = connect(config_for_world(config, world))
        incident = next(i for i in deps.backend.incidents() if i.id == case.incident)
        samples += samples_of(investigate(incident, deps), case.truth.service, case.truth.change, "library", False,
                              case.id)
    return samples


def nezha_samples(archive: Path, work_dir: Path, split: str = "dev") -> list[Sample]:
    from inquest.benchmarks.nezha import prepare
    from inquest.benchmarks.nezha_bench import benchmark_deps
    from inquest.benchmarks.nezha_report import split_of

    prepared = prepare(archive, work_dir)
    deps = benchmark_deps(prepared.store_path, prepared.settings, work_dir)
    splits = split_of(prepared)
    samples: list[Sample] = []
    for case in prepared.cases:
        if splits[case.id] == split:
            samples += samples_of(investigate(case.incident, deps), case.fault.service, None,
                                  f"nezha:{case.fault.date}", True, case.id)
    return samples


def petshop_samples(archive: Path, work_dir: Path, split: str = "train") -> list[Sample]:
    from inquest.benchmarks.petshop import prepare, store_deps

    prepared = prepare(archive, work_dir)
    deps = store_deps(prepared, work_dir)
    samples: list[Sample] = []
    try:
        for case in prepared.cases:
            if case.split == split:
                samples += samples_of(investigate(case.incident, deps[case.store_path]), case.truth_service, None,
                                      f"petshop:{split}", True, case.id)
    finally:
        for d in deps.values():
            d.backend.close()  # type: ignore[attr-defined]
    return samples


def refit(config: Config, data_dir: Path, datasets: dict[str, Path | None], say: Say) -> Calibration:
    """Fits on the library and whichever dev sets are present, saves the model in the package, returns it."""
    say("investigating the scenario library…")
    samples = library_samples(config, data_dir, say)
    gathering: dict[str, Callable[[Path, Path], list[Sample]]] = {"nezha": nezha_samples, "petshop": petshop_samples}
    for name, archive in datasets.items():
        if archive is None or not archive.exists():
            say(f"no {name} dataset at {archive}: the calibration is fitted without it")
            continue
        say(f"investigating the {name} dev split…")
        samples += gathering[name](archive, Path(f".inquest/{name}"))
    model = fit(samples, version=datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))
    save(model)
    return model


def describe(model: Calibration, samples: Sequence[Sample] = ()) -> str:
    sets = ", ".join(f"{n} {src}" for src, n in sorted(model.fitted_on.items()))
    weights = ", ".join(f"{name} {w:+.3f}" for name, w in zip(model.features, model.weights))
    chosen = ", ".join(f"{kind} {loss:.4f}" for kind, loss in sorted(model.cv_log_loss.items()))
    return (f"calibration {model.version}: {model.kind} (cross-validated log-loss: {chosen or 'not measured'}); "
            f"intercept {model.intercept:+.3f}, {weights}; fitted on {sets}")
