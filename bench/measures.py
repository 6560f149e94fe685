"""The measurements behind `make bench`. Each returns a dict of figures for bench-results.json."""

from __future__ import annotations

import inspect
import json
import os
import resource
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


def _demo_deps():
    from inquest.config import load_config
    from inquest.connect import connect

    return connect(load_config(ROOT / "config.yaml"))


class DelayedBackend:
    """The same backend with a fixed latency before every question, as a remote cluster would add.
    With `memo`, answers come from a cache filled by a warm-up pass, so only the latency remains: the
    computing then happens "elsewhere", as it does on a cluster, instead of on the bench's own cores."""

    def __init__(self, inner, latency_s: float, memo: bool = False) -> None:
        self._inner, self._latency_s = inner, latency_s
        self.name = f"{inner.name}+{latency_s * 1000:.0f}ms"
        self.memo: dict | None = {} if memo else None
        self.warming = memo

    def __getattr__(self, attr: str):
        real = getattr(self._inner, attr)
        if not callable(real):
            return real

        def delayed(*args, **kwargs):
            # By name, defaults applied: the same question asked positionally or by keyword is one answer.
            bound = inspect.signature(real).bind(*args, **kwargs)
            bound.apply_defaults()
            key = (attr, repr(sorted(bound.arguments.items())))
            if self.memo is not None and not self.warming:
                time.sleep(self._latency_s)
                return self.memo[key]
            if not self.warming:
                time.sleep(self._latency_s)
            answer = real(*args, **kwargs)
            if self.memo is not None:
                self.memo[key] = answer
            return answer

        return delayed


def cold_start(runs: int = 7) -> dict:
    """Process start to ranked report on the demo incident, deterministic mode, world already built."""
    from inquest.evals.sim.demo import ensure_demo_world

    ensure_demo_world(DATA)
    times, cpu = [], []
    for _ in range(runs):
        # CPU time beside wall time: on a shared machine the wall clock measures the neighbours too
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([str(INVESTIGATE), "INC-1042", "--format", "json"], cwd=ROOT,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"investigate failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"cold_start_s": round(statistics.median(times), 3), "cold_start_runs_s": [round(t, 3) for t in times],
            "cold_start_cpu_s": round(statistics.median(cpu), 3)}


def _fanout_once(deps, latency_s: float, memo: bool) -> dict:
    from inquest.agents import build_agents
    from inquest.agents.base import Deps
    from inquest.coordinator.fanout import fan_out
    from inquest.coordinator.shared_answers import SharedAnswers
    from inquest.coordinator.triage import triage

    backend = DelayedBackend(deps.backend, latency_s, memo=memo)
    deps = Deps(backend=backend, code=deps.code, config=deps.config)
    incident = next(i for i in deps.backend.incidents() if i.id == "INC-1042")
    scope, _ = triage(incident, deps.backend, deps.config.investigation)
    agents = build_agents(deps.config.investigation.agents)
    if memo:  # warm-up: every question the agents will ask, answered once without delay
        for agent in agents:
            agent.investigate(incident, scope, deps)
        backend.warming = False
    single = {}
    for agent in agents:
        started = time.perf_counter()
        agent.investigate(incident, scope, deps)
        single[agent.name] = time.perf_counter() - started
    # In parallel the agents share answers as in investigate(): a question two agents ask costs one trip.
    shared = Deps(backend=SharedAnswers(backend), code=deps.code, config=deps.config)
    started = time.perf_counter()
    findings = fan_out(agents, incident, scope, shared, timeout_s=120)
    parallel = time.perf_counter() - started
    assert all(f.status == "ok" for f in findings), [(f.agent, f.error) for f in findings]
    return {"sequential": sum(single.values()), "parallel": parallel, "single": single,
            "speedup": sum(single.values()) / parallel, "vs_slowest": parallel / max(single.values())}


def fanout(latency_s: float = 0.3) -> dict:
    """The parallel coordinator against the same agents one after another, with `latency_s` added to
    every backend question: once with answers memoised (a remote backend: only latency is local), once
    live (DuckDB computing every answer on this machine's own cores, shared by all agents)."""
    deps = _demo_deps()
    remote = _fanout_once(deps, latency_s, memo=True)
    live = _fanout_once(deps, latency_s, memo=False)
    return {
        "agents": len(remote["single"]), "fanout_latency_ms": latency_s * 1000,
        "fanout_sequential_s": round(remote["sequential"], 3), "fanout_parallel_s": round(remote["parallel"], 3),
        "fanout_speedup": round(remote["speedup"], 2), "fanout_vs_slowest": round(remote["vs_slowest"], 3),
        "fanout_single_agent_s": {k: round(v, 3) for k, v in remote["single"].items()},
        "fanout_speedup_live": round(live["speedup"], 2), "fanout_vs_slowest_live": round(live["vs_slowest"], 3),
        "fanout_single_agent_live_s": {k: round(v, 3) for k, v in live["single"].items()},
    }


