"""The CLI as a user meets it: the JSON report of the demo incident, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import write_config

from inquest.cli import main


def test_demo_report_ranks_the_planted_commit_first_with_evidence_from_three_agents(demo_world, tmp_path, capsys):
    code = main(["INC-1042", "--format", "json", "--config", write_config(demo_world, tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["root_cause_found"]
    top = report["hypotheses"][0]
    assert top["change"]["commit"] == demo_world.guilty_commit and top["service"] == "orders"
    cited = {e["id"]: e for e in report["evidence"]}
    assert all(eid in cited for h in report["hypotheses"] for eid in h["evidence"] + h["contradicting"])
    assert len({cited[e]["agent"] for e in top["evidence"]}) >= 3
    assert all(cited[e]["query"] for e in top["evidence"])
    assert "roll back orders to 2.13.2" in top["mitigation"]
    herrings = {h["change"]["id"]: h for h in report["hypotheses"][1:] if h["change"]}
    for change_id in ("dep-frontend-5.2.0", "dep-notifications-1.9.0"):
        assert herrings[change_id]["confidence"] < top["confidence"] / 2
        assert herrings[change_id]["reasons"][0].startswith("ranks below #1")
    assert report["impact"]["users"] >= 1000
    assert {a: v["status"] for a, v in report["agents"].items()} == dict.fromkeys(
        ("trace", "db", "metrics", "logs", "deployment", "code_diff", "impact"), "ok")


def test_false_alarm_finds_no_root_cause_and_exits_1(demo_world, tmp_path, capsys):
    code = main(["INC-1039", "--format", "json", "--config", write_config(demo_world, tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["root_cause_found"]


def test_unknown_incident_exits_2_and_lists_the_known_ids(demo_world, tmp_path, capsys):
    code = main(["INC-9999", "--config", write_config(demo_world, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "INC-9999" in err and "INC-1042" in err and "INC-1039" in err


def test_incidents_lists_the_demo_incident_first(demo_world, tmp_path, capsys):
    assert main(["incidents", "--format", "json", "--config", write_config(demo_world, tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["id"] == "INC-1042"
    assert {"id", "title", "service", "started_at"} <= set(listed[0])


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("investigation: {agent_timeout_s: soon}\n")
    assert main(["INC-1042", "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "investigation.agent_timeout_s" in capsys.readouterr().err


def test_markdown_report_to_a_file(demo_world, tmp_path):
    out = tmp_path / "report.md"
    code = main(["INC-1042", "--format", "markdown", "--output", str(out), "--config", write_config(demo_world, tmp_path)])
    assert code == 0 and "dep-orders-2.14.0" in out.read_text()


def test_the_installed_command_runs_as_a_process(demo_world, tmp_path):
    """Through the console script, as `make demo` runs it: stdout is the report, the exit code the verdict."""
    investigate = f"{sys.prefix}/bin/investigate"
    done = subprocess.run([investigate, "INC-1042", "--format", "json", "--config", write_config(demo_world, tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hypotheses"][0]["change"]["id"] == "dep-orders-2.14.0"
    assert "crewai" not in done.stderr
