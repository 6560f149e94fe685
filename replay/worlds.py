"""The worlds replay cases are replayed in: built, loaded or found, and cached.

Worlds are materialised into a cache folder keyed by what determines their content (scenario, seed,
scale and the simulator's source; or the shipped telemetry's bytes), so replaying again costs nothing.
A scenario's world is built by the builder plugged into the `inquest.worlds` entry-point group; shipped
telemetry is ingested into a fresh store; a benchmark's converted store is used where it is.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inquest import registry
from inquest.replay.cases import SIMULATOR_PACKAGE, Case, CaseError, package_dir

_WORLD_MARKER = "world.json"


@dataclass(frozen=True)
class World:
    """A materialised world: where its store and code live."""

    store_path: Path
    repo_path: Path
    key: str


def _evals_imports(file: Path) -> set[str]:
    """Modules of this package that `file` imports, anywhere in it (builders import lazily too)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            if name.startswith(SIMULATOR_PACKAGE + "."):
                found.add(name[len(SIMULATOR_PACKAGE) + 1:].split(".")[0])
    return found


def simulator_version() -> str:
    """A digest of the simulator's source: the scenario registry, every module of this package it imports
    (transitively), and the store schema. Any change to how worlds are generated yields new cache keys;
    edits elsewhere in the package (scoring, reports) keep the cache."""
    here = package_dir(SIMULATOR_PACKAGE)
    todo, seen = ["scenarios"], set()
    files: list[Path] = []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if (here / module).is_dir():  # a sub-package (evals/sim): all of its source counts
            package = sorted((here / module).rglob("*.py"))
            files.extend(package)
            for file in package:
                todo.extend(_evals_imports(file))
        elif (here / f"{module}.py").is_file():
            files.append(here / f"{module}.py")
            todo.extend(_evals_imports(here / f"{module}.py"))
    files = sorted(files) + [package_dir("inquest.tools.backends") / "embedded_schema.py"]
    digest = hashlib.sha256()
    for file in files:
        if file.is_file():
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def world_key(case: Case) -> str:
    if case.store is not None:
        stat = case.store.stat()
        digest = hashlib.sha256(f"{case.store}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        return f"store-{case.id}-{digest}"
    if case.world is not None:
        w = case.world
        return f"{w.scenario}-seed{w.seed}-scale{w.scale:g}-sim{simulator_version()}"
    assert case.telemetry is not None
    return f"shipped-{case.id}-{_folder_digest(case.telemetry)}"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Two replays (cron and a person) may want the same world at once: one builds, the other waits."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def materialise(case: Case, cache_dir: Path, say: Callable[[str], None] = lambda _m: None) -> World:
    """The case's world in `cache_dir`, built only when no complete copy is cached. A converted store is
    used where it is: nothing to build, and a benchmark's store is too big to copy per case."""
    key = world_key(case)
    if case.store is not None:
        return World(case.store, case.code or Path(cache_dir) / key / "no-repository", key)
    folder = Path(cache_dir) / key
    with _locked(Path(cache_dir) / f"{key}.lock"):
        marker = folder / _WORLD_MARKER
        if marker.is_file():
            described = json.loads(marker.read_text(encoding="utf-8"))
            # Paths inside the folder are kept relative, so a data dir that moved still works.
            return World(folder / described["store"], folder / described["repo"], key)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        say(f"building the world of case {case.id} in {folder} (once; later replays reuse it)…")
        if case.world is not None:
            store, repo = _build_scenario(case, folder)
        else:
            store, repo = _load_shipped(case, folder)
        marker.write_text(json.dumps({"store": _relative(store, folder), "repo": _relative(repo, folder),
                                      "case": case.id}), encoding="utf-8")
    if case.world is not None:
        _prune_stale(Path(cache_dir), key)
    return World(store, repo, key)


def _relative(path: Path, folder: Path) -> str:
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)


def _prune_stale(cache_dir: Path, key: str) -> None:
    """Removes copies of this world built by an older simulator: nothing will ask for them again."""
    prefix = key[: key.rindex("-sim") + 4]
    for lock in cache_dir.glob(f"{prefix}*.lock"):
        stale = lock.with_suffix("")
        if stale.name == key:
            continue
        with open(lock, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another replay is building or reading it right now
                continue
            shutil.rmtree(stale, ignore_errors=True)
            lock.unlink()


def _build_scenario(case: Case, folder: Path) -> tuple[Path, Path]:
    """Builds a scenario's world with the builder plugged into the `inquest.worlds` group (the simulator's
    scenario library declares itself there), so replay, a product package, never names the harness."""
    assert case.world is not None
    build = registry.load(registry.WORLDS, "scenarios")
    try:
        built = build(case.world.scenario, folder, case.world.seed, case.world.scale)
    except KeyError as unknown:
        raise CaseError(f"{case.source}: 'world.scenario' {unknown.args[0]}") from None
    return Path(built.store_path), Path(built.repo_path)


def _load_shipped(case: Case, folder: Path) -> tuple[Path, Path]:
    """Loads a case's exported telemetry (OTLP, change NDJSON, incident YAML) into a fresh store."""
    from inquest.ingest.driver import ingest

    assert case.telemetry is not None
    store = folder / "store.duckdb"
    result = ingest(store, [case.telemetry])
    problems = [f"{f.path}: {f.error}" for f in result.unreadable]
    if problems or not result.accepted:
        raise CaseError(f"{case.source}: the shipped telemetry in {case.telemetry} did not load: "
                        + ("; ".join(problems) or "no file in it holds telemetry"))
    repo = case.code if case.code is not None else folder / "no-repository"
    return store, repo