def replay(rounds: int = 3) -> dict:
    """Cases replayed per minute over the whole scenario library, worlds already built (replay caches
    them), with the replay engine's default parallelism — the figure a nightly replay lives by."""
    from inquest.config import load_config
    from inquest.replay.cases import discover_cases
    from inquest.replay.runner import replay as run_replay

    config = load_config(ROOT / "config.yaml")
    data_dir = DATA / "bench-replay"
    cases = discover_cases([], data_dir)
    warm = run_replay(cases, config, data_dir)  # builds and caches every world; not timed
    started = time.perf_counter()
    for _ in range(rounds):
        run = run_replay(cases, config, data_dir)
    elapsed = time.perf_counter() - started
    count = rounds * len(cases)
    ranks = {r.case_id: r.rank_of_truth for r in run.results}
    return {"replay_cases": len(cases), "replay_incidents_per_min": round(count / elapsed * 60, 1),
            "replay_top1": round(sum(1 for r in ranks.values() if r == 1) / len(ranks), 3),
            "replay_ranks": ranks, "replay_warm_s": round((warm.finished_at - warm.started_at).total_seconds(), 1)}


def nezha() -> dict:
    """The public benchmark: all labelled OnlineBoutique faults, converted and scored from the archive."""
    archive = ROOT.parent / "shared" / "datasets" / "nezha-onlineboutique.tar.xz"
    if not archive.exists():
        return {"nezha_skipped": f"{archive} not found"}
    work = DATA / "bench-nezha"
    started = time.perf_counter()
    done = subprocess.run([str(INVESTIGATE), "bench", "nezha", str(archive), "--format", "json", "--work-dir",
                           str(work)], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        return {"nezha_error": done.stderr[-2000:]}
    summary = json.loads(done.stdout)["summary"]
    return {"nezha_cases": summary["cases"], "nezha_as1": summary["as1"], "nezha_as3": summary["as3"],
            "nezha_as5": summary["as5"], "nezha_seconds": round(elapsed, 1)}


def es() -> dict:
    """The Elasticsearch backend at volume (bench/es_bench.py): load, investigate, documents transferred."""
    from es_bench import es as measure

    return measure()


def ingest() -> dict:
    """`investigate ingest` of a 0.3M, 1M and 3M-span collector file (bench/ingest_speed.py)."""
    from ingest_speed import measure_ingest

    return measure_ingest(DATA / "ingest")


def llm() -> dict:
    """`investigate --llm claude` against the scripted model server (bench/llm_stage.py)."""
    from llm_stage import measure_llm_stage

    return measure_llm_stage(DATA)


def scale() -> dict:
    """12M records over 3 h 40 min (bench/scale_world.py), generated once and kept under .inquest/scale."""
    from scale_world import WORLDS, measure_scale

    return measure_scale(DATA / "scale", WORLDS["scale"])


def scale100m() -> dict:
    """100M records over a day, the same incident in its last 40 minutes; generated once (~15 min) and kept."""
    from scale_world import WORLDS, measure_scale

    return measure_scale(DATA / "scale", WORLDS["scale100m"])


_ROWS = [
    ("cold_start_s", "process start → report, demo, median", "≤ 0.6 s"),
    ("cold_start_cpu_s", "the same in CPU time (user + system)", ""),
    ("llm_stage_overhead_s", "LLM stage wall − model latency (critical path)", "≤ 1.5 s"),
    ("llm_run_cpu_s", "the --llm run's CPU time (user + system)", ""),
    ("fanout_speedup", "parallel vs sequential agents", "≥ 0.85 × agents"),
    ("fanout_vs_slowest", "parallel wall / slowest agent", "≤ 1.15"),
    ("fanout_speedup_live", "the same, DuckDB computing locally", ""),
    ("fanout_vs_slowest_live", "the same, DuckDB computing locally", ""),
    ("replay_incidents_per_min", "replay throughput, scenario library", "≥ 100/min"),
    ("replay_top1", "scenario library: truth ranked first", ""),
    ("nezha_as1", "Nezha OnlineBoutique AS@1 (paper: Nezha 92.86)", ""),
    ("nezha_as3", "Nezha OnlineBoutique AS@3 (paper: Nezha 96.43)", ""),
    ("nezha_seconds", "Nezha: unpack, convert and score all cases", "< 120 s"),
    ("ingest_spans_per_s", "investigate ingest, 1M-span collector file", "≥ 200,000/s"),
    ("ingest_growth", "time per span at 3M ÷ at 0.3M", "≤ 1.2"),
    ("scale_records", "log records + spans in the scale world", "≥ 12M"),
    ("scale_ingest_records_per_s", "generation + load throughput", ""),
    ("scale_investigation_s", "investigation on the 12M world, median of 3", "≤ 5 s"),
    ("scale_investigation_cpu_s", "the same in CPU time (all threads)", ""),
    ("scale_peak_rss_mb", "peak RSS of the investigating process", "≤ 1536 MB"),
    ("scale_max_rows_to_python", "most rows one question returned", ""),
    ("scale100m_records", "log records + spans in the day-long world", "≥ 100M"),
    ("scale100m_investigation_s", "investigation on the 100M world, median of 3", "≤ 5 s"),
    ("scale100m_investigation_cpu_s", "the same in CPU time (all threads)", ""),
    ("scale100m_peak_rss_mb", "peak RSS of the investigating process", "≤ 1536 MB"),
    ("scale100m_max_rows_to_python", "most rows one question returned", ""),
    ("bench_total_s", "this run, all suites chosen (wall)", "≤ 600 s by default"),
    ("bench_total_cpu_s", "the same in CPU time (this process and its children)", ""),
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
