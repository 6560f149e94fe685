"""A scenario's shop monorepo ("acme/shop") as a real git repository: one commit per change that has one.

The demo world's repository is built here too (build_history, from demo_repo.py). Every commit has a
fixed author, committer and date and no global git configuration is read, so the SHAs are the same on
every machine and every run. A deploy's commit bumps its service's version; config, flag and migration
commits touch deploy/ or migrations/ only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import git
from gitdb.db.loose import LooseObjectDB

from inquest.evals.sim import shop_code as src
from inquest.evals.sim.model import MINUTE, ChangeSpec, Scenario, ScenarioError, at_time
from inquest.evals.sim.people import DANA, MERGER
from inquest.evals.sim.sources import initial_tree

REPOSITORY = "acme/shop"
IMPORTED = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


class _InProcessWrites(git.GitCmdObjectDB):
    """Writes new objects as loose objects from Python (what git itself would write) instead of
    running one `git hash-object` per blob and tree; reads still go through git."""

    def store(self, istream):
        return LooseObjectDB.store(self, istream)


def _environment(home: Path) -> dict[str, str]:
    """No global or system git configuration may leak into the repository or its commits."""
    return {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def init_repo(path: Path) -> git.Repo:
    """An empty repository at `path` (replacing anything there), isolated from the machine's git config
    and writing objects in-process; the demo world and the scenario simulator both build on it."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    env = _environment(path)
    git.Git(str(path)).execute(["git", "init", "--quiet", "--initial-branch=main", str(path)], env=env)
    repo = git.Repo(str(path), odbt=_InProcessWrites)
    repo.git.update_environment(**env)
    with repo.config_writer("repository") as cfg:
        cfg.set_value("i18n", "commitEncoding", "UTF-8")
        cfg.set_value("core", "autocrlf", "false")
        cfg.set_value("core", "fileMode", "false")
    return repo


def initial_versions() -> dict[str, str]:
    return dict(src.INITIAL_VERSIONS)


def subject(change: ChangeSpec) -> str:
    return change.message.splitlines()[0] if change.message else change.description


def deploy_description(change: ChangeSpec) -> str:
    return f"deploy {change.service} v{change.version}: {subject(change)}"


def change_rows(changes: Sequence[ChangeSpec], day: date, shas: dict[str, str]) -> list[tuple[Any, ...]]:
    """Rows for the store's changes table: a deploy describes its commit; the rest say what was changed."""
    rows = []
    for change in changes:
        sha = shas.get(change.id)
        description = deploy_description(change) if change.kind == "deploy" else change.description
        rows.append((change.id, at_time(day, change.at), change.service, change.kind, change.version, sha,
                     REPOSITORY if sha else None, change.author.name, description))
    return rows


def _apply(tree: dict[str, str], change: ChangeSpec) -> list[str]:
    changed = []
    for path, old, new in change.edits:
        if not old:
            tree[path] = tree.get(path, "") + new
        elif old not in tree.get(path, ""):
            raise ScenarioError(f"{change.id}: {path} does not contain {old[:60]!r}")
        else:
            tree[path] = tree[path].replace(old, new, 1)
        changed.append(path)
    if change.kind == "deploy":
        if not change.version:
            raise ScenarioError(f"{change.id}: a deploy needs a version")
        init = f"services/{change.service}/{change.service}/__init__.py"
        tree[init] = f'__version__ = "{change.version}"\n'
        changed.append(init)
    return list(dict.fromkeys(changed))


def build_repo(scenario: Scenario, path: Path) -> dict[str, str]:
    """Creates the scenario's repository at `path` (replacing anything there) and returns {change id: SHA}."""
    return build_history(scenario.changes, scenario.day, path, initial_tree())


def build_history(changes: Sequence[ChangeSpec], day: date, path: Path, tree: dict[str, str]) -> dict[str, str]:
    """A repository at `path` whose first commit holds `tree` and whose later commits are the changes that
    have one, in the order they were merged; returns {change id: SHA}. The demo world's history is built
    here too (demo_repo.py), on the shop's first commit alone."""
    path = Path(path)
    repo = init_repo(path)
    tree = dict(tree)
    _write(path, tree, tree)
    repo.index.add(sorted(tree))
    # Commits are chained by hand and the branch is set once at the end: moving HEAD on every commit
    # costs gitpython an object lookup through `git cat-file` each time.
    last = repo.index.commit("Import the shop monorepo\n", author=DANA.actor, committer=MERGER.actor,
                             author_date=IMPORTED, commit_date=IMPORTED, skip_hooks=True, head=False,
                             parent_commits=[])
    shas: dict[str, str] = {}
    tags: list[tuple[str, git.Commit]] = []
    committed = [c for c in changes if c.message or c.edits or c.kind == "deploy"]
    for change in sorted(committed, key=lambda c: (c.at - c.merged_min * MINUTE, c.at, c.id)):
        if not change.message:
            raise ScenarioError(f"{change.id}: a change with a commit needs a commit message")
        changed = _apply(tree, change)
        _write(path, tree, changed)
        repo.index.add(changed)
        when = at_time(day, change.at - change.merged_min * MINUTE).replace(tzinfo=UTC)
        last = repo.index.commit(change.message, author=change.author.actor, committer=MERGER.actor,
                                 author_date=when, commit_date=when, skip_hooks=True, head=False,
                                 parent_commits=[last])
        shas[change.id] = last.hexsha
        if change.kind == "deploy":
            tags.append((f"refs/tags/{change.service}/v{change.version}", last))
    for ref, commit in [("refs/heads/main", last), *tags]:  # lightweight tags, as a release pipeline makes
        target = path / ".git" / ref
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(commit.hexsha + "\n", encoding="ascii")
    repo.close()
    return shas


def _write(root: Path, tree: dict[str, str], files) -> None:
    for file in files:
        target = root / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(tree[file], encoding="utf-8", newline="\n")
