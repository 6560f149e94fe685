"""The LLM stage's own cost: `investigate INC-1042 --llm claude` in a fresh process, against the scripted
Messages API server the LLM tests use (tests/llm/anthropic_server.py, well-behaved replies), each reply
held back `LATENCY_S` as a model would.

llm_stage_overhead_s is the report's LLM stage wall time minus the model's latency along the critical path
(usage.llm_stage_ms - usage.llm_model_ms): what Inquest and crewai add around the model — importing
crewai where the deterministic stage did not hide it, building the crews, tools, briefings. CPU time of
the whole process is given beside it: on a shared machine the wall clock also measures the neighbours.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INVESTIGATE = Path(sys.prefix) / "bin" / "investigate"
LATENCY_S = 0.5  # per model reply; the overhead is measured apart from it


def _one_run(url: str, api_key: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "INQUEST_", "OTEL_", "CREWAI_"))}
    env.update(HOME=str(home), ANTHROPIC_API_KEY=api_key, ANTHROPIC_BASE_URL=url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(INVESTIGATE), "INC-1042", "--llm", "claude", "--format", "json"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"investigate --llm claude failed ({done.returncode}): {done.stderr[-2000:]}")
    usage = json.loads(done.stdout)["usage"]
    if usage["mode"] != "llm":
        raise SystemExit(f"the LLM stage fell back to the deterministic report: {usage}")
    return {"wall": wall, "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
            "stage": usage["llm_stage_ms"] / 1000, "model": usage["llm_model_ms"] / 1000, "calls": usage["llm_calls"]}


def measure_llm_stage(data: Path, runs: int = 3) -> dict:
    from inquest.evals.sim.demo import ensure_demo_world

    ensure_demo_world(data)
    sys.path.insert(0, str(ROOT / "tests"))
    from llm import scripts  # tests/llm: the scripted server and the well-behaved model
    from llm.anthropic_server import API_KEY, AnthropicServer, Slow

    results = []
    with AnthropicServer(lambda request: Slow(LATENCY_S, scripts.well_behaved(request))) as server, \
            tempfile.TemporaryDirectory(prefix="inquest-bench-llm-") as home:
        for _ in range(runs):
            results.append(_one_run(server.url, API_KEY, Path(home)))
    median = {key: statistics.median(r[key] for r in results) for key in ("wall", "cpu", "stage", "model")}
    return {"llm_stage_overhead_s": round(statistics.median(r["stage"] - r["model"] for r in results), 3),
            "llm_stage_s": round(median["stage"], 3), "llm_model_latency_s": round(median["model"], 3),
            "llm_calls": results[0]["calls"], "llm_reply_latency_s": LATENCY_S,
            "llm_run_s": round(median["wall"], 3), "llm_run_cpu_s": round(median["cpu"], 3)}
