"""The redaction corpus end to end: every planted secret put where production leaks it — log lines in the
store, a commit's subject, message and diff, the incident's title and symptoms, change descriptions — and
none of them in any report format or ticket body an investigation produces."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from secret_corpus import CORPUS

from inquest.core import Report

PLANTED_CHANGE = "dep-notifications-1.9.0"


@dataclass(frozen=True)
class PlantedWorld:
    store_path: Path
    repo_path: Path
    incident_id: str
    commit: str


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@acme.io",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


def _plant_commit(repo: Path) -> str:
    """A commit that adds a settings file holding every secret, with the first in its subject."""
    settings = repo / "services" / "notifications" / "leaked_settings.txt"
    settings.write_text("\n".join(p.line for p in CORPUS) + "\n")
    message = f"notifications: rotate {CORPUS[30].secret}\n\n" + "\n".join(p.line for p in CORPUS[:40])
    _git(repo, "add", str(settings))
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def planted_world(demo_world, tmp_path_factory) -> PlantedWorld:
    home = tmp_path_factory.mktemp("planted")
    store, repo = home / "store.duckdb", home / "repo"
    shutil.copyfile(demo_world.store_path, store)
    shutil.copytree(demo_world.repo_path, repo)
    commit = _plant_commit(repo)
    con = duckdb.connect(str(store))
    try:
        start, title = con.execute("SELECT window_start, title FROM incidents WHERE id = ?",
                                   [demo_world.incident_id]).fetchone()
        for n, planted in enumerate(CORPUS):  # three times each, so a line is a template worth showing
            for k in range(3):
                con.execute("INSERT INTO logs VALUES (? + INTERVAL (?) SECOND, NULL, NULL, 'ERROR', 17, ?, ?, ?, NULL)",
                            [start, 120 + n * 7 + k, ("orders", "checkout", "payments")[n % 3], "orders-pod-1",
                             planted.line])
        con.execute("UPDATE incidents SET title = ?, symptoms = ? WHERE id = ?",
                    [f"{title} ({CORPUS[0].line} {CORPUS[20].line})",
                     json.dumps([p.line for p in CORPUS]), demo_world.incident_id])
        con.execute("UPDATE changes SET commit = ?, description = description || ' ' || ? WHERE id = ?",
                    [commit, " ".join(p.line for p in CORPUS), PLANTED_CHANGE])
    finally:
        con.close()
    return PlantedWorld(store, repo, demo_world.incident_id, commit)


def _leaks(text: str) -> list[str]:
    """The planted secrets found in `text`, as written or as a JSON string would escape them."""
    return [p.shape for p in CORPUS if p.secret in text or json.dumps(p.secret)[1:-1] in text]


@pytest.fixture(scope="module")
def report(planted_world) -> Report:
    from conftest import deps_for

    from inquest.coordinator.investigation import investigate

    deps = deps_for(planted_world)
    incident = next(i for i in deps.backend.incidents() if i.id == planted_world.incident_id)
    assert _leaks(incident.title + " ".join(incident.symptoms))  # the secrets are there to be found
    return investigate(incident, deps)


def test_no_planted_secret_is_in_any_report_format(report):
    from inquest.render import render

    for name in ("json", "html", "markdown", "text"):
        text = render(report, name)
        assert _leaks(text) == [], name
    assert "[REDACTED:" in report.incident.title and any("[REDACTED:" in s for s in report.incident.symptoms)
    assert any(n.startswith("redacted ") for n in report.notes)


def test_no_planted_secret_is_in_any_ticket_body(report):
    from inquest.attach import github, slack, ticket_doc
    from inquest.render.json_report import render_json

    bodies = {"github": github.comment_body(report),
              "jira cloud": json.dumps(ticket_doc.comment_body(report, "cloud", "report.json")),
              "jira server": str(ticket_doc.comment_body(report, "server", "report.json")),
              "slack": json.dumps(slack.message(report, "https://reports.example/INC-1042.html")),
              "webhook": render_json(report)}
    assert {name: _leaks(body) for name, body in bodies.items()} == dict.fromkeys(bodies, [])


def test_the_planted_log_lines_reach_the_report_redacted_not_dropped(report):
    """The leaky lines are evidence too: the logs agent's templates show them, with the secret masked."""
    from inquest.render.json_report import render_json

    text = render_json(report)
    assert "[REDACTED:webhook_url]" in text or "[REDACTED:card_number]" in text


def test_a_commit_diff_holds_no_secret_in_any_hunk_or_its_message(planted_world):
    from inquest.tools.code_history import CodeHistory

    diff = CodeHistory(lambda _service: planted_world.repo_path).commit_diff("notifications", planted_world.commit)
    lines = [line for h in diff.hunks for line in (*h.added, *h.removed, *h.new_lines)]
    assert _leaks("\n".join(lines)) == [] and _leaks(diff.message) == []
    # A key spread over lines is one redaction that keeps the lines around it where they were.
    assert len(lines) >= len(CORPUS) and any("[REDACTED:private_key]" in line for line in lines)


def test_the_evidence_queries_run_in_a_plain_duckdb(report, planted_world):
    """The store redacts through a function only Inquest registers; the evidence keeps a statement the
    duckdb CLI can run on its own."""
    logs = [e for e in report.evidence if e.source.startswith("telemetry") and "FROM logs" in e.query]
    assert logs and all("inquest_redact" not in e.query for e in report.evidence)
    con = duckdb.connect(str(planted_world.store_path), read_only=True)
    try:
        assert con.execute(logs[0].query).fetchall()
    finally:
        con.close()


def test_the_incident_list_shows_titles_and_symptoms_redacted(planted_world, capsys):
    from inquest.commands.incidents import main

    assert main(["--store", str(planted_world.store_path), "--format", "json"]) == 0
    listed = capsys.readouterr().out
    assert planted_world.incident_id in listed and _leaks(listed) == []
