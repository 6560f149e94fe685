"""Replay cases: past incidents with a known root cause, read from case folders or archives.

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

The worlds cases are replayed in are built by replay/worlds.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inquest import safe_yaml
from inquest.errors import InquestError

CASE_FILE = "case.yaml"
SIMULATOR_PACKAGE = "inquest.evals"  # the simulator's package: it holds the scenario library's case folders as data


def package_dir(name: str) -> Path:
    """Where a package's files are, found without importing it (so replay does not load the simulator)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations))).resolve()


LIBRARY = package_dir(SIMULATOR_PACKAGE) / "cases"  # the scenario library shipped with inquest


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

    truth = _truth(raw, file)
    world = _world(raw, file) if raw.get("world") is not None else None
    telemetry = None
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


def _truth(raw: dict, file: Path) -> Truth:
    truth_raw = _require(raw, "truth", file, dict)
    _unknown_keys(truth_raw, {"service", "change", "fault"}, file, "truth.")
    if "service" not in truth_raw:
        raise CaseError(f"{file}: missing key 'truth.service' (null for a false alarm)")
    truth = Truth(service=_require(truth_raw, "service", file, str, optional=True, prefix="truth."),
                  change=_require(truth_raw, "change", file, str, optional=True, prefix="truth."),
                  fault=_require(truth_raw, "fault", file, str, optional=True, prefix="truth."))
    if truth.service is None and truth.change is not None:
        raise CaseError(f"{file}: 'truth.change' names a change but 'truth.service' is null")
    return truth


def _world(raw: dict, file: Path) -> WorldSpec:
    spec = _require(raw, "world", file, dict)
    _unknown_keys(spec, {"scenario", "seed", "scale"}, file, "world.")
    seed, scale = spec.get("seed", 7), spec.get("scale", 1.0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CaseError(f"{file}: 'world.seed' must be an integer, got {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise CaseError(f"{file}: 'world.scale' must be a positive number, got {scale!r}")
    scenario = _require(spec, "scenario", file, str, prefix="world.")
    return WorldSpec(scenario=scenario, seed=seed, scale=float(scale))


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
