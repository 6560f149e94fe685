"""Code and change history through the git command: what a commit changed, as hunks an analysis can read."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from inquest.errors import CodeHistoryError, NoRepositoryError
from inquest.redact import redact

# The git command itself, not gitpython: gitpython runs the same command underneath, and importing it
# cost ~0.15-0.2 s CPU of every investigation (gitdb, smmap, its object model) for two `git show` calls.

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@ ?(.*)$")


@dataclass(frozen=True)
class Hunk:
    path: str
    old_start: int
    new_start: int
    context: str  # the function or class git names in the hunk header
    added: tuple[str, ...]
    removed: tuple[str, ...]
    new_lines: tuple[str, ...]  # the hunk as it reads after the change (context and added lines)


@dataclass(frozen=True)
class CommitDiff:
    sha: str
    message: str
    author: str
    authored_at: datetime
    files: tuple[str, ...]
    hunks: tuple[Hunk, ...]
    command: str  # reproduces it: the git command a person would run


def parse_patch(path: str, patch: str) -> list[Hunk]:
    """Splits one file's unified diff into hunks."""
    hunks: list[Hunk] = []
    current: dict | None = None
    for line in patch.splitlines():
        header = _HUNK_HEADER.match(line)
        if header:
            if current:
                hunks.append(_freeze(path, current))
            current = {"old": int(header.group(1)), "new": int(header.group(2)), "context": header.group(3),
                       "added": [], "removed": [], "after": []}
        elif current is None or line.startswith(("---", "+++")):
            continue
        elif line.startswith("+"):
            current["added"].append(line[1:])
            current["after"].append(line[1:])
        elif line.startswith("-"):
            current["removed"].append(line[1:])
        elif not line.startswith("\\"):  # "\ No newline at end of file"
            current["after"].append(line[1:] if line.startswith(" ") else line)
    if current:
        hunks.append(_freeze(path, current))
    return hunks


def _freeze(path: str, h: dict) -> Hunk:
    return Hunk(path=path, old_start=h["old"], new_start=h["new"], context=h["context"],
                added=tuple(h["added"]), removed=tuple(h["removed"]), new_lines=tuple(h["after"]))


class CodeHistory:
    """Reads commits from the repositories that hold each service's source. Read-only: `git show` and
    `git rev-parse` only, run as the git a person would run (the evidence keeps that command)."""

    def __init__(self, repository_for: Callable[[str], Path]) -> None:
        self._repository_for = repository_for
        self._roots: dict[Path, Path] = {}

    def _root(self, service: str) -> Path:
        path = self._repository_for(service)
        if path not in self._roots:
            if not path.is_dir():
                raise NoRepositoryError(f"no git repository for service {service!r} at {path}")
            try:
                top = _git(path, "rev-parse", "--show-toplevel").strip()
            except CodeHistoryError as exc:
                raise NoRepositoryError(f"no git repository for service {service!r} at {path}") from exc
            self._roots[path] = Path(top)
        return self._roots[path]

    def commit_diff(self, service: str, sha: str) -> CommitDiff:
        root = self._root(service)
        if not sha or sha.startswith("-"):  # never an option to git
            raise CodeHistoryError(f"commit {sha} not found in {root}")
        try:
            head = _git(root, "show", "-s", f"--format={_FORMAT}", f"{sha}^{{commit}}", "--")
        except CodeHistoryError as exc:
            raise CodeHistoryError(f"commit {sha} not found in {root}") from exc
        hexsha, author, authored, message = head.split("\x00", 3)
        # The patch of the commit against its first parent (against nothing for a root commit), as
        # `git show` prints it: -M names a moved file once, by its new path.
        patch = _git(root, "show", "--format=", "--patch", "-M", "--first-parent", "--no-color", "--no-ext-diff",
                     "--full-index", hexsha, "--")
        files: list[str] = []
        hunks: list[Hunk] = []
        for path, text in _file_patches(patch):
            files.append(path)
            # The whole patch, before it is split into lines: a key committed by mistake spans many.
            hunks.extend(parse_patch(path, redact(text)[0]))
        return CommitDiff(
            sha=hexsha, message=redact(message.strip())[0], author=author,
            authored_at=datetime.fromisoformat(authored), files=tuple(files), hunks=tuple(hunks),
            command=f"git -C {root} show {hexsha}",
        )

    def close(self) -> None:
        self._roots.clear()


# hash, author name, author date (strict ISO 8601, with its offset), raw message: NUL-separated
_FORMAT = "%H%x00%an%x00%aI%x00%B"
_FILE_HEADER = re.compile(r"^diff --git ", re.MULTILINE)


def _git(repo: Path, *args: str) -> str:
    """One read-only git command's output; its failure as a CodeHistoryError naming the command."""
    command = ["git", "-C", str(repo), "-c", "core.quotePath=false", *args]
    try:
        done = subprocess.run(command, capture_output=True, timeout=60, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"})
    except FileNotFoundError as exc:
        raise CodeHistoryError("git is not installed (the code-diff agent runs `git show`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise CodeHistoryError(f"`git {' '.join(args[:2])}` did not finish within 60 s in {repo}") from exc
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CodeHistoryError(f"`git {' '.join(args[:2])}` failed in {repo}: {why[-1] if why else done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def _file_patches(patch: str) -> list[tuple[str, str]]:
    """`git show`'s patch split per file: (the file's path after the change, or before for a deletion; its part)."""
    parts = []
    for part in _FILE_HEADER.split(patch)[1:]:
        lines = part.split("\n", 8)
        new = next((line[6:] for line in lines if line.startswith("+++ b/")), None)
        old = next((line[6:] for line in lines if line.startswith("--- a/")), None)
        renamed = next((line[10:] for line in lines if line.startswith("rename to ")), None)
        path = new or renamed or old or _header_path(lines[0])
        # git ends a ---/+++ name holding a space with a tab, and quotes one with unusual characters
        parts.append((path.rstrip("\t").strip('"'), part))
    return parts


def _header_path(header: str) -> str:
    """The b/ path of `a/x b/x` (a binary or mode-only change has no ---/+++ lines)."""
    _, sep, path = header.rpartition(" b/")
    return path if sep else "?"
