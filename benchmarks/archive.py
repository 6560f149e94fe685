"""A dataset archive or folder → an unpacked folder in the work folder, once; and a fingerprint of its files
so a converted store is rebuilt exactly when the files (or the conversion) changed. Shared by every
benchmark adapter."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
from pathlib import Path

from inquest.errors import InputError

ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


def is_archive(path: Path) -> bool:
    return path.is_file() and any(path.name.endswith(s) for s in ARCHIVE_SUFFIXES)


def _archive_stem(path: Path) -> str:
    return next(path.name[: -len(s)] for s in ARCHIVE_SUFFIXES if path.name.endswith(s))


def unpack(archive: Path, work_dir: Path) -> tuple[Path, bool]:
    """Unpacks into work_dir/data/<archive name> once; later calls with the same archive reuse it."""
    target = work_dir / "data" / _archive_stem(archive)
    stat = archive.stat()
    stamp = {"archive": str(archive.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = target / ".unpacked.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return target, True
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(partial, filter="data")  # no absolute paths, links out or devices from an archive
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise InputError(f"{archive}: cannot unpack: {exc}") from exc
    partial.rename(target)
    marker.write_text(json.dumps(stamp))
    return target, False


def open_dataset(path: Path, work_dir: Path) -> tuple[Path, dict[str, float], dict[str, bool]]:
    """The folder to read (unpacked into work_dir when `path` is an archive), the seconds that took and
    whether the unpacked copy was reused."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    clock = time.perf_counter()
    reused: dict[str, bool] = {}
    if is_archive(path):
        path, reused["unpack"] = unpack(path, Path(work_dir))
    return path, {"unpack_s": round(time.perf_counter() - clock, 2)}, reused


def files_fingerprint(root: Path, conversion_version: int) -> str:
    """Every file's path, size and modification time under `root`, and the conversion's version."""
    digest = hashlib.sha256(str(conversion_version).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
