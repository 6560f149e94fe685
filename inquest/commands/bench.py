"""`investigate bench nezha [PATH]`: the engine scored on a public RCA benchmark.

PATH is the Nezha archive (`.tar.xz`) or an unpacked copy; it is unpacked and converted into the work
folder once, and later runs reuse both. Without PATH, the shared copy beside the repository is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from inquest.errors import InputError

DEFAULT_DATASETS = (Path("../shared/datasets/nezha-onlineboutique.tar.xz"),)

DESCRIPTION = """\
Scores the engine on the Nezha multimodal RCA benchmark (FSE 2023): every labelled fault becomes an
incident, the engine investigates it, and the report gives service-level AS@1/3/5 with per-case ranks
beside the paper's published rows.

  investigate bench nezha ../shared/datasets/nezha-onlineboutique.tar.xz
  investigate bench nezha data/nezha --format json --jobs 2"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate bench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=("nezha",), help="which benchmark")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="the dataset archive or folder (default: ../shared/datasets/nezha-onlineboutique.tar.xz)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="cases investigated at once (default: 2)")
    parser.add_argument("--work-dir", default=".inquest/nezha", metavar="DIR",
                        help="where the unpacked data and the converted store are kept (default: .inquest/nezha)")
    return parser


def _dataset(path: str | None) -> Path:
    if path:
        return Path(path)
    found = next((p for p in DEFAULT_DATASETS if p.exists()), None)
    if found is None:
        raise InputError("no dataset given and none at " + ", ".join(str(p) for p in DEFAULT_DATASETS)
                         + "; pass PATH (the Nezha .tar.xz or an unpacked folder)")
    return found


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    if opts.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {opts.jobs}")
    from inquest.evals.nezha import prepare
    from inquest.evals.nezha_bench import benchmark_deps, run_cases
    from inquest.evals.nezha_report import report_json, report_text

    dataset, work_dir = _dataset(opts.path), Path(opts.work_dir)
    _say(f"preparing {dataset} in {work_dir} (unpacked and converted once, then reused)…")
    prepared = prepare(dataset, work_dir)
    _say(f"investigating {len(prepared.cases)} cases, {opts.jobs} at a time…")
    clock = time.perf_counter()
    deps = benchmark_deps(prepared.store_path, prepared.settings, work_dir)
    try:
        results = run_cases(prepared.cases, deps, jobs=opts.jobs)
    finally:
        deps.backend.close()  # type: ignore[attr-defined]
    timing = {**prepared.timings, "investigate_s": round(time.perf_counter() - clock, 2)}
    timing["total_s"] = round(sum(timing.values()), 2)
    if opts.format == "json":
        print(json.dumps(report_json(prepared, results, timing), indent=2, default=str))
    else:
        sys.stdout.write(report_text(prepared, results, timing))
    return 0
