"""Replaying cases: each case's world is materialised (cached), then the engine investigates the case's
incident there, several cases at once, and each report is scored against the truth.

Cases run in a thread pool by default: DuckDB does the heavy lifting and releases the GIL while it does,
so on two cores threads finished 8 cases in 8-9 s where a process pool took 12-14 s (docs/replay.md).
`executor="process"` isolates cases from one another at the price of a fresh interpreter per worker.

A case that cannot be replayed at all (its world fails to build, its incident is not in the store, the
engine raises) becomes a CaseResult with status "error": one broken case never hides the others.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from inquest.config import SECRET_KEY, BackendConfig, CodeConfig, Config, EmbeddedBackend
from inquest.errors import InquestError
from inquest.replay.cases import Case
from inquest.replay.history import Run, engine_version, new_run_id
from inquest.replay.scoring import CaseResult, failed_case, score_report
from inquest.replay.worlds import World, materialise

Say = Callable[[str], None]
# Sections that say where a case's data lives, where reports go, or how the replay itself runs: they
# differ between machines without changing what the engine concludes, so they stay out of the config hash.
_NOT_ENGINE = {"backend", "code", "replay", "attach"}


def _quiet(_message: str) -> None:
    return None


def _without_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_secrets(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [_without_secrets(v) for v in value]
    return value


def config_hash(config: Config, plugins: Sequence[str] = ()) -> str:
    """A digest of the settings that shape an investigation's outcome (agents, thresholds, models...),
    so two runs can be told apart by what they ran with. Secrets are left out, even hashed."""
    engine = {k: v for k, v in config.model_dump(mode="json").items() if k not in _NOT_ENGINE}
    engine["plugins"] = list(plugins)
    text = json.dumps(_without_secrets(engine), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def import_plugins(modules: Sequence[str]) -> None:
    """Imports modules named in `replay.plugins`: their `@register` decorators add or replace agents, so a
    replay can exercise an agent under development (or a deliberately broken one, to test the alarm)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise InquestError(f"replay.plugins: cannot import {name!r}: {exc}") from exc


def config_for_world(config: Config, world: World, baseline: tuple[int, int] | None = None) -> Config:
    """The user's engine settings, pointed at the case's world; a case's baseline window (from its data's
    layout) is the one setting a case may bring."""
    update: dict[str, Any] = {
        "backend": BackendConfig(embedded=EmbeddedBackend(path=world.store_path, demo=False)),
        "code": CodeConfig(repository=world.repo_path), "base_dir": world.store_path.parent,
    }
    if baseline is not None:
        update["investigation"] = config.investigation.model_copy(
            update={"baseline_minutes": baseline[0], "baseline_gap_minutes": baseline[1]})
    return config.model_copy(update=update)


def run_case(case: Case, world: World, config: Config) -> CaseResult:
    """Investigates one case in its world and scores the report. Never raises: a failure is a result."""
    from inquest.connect import connect
    from inquest.coordinator.investigation import investigate

    try:
        deps = connect(config_for_world(config, world, case.baseline))
        try:
            incidents = {i.id: i for i in deps.backend.incidents()}
            if case.incident not in incidents:
                return failed_case(case, f"incident {case.incident} is not in the case's world "
                                         f"(it has: {', '.join(incidents) or 'none'})")
            started = time.perf_counter()
            report = investigate(incidents[case.incident], deps)
            seconds = time.perf_counter() - started
        finally:
            close = getattr(deps.backend, "close", None)
            if close is not None:
                close()
            deps.code.close()
    except Exception as exc:  # noqa: BLE001 - the replay boundary: one case's crash is that case's result
        return failed_case(case, f"{type(exc).__name__}: {exc}")
    return score_report(case, report, seconds)


def _materialise_all(cases: Sequence[Case], cache_dir: Path, say: Say) -> dict[str, World | CaseResult]:
    """Worlds are built one at a time: each build already keeps both cores busy."""
    worlds: dict[str, World | CaseResult] = {}
    for case in cases:
        try:
            worlds[case.id] = materialise(case, cache_dir, say)
        except Exception as exc:  # noqa: BLE001 - the replay boundary, as in run_case
            worlds[case.id] = failed_case(case, f"its world could not be built: {type(exc).__name__}: {exc}")
    return worlds


def _executor(kind: str, jobs: int, plugins: Sequence[str]) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="replay")
    if kind == "process":
        # forkserver: a worker never inherits the parent's threads or open DuckDB handles.
        return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=import_plugins, initargs=(tuple(plugins),))
    raise ValueError(f"unknown executor {kind!r}; use 'thread' or 'process'")


def replay(cases: Sequence[Case], config: Config, data_dir: Path, *, jobs: int = 2,
           executor: Literal["thread", "process"] = "thread", plugins: Sequence[str] = (),
           say: Say = _quiet) -> Run:
    """Replays `cases` and returns the scored run (not yet stored). Results keep the cases' order."""
    started_at = datetime.now(UTC)
    import_plugins(plugins)
    worlds = _materialise_all(cases, Path(data_dir) / "worlds", say)
    results: dict[str, CaseResult] = {cid: w for cid, w in worlds.items() if isinstance(w, CaseResult)}
    built = {cid: w for cid, w in worlds.items() if not isinstance(w, CaseResult)}
    runnable = [c for c in cases if c.id not in results]
    if runnable:
        with _executor(executor, max(1, min(jobs, len(runnable))), plugins) as pool:
            futures = {pool.submit(run_case, case, built[case.id], config): case for case in runnable}
            for future in as_completed(futures):
                result = future.result()
                results[result.case_id] = result
                say(_progress_line(result))
    for case in cases:
        if case.id in worlds and isinstance(worlds[case.id], CaseResult):
            say(_progress_line(results[case.id]))
    return Run(id=new_run_id(started_at), started_at=started_at, finished_at=datetime.now(UTC),
               engine_version=engine_version(), config_hash=config_hash(config, plugins),
               results=tuple(results[c.id] for c in cases))


def _progress_line(result: CaseResult) -> str:
    if result.status == "error":
        return f"  {result.case_id}: could not be replayed: {result.error}"
    rank = f"truth ranked #{result.rank_of_truth}" if result.rank_of_truth else "truth missed"
    failed = f", failed agents: {', '.join(f.agent for f in result.agent_failures)}" if result.agent_failures else ""
    return f"  {result.case_id}: {rank} in {result.seconds:.1f} s{failed}"

