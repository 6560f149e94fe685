"""The measurements behind `make bench`. Each returns a dict of figures for bench-results.json."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".inquest"
INVESTIGATE = Path(sys.prefix) / "bin" / "investigate"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _demo_deps(latency_s: float = 0.0):
    from inquest.agents.base import Deps
    from inquest.config import load_config
    from inquest.connect import connect

    deps = connect(load_config(ROOT / "config.yaml"))
    if latency_s:
        deps = Deps(backend=DelayedBackend(deps.backend, latency_s), code=deps.code, config=deps.config)
    return deps


class DelayedBackend:
    """The same backend with a fixed latency before every question, as a remote cluster would add."""

    def __init__(self, inner, latency_s: float) -> None:
        self._inner, self._latency_s = inner, latency_s
        self.name = f"{inner.name}+{latency_s * 1000:.0f}ms"
        self.questions = 0

    def __getattr__(self, attr: str):
        real = getattr(self._inner, attr)
        if not callable(real):
            return real

        def delayed(*args, **kwargs):
            self.questions += 1
            time.sleep(self._latency_s)
            return real(*args, **kwargs)

        return delayed


def cold_start(runs: int = 7) -> dict:
    """Process start to ranked report on the demo incident, deterministic mode, world already built."""
    from inquest.evals.world import ensure_demo_world

    ensure_demo_world(DATA)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([str(INVESTIGATE), "INC-1042", "--format", "json"], cwd=ROOT,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"investigate failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"cold_start_s": round(statistics.median(times), 3), "cold_start_runs_s": [round(t, 3) for t in times]}


def fanout(latency_s: float = 0.3) -> dict:
    """The parallel coordinator against the same agents one after another, with `latency_s` added to
    every backend question."""
    from inquest.agents import build_agents
    from inquest.coordinator.fanout import fan_out
    from inquest.coordinator.triage import triage

    deps = _demo_deps(latency_s)
    incident = next(i for i in deps.backend.incidents() if i.id == "INC-1042")
    scope, _ = triage(incident, deps.backend, deps.config.investigation)
    agents = build_agents(deps.config.investigation.agents)
    single = {}
    for agent in agents:
        started = time.perf_counter()
        agent.investigate(incident, scope, deps)
        single[agent.name] = time.perf_counter() - started
    sequential = sum(single.values())
    started = time.perf_counter()
    findings = fan_out(agents, incident, scope, deps, timeout_s=120)
    parallel = time.perf_counter() - started
    assert all(f.status == "ok" for f in findings), [(f.agent, f.error) for f in findings]
    return {
        "agents": len(agents), "fanout_latency_ms": latency_s * 1000,
        "fanout_sequential_s": round(sequential, 3), "fanout_parallel_s": round(parallel, 3),
        "fanout_speedup": round(sequential / parallel, 2),
        "fanout_vs_slowest": round(parallel / max(single.values()), 3),
        "fanout_single_agent_s": {k: round(v, 3) for k, v in single.items()},
    }


def replay(rounds: int = 5) -> dict:
    """Incidents investigated per minute, in one process, over every incident the demo store knows."""
    from inquest.coordinator.investigation import investigate

    deps = _demo_deps()
    incidents = list(deps.backend.incidents())
    started = time.perf_counter()
    for _ in range(rounds):
        for incident in incidents:
            investigate(incident, deps)
    elapsed = time.perf_counter() - started
    count = rounds * len(incidents)
    return {"replay_incidents": count, "replay_incidents_per_min": round(count / elapsed * 60, 1),
            "replay_cases": [i.id for i in incidents]}


def scale() -> dict:
    from scale_world import measure_scale

    return measure_scale(DATA / "scale")


_ROWS = [
    ("cold_start_s", "process start → report, demo, median", "≤ 1.0 s"),
    ("fanout_speedup", "parallel vs sequential agents", "≥ 0.85 × agents"),
    ("fanout_vs_slowest", "parallel wall / slowest agent", "≤ 1.15"),
    ("replay_incidents_per_min", "replay throughput", "≥ 100/min"),
    ("scale_records", "log records + spans in the scale world", "≥ 12M"),
    ("scale_ingest_records_per_s", "generation + load throughput", ""),
    ("scale_investigation_s", "investigation on the scale world", "≤ 5 s"),
    ("scale_peak_rss_mb", "peak RSS of the investigating process", "≤ 1536 MB"),
    ("scale_max_rows_to_python", "most rows one question returned", ""),
]


def print_table(results: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        for key, _, _ in _ROWS:
            print(key, results.get(key))
        return
    table = Table(title="inquest bench")
    for column in ("figure", "what", "value", "target"):
        table.add_column(column)
    for key, what, target in _ROWS:
        if key in results:
            table.add_row(key, what, str(results[key]), target)
    Console().print(table)
