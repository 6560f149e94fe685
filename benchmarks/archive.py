"""A dataset archive or folder → an unpacked folder in the work folder, once; and a fingerprint of its files
so a converted store is rebuilt exactly when the files (or the conversion) changed. Shared by every
benchmark adapter."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from inquest.benchmarks.nezha import _is_archive, unpack
from inquest.errors import InputError


def open_dataset(path: Path, work_dir: Path) -> tuple[Path, dict[str, float], dict[str, bool]]:
    """The folder to read (unpacked into work_dir when `path` is an archive), the seconds that took and
    whether the unpacked copy was reused."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    clock = time.perf_counter()
    reused: dict[str, bool] = {}
    if _is_archive(path):
        path, reused["unpack"] = unpack(path, Path(work_dir))
    return path, {"unpack_s": round(time.perf_counter() - clock, 2)}, reused


def files_fingerprint(root: Path, conversion_version: int) -> str:
    """Every file's path, size and modification time under `root`, and the conversion's version."""
    digest = hashlib.sha256(str(conversion_version).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
