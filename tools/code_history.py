"""Code and change history through gitpython: what a commit changed, as hunks an analysis can read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inquest.errors import CodeHistoryError, NoRepositoryError
from inquest.redact import redact

if TYPE_CHECKING:
    import git

# gitpython is imported on first use, inside the code-diff agent's thread: it costs ~170 ms, which
# would otherwise sit on every command's start-up path.

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


@dataclass
class _OpenHunk:
    """A hunk while its lines are read: where it starts, and its added, removed and resulting lines."""

    old_start: int
    new_start: int
    context: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    def freeze(self, path: str) -> Hunk:
        return Hunk(path=path, old_start=self.old_start, new_start=self.new_start, context=self.context,
                    added=tuple(self.added), removed=tuple(self.removed), new_lines=tuple(self.after))


def parse_patch(path: str, patch: str) -> list[Hunk]:
    """Splits one file's unified diff into hunks."""
    hunks: list[Hunk] = []
    current: _OpenHunk | None = None
    for line in patch.splitlines():
        header = _HUNK_HEADER.match(line)
        if header:
            if current:
                hunks.append(current.freeze(path))
            current = _OpenHunk(int(header.group(1)), int(header.group(2)), header.group(3))
        elif current is None or line.startswith(("---", "+++")):
            continue
        elif line.startswith("+"):
            current.added.append(line[1:])
            current.after.append(line[1:])
        elif line.startswith("-"):
            current.removed.append(line[1:])
        elif not line.startswith("\\"):  # "\ No newline at end of file"
            current.after.append(line[1:] if line.startswith(" ") else line)
    if current:
        hunks.append(current.freeze(path))
    return hunks


class CodeHistory:
    """Reads commits from the repositories that hold each service's source. Read-only."""

    def __init__(self, repository_for: Callable[[str], Path]) -> None:
        self._repository_for = repository_for
        self._repos: dict[Path, git.Repo] = {}

    def _repo(self, service: str) -> git.Repo:
        import git

        path = self._repository_for(service)
        if path not in self._repos:
            try:
                self._repos[path] = git.Repo(path)
            except (git.NoSuchPathError, git.InvalidGitRepositoryError) as exc:
                raise NoRepositoryError(f"no git repository for service {service!r} at {path}") from exc
        return self._repos[path]

    def commit_diff(self, service: str, sha: str) -> CommitDiff:
        import git

        repo = self._repo(service)
        try:
            commit = repo.commit(sha)
        except (git.BadName, ValueError) as exc:
            raise CodeHistoryError(f"commit {sha} not found in {repo.working_dir}") from exc
        parent = commit.parents[0] if commit.parents else git.NULL_TREE
        diffs = commit.diff(parent, create_patch=True, R=True)
        hunks: list[Hunk] = []
        files: list[str] = []
        for diff in diffs:
            path = diff.b_path or diff.a_path or "?"
            files.append(path)
            patch = diff.diff.decode("utf-8", "replace") if isinstance(diff.diff, bytes) else str(diff.diff)
            # The whole patch, before it is split into lines: a key committed by mistake spans many.
            hunks.extend(parse_patch(path, redact(patch)[0]))
        return CommitDiff(
            sha=commit.hexsha, message=redact(str(commit.message).strip())[0], author=str(commit.author),
            authored_at=commit.authored_datetime, files=tuple(files), hunks=tuple(hunks),
            command=f"git -C {repo.working_dir} show {commit.hexsha}",
        )

    def close(self) -> None:
        for repo in self._repos.values():
            repo.close()
        self._repos.clear()
