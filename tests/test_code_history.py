"""What a commit changed, read through gitpython: every file named once (moved, deleted, binary), hunks with
their lines, and a clear error for what is not there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inquest.errors import CodeHistoryError, NoRepositoryError
from inquest.tools.code_history import CodeHistory


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
                               "GIT_COMMITTER_NAME": "Ada Lovelace", "GIT_COMMITTER_EMAIL": "ada@example.com",
                               "GIT_AUTHOR_DATE": "2026-03-12T13:58:00+01:00", "PATH": "/usr/bin:/bin"}).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    git(root, "init", "-q")
    (root / "orders.py").write_text("def total(order):\n    return sum(order)\n")
    (root / "old name.py").write_text("".join(f"line {i}\n" for i in range(20)))
    (root / "gone.txt").write_text("bye\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    (root / "orders.py").write_text("def total(order):\n    return sum(price(line) for line in order)\n")
    git(root, "mv", "old name.py", "new name.py")
    git(root, "rm", "-q", "gone.txt")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "orders: price each line\n\nSee the N+1.")
    return root


def test_a_commit_names_each_file_once_with_its_hunks(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    diff = CodeHistory(lambda service: repo).commit_diff("orders", sha[:10])
    assert diff.sha == sha and diff.author == "Ada Lovelace" and diff.message == "orders: price each line\n\nSee the N+1."
    assert diff.authored_at.isoformat() == "2026-03-12T13:58:00+01:00"
    assert sorted(diff.files) == ["gone.txt", "logo.png", "new name.py", "orders.py"]
    (hunk,) = [h for h in diff.hunks if h.path == "orders.py"]
    assert hunk.added == ("    return sum(price(line) for line in order)",) and hunk.removed == ("    return sum(order)",)
    assert diff.command == f"git -C {repo} show {sha}"


def test_the_first_commit_is_read_against_nothing(repo: Path) -> None:
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    diff = CodeHistory(lambda service: repo).commit_diff("orders", first)
    assert sorted(diff.files) == ["gone.txt", "old name.py", "orders.py"]


def test_an_unknown_commit_or_repository_is_one_clear_error(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(CodeHistoryError, match="commit deadbeef not found in"):
        CodeHistory(lambda service: repo).commit_diff("orders", "deadbeef")
    with pytest.raises(CodeHistoryError, match="commit --output=x not found"):  # never passed to git as an option
        CodeHistory(lambda service: repo).commit_diff("orders", "--output=x")
    with pytest.raises(NoRepositoryError, match="no git repository for service 'orders' at"):
        CodeHistory(lambda service: tmp_path).commit_diff("orders", "deadbeef")
