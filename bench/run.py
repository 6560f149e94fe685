"""`make bench`: measures; never asserts. Prints a table and writes bench-results.json at the repo root.

Each measurement is a suite, its own function in bench/; this file runs them in order and writes the file
again as each suite finishes, so a run cut short keeps what it measured. Run a subset with
`python bench/run.py cold_start fanout`; the Elasticsearch volume suite (`es`, minutes on its own) runs only
when named. Figures keep their keys from run to run, so two bench-results.json files compare key by key.
"""

from __future__ import annotations

import compileall
import json
import platform
import resource
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import measures  # noqa: E402  (bench/measures.py, beside this file)

SUITES = {
    "cold_start": measures.cold_start,
    "llm": measures.llm,
    "fanout": measures.fanout,
    "replay": measures.replay,
    "ingest": measures.ingest,
    "scale": measures.scale,
    "scale100m": measures.scale100m,
    "nezha": measures.nezha,
    "es": measures.es,
}
DEFAULT = [name for name in SUITES if name != "es"]


def _cpu_s() -> float:
    """User + system time of this process and of the finished children it waited for (the investigate
    commands and probes the suites start)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _compile_own_modules() -> None:
    """Bytecode for the checkout's own modules, as an installed copy has it: the editable install keeps them
    outside site-packages (where `uv sync --compile-bytecode` writes .pyc files), so under PYTHONDONTWRITEBYTECODE
    every `investigate` the suites start compiled ~70 of them from source, ~0.07 s CPU of each cold start."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    for folder in sorted(set(mapping.values())):
        compileall.compile_dir(ROOT / folder, quiet=1, maxlevels=0)


def main(argv: list[str]) -> int:
    chosen = argv or DEFAULT
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    results: dict[str, object] = {"machine": {"python": platform.python_version(), "cpus": measures.cpu_count()},
                                  "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = ROOT / "bench-results.json"
    _compile_own_modules()
    run_started, run_cpu = time.perf_counter(), _cpu_s()
    for name in chosen:
        print(f"… {name}", file=sys.stderr, flush=True)
        started, cpu = time.perf_counter(), _cpu_s()
        results.update(SUITES[name]())
        # CPU time beside wall time: the machine may be shared, and then the wall clock measures the neighbours
        results[f"{name}_bench_s"] = round(time.perf_counter() - started, 1)
        results[f"{name}_bench_cpu_s"] = round(_cpu_s() - cpu, 1)
        results["bench_total_s"] = round(time.perf_counter() - run_started, 1)
        results["bench_total_cpu_s"] = round(_cpu_s() - run_cpu, 1)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    measures.print_table(results)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
