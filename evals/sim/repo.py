"""A scenario's shop monorepo ("acme/shop") as a real git repository: one commit per change that has one.

As in the demo world's repository, every commit has a fixed author, committer and date and no global
git configuration is read, so the SHAs are the same on every machine and every run. A deploy's commit
bumps its service's version; config, flag and migration commits touch deploy/ or migrations/ only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import git

from inquest.evals import shop_sources as src
from inquest.evals.shop_repo import DANA, MERGER, init_repo
from inquest.evals.sim.model import MINUTE, ChangeSpec, Scenario, ScenarioError, at_time
from inquest.evals.sim.sources import initial_tree

REPOSITORY = "acme/shop"
IMPORTED = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


def initial_versions() -> dict[str, str]:
    return dict(src.INITIAL_VERSIONS)


def subject(change: ChangeSpec) -> str:
    return change.message.splitlines()[0] if change.message else change.description


def deploy_description(change: ChangeSpec) -> str:
    return f"deploy {change.service} v{change.version}: {subject(change)}"


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
    """Creates the repository at `path` (replacing anything there) and returns {change id: SHA}."""
    path = Path(path)
    repo = init_repo(path)

    tree = initial_tree()
    _write(path, tree, tree)
    repo.index.add(sorted(tree))
    # Commits are chained by hand and the branch is set once at the end: moving HEAD on every commit
    # costs gitpython an object lookup through `git cat-file` each time.
    last = repo.index.commit("Import the shop monorepo\n", author=DANA.actor, committer=MERGER.actor,
                             author_date=IMPORTED, commit_date=IMPORTED, skip_hooks=True, head=False,
                             parent_commits=[])
    shas: dict[str, str] = {}
    tags: list[tuple[str, git.Commit]] = []
    committed = [c for c in scenario.changes if c.message or c.edits or c.kind == "deploy"]
    for change in sorted(committed, key=lambda c: (c.at - c.merged_min * MINUTE, c.at, c.id)):
        if not change.message:
            raise ScenarioError(f"{change.id}: a change with a commit needs a commit message")
        changed = _apply(tree, change)
        _write(path, tree, changed)
        repo.index.add(changed)
        when = at_time(scenario.day, change.at - change.merged_min * MINUTE).replace(tzinfo=UTC)
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
