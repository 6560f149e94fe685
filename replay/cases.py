"""Replay cases: past incidents with a known root cause, and the worlds they are replayed in.

A case is a folder holding `case.yaml`:

    id: n-plus-one-deploy
    incident: INC-1042                 # the incident id inside the case's world
    world: {scenario: n_plus_one_deploy, seed: 7, scale: 0.5}   # built by the scenario library...
    telemetry: telemetry               # ...or shipped: a folder exported by `ingest` (relative to the case)
    store: ../../nezha.duckdb          # ...or an embedded store a benchmark converter wrote (used in place)
    baseline: {minutes: 3, gap_minutes: 0}  # optional: the baseline window, set from the data's own layout
    code: repo                         # optional: the services' git repository shipped with the case
    expected_agent_failures: [code_diff]  # optional: agents the case gives no data (e.g. no code shipped)
    truth: {service: orders, change: dep-orders-2.14.0, fault: n_plus_one}
    notes: free text

`truth.change: null` means no change of ours caused it; `truth.service: null` means nothing was wrong
(a false alarm), so the right answer is "no root cause". Cases come from a folder of case folders (the
scenario library in evals/cases/ by default), a single case folder, or a .tar.gz archive of case folders.

Worlds are materialised into a cache folder keyed by what determines their content (scenario, seed,
scale and the simulator's source; or the shipped telemetry's bytes), so replaying again costs nothing.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inquest import registry, safe_yaml
from inquest.errors import InquestError

CASE_FILE = "case.yaml"
_PACKAGE = "inquest.evals"  # the simulator's package: it holds the scenario library's case folders as data


def _package_dir(name: str) -> Path:
    """Where a package's files are, found without importing it (so replay does not load the simulator)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations))).resolve()


LIBRARY = _package_dir(_PACKAGE) / "cases"  # the scenario library shipped with inquest
_WORLD_MARKER = "world.json"


class CaseError(InquestError):
    """A case file is malformed, or its world cannot be built; the message names the file and key."""


@dataclass(frozen=True)
class Truth:
    service: str | None  # None: a false alarm, nothing was wrong
    change: str | None  # None: no change of ours caused it
    fault: str | None = None

    def label(self) -> str:
        if self.service is None:
            return "no root cause (false alarm)"
        return f"{self.service} / {self.change}" if self.change else f"{self.service} (no change of ours)"


@dataclass(frozen=True)
class WorldSpec:
    scenario: str
    seed: int = 7
    scale: float = 1.0


@dataclass(frozen=True)
class Case:
    id: str
    incident: str
    truth: Truth
    source: Path  # the case.yaml it was read from
    world: WorldSpec | None = None
    telemetry: Path | None = None  # shipped telemetry folder, absolute
    code: Path | None = None  # shipped git repository, absolute
    notes: str = ""
    # Agents the case gives nothing to work with: their failures are shown but do not fail the run.
    expected_agent_failures: tuple[str, ...] = ()
    store: Path | None = None  # a converted embedded store, used where it is (a benchmark's)
    # (minutes, gap minutes): the one setting a case may bring, from its data's layout (a benchmark whose
    # faults lie minutes apart cannot use a 40-minute baseline). Everything else is the user's config.
    baseline: tuple[int, int] | None = None


@dataclass(frozen=True)
class World:
    """A materialised world: where its store and code live."""

    store_path: Path
    repo_path: Path
    key: str


# --- reading cases ---------------------------------------------------------------------------------


def _require(raw: dict, key: str, where: Path, kind: type | tuple[type, ...], optional: bool = False,
             prefix: str = "") -> Any:
    if key not in raw or raw[key] is None:
        if optional:
            return None
        raise CaseError(f"{where}: missing key '{prefix}{key}'")
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise CaseError(f"{where}: '{prefix}{key}' must be {names}, got {type(value).__name__} ({value!r})")
    return value


def _unknown_keys(raw: dict, allowed: set[str], where: Path, prefix: str = "") -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise CaseError(f"{where}: unknown key '{prefix}{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")


