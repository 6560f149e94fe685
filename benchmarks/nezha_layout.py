"""The layout of the Nezha multimodal RCA benchmark (FSE 2023), as files on disk.

    rca_data/<date>/{trace,log,traceid}/HH_MM_<kind>.csv    one file per minute around each fault
    rca_data/<date>/metric/<pod>_metric.csv, front_service.csv
    rca_data/<date>/<date>-fault_list.json                    the labels (also found beside the folder)
    construct_data/<date>/...                                 a fault-free stretch, same layout

This module only finds files and reads the labels; turning CSV rows into store rows is nezha_load's job.
A file named HH_MM covers roughly the minute before HH:MM (in UTC), so file names double as a clock
that can be checked against the labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inquest.errors import InputError

MODALITIES = ("trace", "log", "traceid")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MINUTE_FILE = re.compile(r"^(\d{2})_(\d{2})_(trace|log|traceid)\.csv$")
# The label's two clocks may differ; closer than this they are the same instant.
SAME_INSTANT_S = 1.0


def pod_service(pod: str) -> str:
    """`frontend-579b9bff58-t2dbm` → `frontend`: a Deployment's pods are named <service>-<hash>-<id>.
    A name with fewer parts is taken to be the service itself."""
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod


@dataclass(frozen=True)
class MinuteFile:
    path: Path
    kind: str  # trace | log | traceid
    minute: datetime  # the HH:MM in the name, on the folder's date, UTC


@dataclass(frozen=True)
class Fault:
    """One labelled fault, with the instant the adapter believes and why."""

    date: str
    index: int  # order within the date
    injected_at: datetime
    pod: str
    fault: str
    label: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"nezha-{self.date}-{self.index}"

    @property
    def service(self) -> str:
        return pod_service(self.pod)


@dataclass(frozen=True)
class DateFolder:
    date: str
    root: Path  # rca_data/<date>
    minute_files: tuple[MinuteFile, ...]
    metric_files: tuple[Path, ...]  # per-pod series
    front_service: Path | None
    fault_list: Path | None


@dataclass(frozen=True)
class Layout:
    root: Path
    dates: tuple[DateFolder, ...]
    baseline_dates: tuple[DateFolder, ...]  # construct_data
    notes: tuple[str, ...] = field(default=())

    def all_folders(self) -> Iterable[DateFolder]:
        return (*self.dates, *self.baseline_dates)

    def files(self, kind: str) -> list[Path]:
        return [f.path for d in self.all_folders() for f in d.minute_files if f.kind == kind]


def find_root(path: Path) -> Path:
    """The folder that holds rca_data/: `path` itself or one level down (an unpacked archive)."""
    path = Path(path)
    if (path / "rca_data").is_dir():
        return path
    inside = sorted(p for p in path.iterdir() if (p / "rca_data").is_dir()) if path.is_dir() else []
    if len(inside) == 1:
        return inside[0]
    raise InputError(f"{path}: not a Nezha dataset: no rca_data/ folder in it"
                     + (f" (several candidates: {', '.join(p.name for p in inside)})" if inside else ""))


def _usable(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _date_folder(folder: Path) -> DateFolder:
    date = folder.name
    day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    minute_files = []
    for kind in MODALITIES:
        sub = folder / kind
        for path in sorted(sub.glob("*.csv")) if sub.is_dir() else ():
            match = _MINUTE_FILE.match(path.name)
            if match and match.group(3) == kind and _usable(path):
                hour, minute = int(match.group(1)), int(match.group(2))
                if hour < 24 and minute < 60:
                    minute_files.append(MinuteFile(path, kind, day + timedelta(hours=hour, minutes=minute)))
    metric_dir = folder / "metric"
    metrics = tuple(p for p in sorted(metric_dir.glob("*_metric.csv")) if _usable(p)) if metric_dir.is_dir() else ()
    front = metric_dir / "front_service.csv"
    labels = next((p for p in (folder / f"{date}-fault_list.json", folder.parent / f"{date}-fault_list.json")
                   if p.is_file()), None)
    return DateFolder(date=date, root=folder, minute_files=tuple(minute_files), metric_files=metrics,
                      front_service=front if _usable(front) else None, fault_list=labels)


def discover(path: Path) -> Layout:
    root = find_root(path)
    dates = tuple(_date_folder(p) for p in sorted((root / "rca_data").iterdir()) if p.is_dir() and _DATE.match(p.name))
    if not dates:
        raise InputError(f"{root / 'rca_data'}: no <YYYY-MM-DD> folders of faults")
    construct = root / "construct_data"
    baseline = tuple(_date_folder(p) for p in sorted(construct.iterdir()) if p.is_dir() and _DATE.match(p.name)) \
        if construct.is_dir() else ()
    notes = [] if baseline else [f"{construct}: missing: no fault-free stretch to load"]
    for d in dates:
        if d.fault_list is None:
            notes.append(f"{d.root}: no {d.date}-fault_list.json: its faults cannot be scored")
        for kind in ("trace", "log", "metric"):
            if not (d.root / kind).is_dir():
                notes.append(f"{d.root / kind}: missing")
    return Layout(root=root, dates=dates, baseline_dates=baseline, notes=tuple(notes))


# -- labels ------------------------------------------------------------------------------------------


def _label_entries(raw: Any, where: Path) -> list[dict[str, Any]]:
    """The list is keyed by hour in the published files ({"03": [...], ...}); a flat list is accepted too."""
    if isinstance(raw, dict):
        groups = [raw[k] for k in sorted(raw)]
    elif isinstance(raw, list):
        groups = [raw]
    else:
        raise InputError(f"{where}: expected an object of hour → faults, got {type(raw).__name__}")
    entries = []
    for group in groups:
        if not isinstance(group, list):
            raise InputError(f"{where}: expected a list of faults under each hour, got {type(group).__name__}")
        entries.extend(group)
    return entries


def _wall_clock(text: str, where: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InputError(f"{where}: inject_time {text!r} is not a 'YYYY-MM-DD HH:MM:SS' time")


def _has_files_near(at: datetime, minutes: set[datetime]) -> bool:
    """A file is named for the minute it ends in, so a fault's first file carries its own minute or the next."""
    floor = at.replace(second=0, microsecond=0)
    return floor in minutes or floor + timedelta(minutes=1) in minutes


