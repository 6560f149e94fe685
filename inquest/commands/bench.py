"""`investigate bench nezha|petshop [PATH]`: the engine scored on a public RCA benchmark, beside baselines.

Trivial baselines are computed on the same cases in the same run.

PATH is the dataset archive (`.tar.xz`) or an unpacked copy; it is unpacked and converted into the work
folder once, and later runs reuse both. Without PATH, the shared copy beside the repository is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from inquest.errors import InputError
from inquest.exits import EXIT_OK

DEFAULT_DATASETS = {"nezha": (Path("../shared/datasets/nezha-onlineboutique.tar.xz"),),
                    "petshop": (Path("../shared/datasets/petshop.tar.xz"),),
                    "loghub": (Path("../shared/datasets/loghub-2k.tar.xz"),)}

DESCRIPTION = """\
Scores the engine on a public RCA benchmark: every labelled fault becomes an incident carrying only what
an alert would, the engine investigates it, and the report gives service-level AS@1/3/5 (top-k recall)
per split (dev/test) and per group, beside trivial baselines run on the same cases and the published rows.

  nezha    the Nezha multimodal benchmark (FSE 2023), OnlineBoutique half; dev 2022-08-22, test 2022-08-23
  petshop  the PetShop dataset (Hardt et al. 2023): metrics and a call graph, per traffic regime, train/test
  loghub   log templating only (the log specialist's Drain miner) on loghub-2k's ground-truth templates:
           grouping accuracy per system and the mean

  investigate bench nezha ../shared/datasets/nezha-onlineboutique.tar.xz
  investigate bench petshop ../shared/datasets/petshop.tar.xz --format json
  investigate bench loghub ../shared/datasets/loghub-2k.tar.xz --format json"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate bench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=tuple(DEFAULT_DATASETS), help="which benchmark")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="the dataset archive or folder (default: the shared copy in ../shared/datasets/)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="cases investigated at once (default: 2)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="where the unpacked data and the converted store are kept (default: .inquest/BENCHMARK)")
    return parser


def _dataset(benchmark: str, path: str | None) -> Path:
    if path:
        return Path(path)
    found = next((p for p in DEFAULT_DATASETS[benchmark] if p.exists()), None)
    if found is None:
        raise InputError("no dataset given and none at " + ", ".join(str(p) for p in DEFAULT_DATASETS[benchmark])
                         + f"; pass PATH (the {benchmark} .tar.xz or an unpacked folder)")
    return found


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    if opts.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {opts.jobs}")
    if opts.benchmark == "loghub":
        return _loghub(_dataset("loghub", opts.path), opts.format)
    dataset, work_dir = _dataset(opts.benchmark, opts.path), Path(opts.work_dir or f".inquest/{opts.benchmark}")
    _say(f"preparing {dataset} in {work_dir} (unpacked and converted once, then reused)…")
    run = _petshop if opts.benchmark == "petshop" else _nezha
    report = run(dataset, work_dir, opts.jobs, opts.format)
    sys.stdout.write(report if isinstance(report, str) else json.dumps(report, indent=2, default=str) + "\n")
    return EXIT_OK


def _timing(prepared_timings: dict[str, float], clock: float) -> dict[str, float]:
    timing = {**prepared_timings, "investigate_s": round(time.perf_counter() - clock, 2)}
    timing["total_s"] = round(sum(timing.values()), 2)
    return timing


def _nezha(dataset: Path, work_dir: Path, jobs: int, fmt: str) -> str | dict[str, Any]:
    from inquest.benchmarks.bench_run import baseline_runs
    from inquest.benchmarks.nezha import prepare
    from inquest.benchmarks.nezha_bench import benchmark_deps, run_cases
    from inquest.benchmarks.nezha_report import report_json, report_text, split_of
    from inquest.benchmarks.replay_cases import CaseRow, write_cases

    prepared = prepare(dataset, work_dir)
    splits = split_of(prepared)
    folder = write_cases(work_dir, [CaseRow(c.id, c.incident.id, prepared.store_path, c.fault.service, c.fault.fault,
                                            f"nezha benchmark, split {splits[c.id]}, {c.fault.fault} at {c.fault.pod}")
                                    for c in prepared.cases],
                         (prepared.settings.baseline_minutes, prepared.settings.baseline_gap_minutes))
    _say(f"{len(prepared.cases)} replay cases in {folder} (investigate replay {folder})")
    _say(f"investigating {len(prepared.cases)} cases, {jobs} at a time…")
    clock = time.perf_counter()
    deps = benchmark_deps(prepared.store_path, prepared.settings, work_dir)
    try:
        results = run_cases(prepared.cases, deps, jobs=jobs)
        answers = baseline_runs([c.incident for c in prepared.cases], deps, jobs=jobs)
    finally:
        deps.backend.close()  # type: ignore[attr-defined]
    timing = _timing(prepared.timings, clock)
    if fmt == "json":
        return report_json(prepared, results, timing, answers)
    return report_text(prepared, results, timing, answers)


def _petshop(dataset: Path, work_dir: Path, jobs: int, fmt: str) -> str | dict[str, Any]:
    from inquest.benchmarks.baselines import METHODS
    from inquest.benchmarks.bench_run import run
    from inquest.benchmarks.petshop import prepare, store_deps
    from inquest.benchmarks.petshop_report import report_json, report_text
    from inquest.benchmarks.replay_cases import CaseRow, write_cases

    prepared = prepare(dataset, work_dir)
    folder = write_cases(work_dir, [CaseRow(c.id, c.incident.id, c.store_path, c.truth_service, None,
                                            f"petshop benchmark, split {c.split}, {c.group}, "
                                            f"{c.issue.target_metric} alert") for c in prepared.cases],
                         (prepared.settings.baseline_minutes, prepared.settings.baseline_gap_minutes))
    _say(f"{len(prepared.cases)} replay cases in {folder} (investigate replay {folder})")
    _say(f"investigating {len(prepared.cases)} cases, {jobs} at a time…")
    clock = time.perf_counter()
    deps = store_deps(prepared, work_dir)
    methods = tuple(METHODS)
    try:
        outcomes = run(prepared.cases, lambda c: deps[c.store_path], lambda c: c.issue.folder, jobs, methods)
    finally:
        for d in deps.values():
            d.backend.close()  # type: ignore[attr-defined]
    timing = _timing(prepared.timings, clock)
    if fmt == "json":
        return report_json(prepared, outcomes, methods, timing)
    return report_text(prepared, outcomes, methods, timing)


def _loghub(dataset: Path, output_format: str) -> int:
    """Templating needs no store: the archive is read in place and mined system by system."""
    from inquest.benchmarks.loghub import report_json, report_text, score

    _say(f"mining templates of every system in {dataset}…")
    scores = score(dataset)
    sys.stdout.write(report_text(scores) if output_format == "text" else json.dumps(report_json(scores), indent=2) + "\n")
    return EXIT_OK