def load_case(path: Path) -> Case:
    """Reads and validates one case: `path` is a case folder or its case.yaml."""
    path = Path(path)
    file = path / CASE_FILE if path.is_dir() else path
    try:
        raw = safe_yaml.load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaseError(f"{file}: no such case file") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{file}: not valid YAML: {safe_yaml.one_line(exc)}") from None
    if not isinstance(raw, dict):
        raise CaseError(f"{file}: the top level must be a mapping, got {type(raw).__name__}")
    _unknown_keys(raw, {"id", "incident", "world", "telemetry", "store", "baseline", "code", "truth", "notes",
                        "expected_agent_failures"}, file)
    case_id = _require(raw, "id", file, str)
    incident = _require(raw, "incident", file, str)
    folder = file.parent

    truth_raw = _require(raw, "truth", file, dict)
    _unknown_keys(truth_raw, {"service", "change", "fault"}, file, "truth.")
    if "service" not in truth_raw:
        raise CaseError(f"{file}: missing key 'truth.service' (null for a false alarm)")
    truth = Truth(service=_require(truth_raw, "service", file, str, optional=True, prefix="truth."),
                  change=_require(truth_raw, "change", file, str, optional=True, prefix="truth."),
                  fault=_require(truth_raw, "fault", file, str, optional=True, prefix="truth."))
    if truth.service is None and truth.change is not None:
        raise CaseError(f"{file}: 'truth.change' names a change but 'truth.service' is null")

    world = telemetry = None
    if raw.get("world") is not None:
        spec = _require(raw, "world", file, dict)
        _unknown_keys(spec, {"scenario", "seed", "scale"}, file, "world.")
        seed, scale = spec.get("seed", 7), spec.get("scale", 1.0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise CaseError(f"{file}: 'world.seed' must be an integer, got {seed!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise CaseError(f"{file}: 'world.scale' must be a positive number, got {scale!r}")
        scenario = _require(spec, "scenario", file, str, prefix="world.")
        world = WorldSpec(scenario=scenario, seed=seed, scale=float(scale))
    if raw.get("telemetry") is not None:
        telemetry = (folder / _require(raw, "telemetry", file, str)).resolve()
        if not telemetry.is_dir():
            raise CaseError(f"{file}: 'telemetry' names {telemetry}, which is not a folder")
    elif world is None and (folder / "telemetry").is_dir():
        telemetry = (folder / "telemetry").resolve()
    store = None
    if raw.get("store") is not None:
        store = (folder / _require(raw, "store", file, str)).resolve()
        if not store.is_file():
            raise CaseError(f"{file}: 'store' names {store}, which is not a file")
    if sum(x is not None for x in (world, telemetry, store)) != 1:
        raise CaseError(f"{file}: a case needs exactly one of 'world' (a scenario to build), 'telemetry' "
                        "(a folder exported by ingest) or 'store' (an embedded store a converter wrote)")
    baseline = _baseline(raw, file)
    code = None
    if raw.get("code") is not None:
        code = (folder / _require(raw, "code", file, str)).resolve()
    expected = raw.get("expected_agent_failures") or []
    if not isinstance(expected, list) or not all(isinstance(a, str) for a in expected):
        raise CaseError(f"{file}: 'expected_agent_failures' must be a list of agent names, got {expected!r}")
    return Case(id=case_id, incident=incident, truth=truth, source=file.resolve(), world=world,
                telemetry=telemetry, code=code, notes=str(raw.get("notes") or "").strip(),
                expected_agent_failures=tuple(expected), store=store, baseline=baseline)


def _baseline(raw: dict, file: Path) -> tuple[int, int] | None:
    if raw.get("baseline") is None:
        return None
    spec = _require(raw, "baseline", file, dict)
    _unknown_keys(spec, {"minutes", "gap_minutes"}, file, "baseline.")
    minutes = _require(spec, "minutes", file, int, prefix="baseline.")
    gap = spec.get("gap_minutes", 0)
    if minutes <= 0 or isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
        raise CaseError(f"{file}: 'baseline' needs minutes > 0 and gap_minutes >= 0, got {spec!r}")
    return minutes, gap


def _case_folders(root: Path) -> list[Path]:
    if (root / CASE_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{CASE_FILE}"))


def _unpack(archive: Path, into: Path) -> Path:
    """Extracts an archive of case folders once, into a folder named by the archive's content."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = into / "archives" / digest
    if (target / ".complete").exists():
        return target
    partial = target.with_name(f"{digest}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(partial, filter="data")  # refuses absolute paths, `..` and device files
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CaseError(f"{archive}: cannot unpack the archive of cases: {exc}") from exc
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target


def discover_cases(sources: Sequence[str | Path], data_dir: Path) -> list[Case]:
    """The cases named by `sources`: case folders, folders of them, .tar.gz archives, or case ids from the
    scenario library. No sources means the whole library."""
    if not sources:
        sources = [LIBRARY]
    library: dict[str, Path] | None = None
    folders: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
            root = _unpack(path.resolve(), data_dir)
            # an archive holds case folders at its top, or inside one folder named like the archive
            found = _case_folders(root) or sorted(p.parent for p in root.glob(f"*/*/{CASE_FILE}"))
        elif path.is_file() and path.name == CASE_FILE:
            found = [path.parent]
        elif path.is_dir():
            found = _case_folders(path)
        else:
            if library is None:
                library = {load_case(f).id: f for f in _case_folders(LIBRARY)}
            if str(source) not in library:
                raise CaseError(f"{source}: not a case folder, an archive of cases, or a case id of the library "
                                f"(known ids: {', '.join(sorted(library)) or 'none'})")
            found = [library[str(source)]]
        if not found:
            raise CaseError(f"{source}: holds no case ({CASE_FILE} in it or in its sub-folders)")
        folders.extend(found)
    cases = [load_case(folder) for folder in dict.fromkeys(folders)]
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen:
            raise CaseError(f"{case.source}: case id '{case.id}' is also used by {seen[case.id]}")
        seen[case.id] = case.source
    return cases


# --- materialising worlds --------------------------------------------------------------------------


def _evals_imports(file: Path) -> set[str]:
    """Modules of this package that `file` imports, anywhere in it (builders import lazily too)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            if name.startswith(_PACKAGE + "."):
                found.add(name[len(_PACKAGE) + 1:].split(".")[0])
    return found


def simulator_version() -> str:
    """A digest of the simulator's source: the scenario registry, every module of this package it imports
    (transitively), and the store schema. Any change to how worlds are generated yields new cache keys;
    edits elsewhere in the package (scoring, reports) keep the cache."""
    here = _package_dir(_PACKAGE)
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
    files = sorted(files) + [_package_dir("inquest.tools.backends") / "embedded_schema.py"]
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