def choose_instant(label: dict[str, Any], minutes: set[datetime], where: str) -> tuple[datetime, list[str]]:
    """inject_time is read as UTC; inject_timestamp is a second opinion. When they disagree, the one the
    telemetry files bracket wins (the files' names are the recording clock); when neither or both are
    bracketed, inject_time wins. Every disagreement is noted on the case."""
    stated = _wall_clock(str(label["inject_time"]), where)
    notes: list[str] = []
    epoch_raw = label.get("inject_timestamp")
    try:
        epoch = datetime.fromtimestamp(float(epoch_raw), tz=UTC) if epoch_raw not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        notes.append(f"inject_timestamp {epoch_raw!r} is not an epoch; inject_time used")
        epoch = None
    chosen = stated
    if epoch is not None and abs((epoch - stated).total_seconds()) > SAME_INSTANT_S:
        gap = (epoch - stated).total_seconds()
        if not _has_files_near(stated, minutes) and _has_files_near(epoch, minutes):
            chosen = epoch
            notes.append(f"inject_time {stated:%H:%M:%S} and inject_timestamp ({epoch:%H:%M:%S} UTC) disagree by "
                         f"{gap:+.0f} s; the telemetry files bracket inject_timestamp, so it is used")
        else:
            notes.append(f"inject_time {stated:%H:%M:%S} and inject_timestamp ({epoch:%H:%M:%S} UTC) disagree by "
                         f"{gap:+.0f} s; inject_time (UTC) used"
                         + (", which the telemetry files bracket" if _has_files_near(stated, minutes) else ""))
    if not _has_files_near(chosen, minutes):
        notes.append("no trace, log or trace-id file is named for the injection's minute")
    return chosen, notes


def read_faults(folder: DateFolder) -> list[Fault]:
    if folder.fault_list is None:
        return []
    where = folder.fault_list
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: cannot read the fault list: {exc}") from exc
    minutes = {f.minute for f in folder.minute_files}
    parsed = []
    for n, entry in enumerate(_label_entries(raw, where)):
        at = f"{where} fault #{n + 1}"
        if not isinstance(entry, dict):
            raise InputError(f"{at}: expected an object, got {type(entry).__name__}")
        missing = [k for k in ("inject_time", "inject_pod", "inject_type") if not entry.get(k)]
        if missing:
            raise InputError(f"{at}: missing {', '.join(missing)}")
        instant, notes = choose_instant(entry, minutes, at)
        parsed.append((instant, str(entry["inject_pod"]), str(entry["inject_type"]), entry, notes))
    parsed.sort(key=lambda p: p[0])
    return [Fault(date=folder.date, index=i, injected_at=instant, pod=pod, fault=kind, label=dict(entry),
                  notes=tuple(notes))
            for i, (instant, pod, kind, entry, notes) in enumerate(parsed)]
