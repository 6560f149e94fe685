"""`investigate INC-1042 --attach ...` as a user runs it: the report is on disk whatever happens to the
attachments, the exit code says when one failed, and chat links to the ticket comment just written."""

from __future__ import annotations

import json

from conftest import write_config

from inquest.cli import EXIT_ATTACH_FAILED, main

from .stand_in import Reply, StandIn
from .test_attach_github import TOKEN, GitHubIssue
from .test_attach_slack import BOT_TOKEN, SlackWorkspace


def _config(world, tmp_path, attach: str) -> str:
    path = write_config(world, tmp_path)
    with open(path, "a", encoding="utf-8") as config:
        config.write(attach)
    return path


def test_a_failed_attachment_exits_3_and_the_report_is_still_written(demo_world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    issue = GitHubIssue()
    with StandIn(issue) as server:
        server.script(Reply(401, {"message": "Bad credentials"}))
        config = _config(demo_world, tmp_path, f"attach:\n  github:\n    api_url: {server.url}\n")
        code = main(["INC-1042", "--format", "markdown", "--attach", "github", "--config", config])
    captured = capsys.readouterr()
    assert code == EXIT_ATTACH_FAILED == 3
    saved = tmp_path / ".inquest/reports/inquest-INC-1042.md"
    assert "dep-orders-2.14.0" in saved.read_text() and "dep-orders-2.14.0" in captured.out
    assert f"report saved to {saved}" in captured.err
    assert "attaching failed: github: 401 Unauthorized" in captured.err and "acme/shop#812" in captured.err


def test_one_failing_target_does_not_stop_the_others(demo_world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("INQUEST_WEBHOOK_SECRET", "s3cret")
    issue = GitHubIssue()
    with StandIn(issue) as server:
        # The webhook's receiver is down (nothing listens on the discard port): it fails when posting.
        config = _config(demo_world, tmp_path, f"attach:\n  retries: 0\n  github:\n    api_url: {server.url}\n"
                                               "  webhook:\n    url: http://127.0.0.1:9/hooks\n")
        out = tmp_path / "report.json"
        code = main(["INC-1042", "--format", "json", "--output", str(out), "--attach", "webhook", "--attach", "github",
                     "--config", config])
    err = capsys.readouterr().err
    assert code == 3 and json.loads(out.read_text())["root_cause_found"]
    assert not (tmp_path / ".inquest/reports").exists()  # --output is the local copy
    assert "attached to github: created comment" in err and "attaching failed: webhook" in err
    assert len(issue.comments) == 1 and server.problems == []


def test_a_missing_token_is_a_usage_error_before_the_investigation(demo_world, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    out = tmp_path / "report.json"
    code = main(["INC-1042", "--format", "json", "--output", str(out), "--attach", "github",
                 "--config", write_config(demo_world, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--attach github: $GITHUB_TOKEN is not set" in err and not out.exists()


def test_slack_links_to_the_github_comment_written_in_the_same_run(demo_world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    issue, workspace = GitHubIssue(), SlackWorkspace()

    def api(request):
        return workspace(request) if request.path.startswith(("/api/", "/services/")) else issue(request)

    with StandIn(api) as server:
        config = _config(demo_world, tmp_path, f"attach:\n  github:\n    api_url: {server.url}\n"
                                               f"  slack:\n    mode: bot\n    channel: '#incidents'\n"
                                               f"    api_url: {server.url}/api\n")
        code = main(["INC-1042", "--format", "json", "--attach", "slack", "--attach", "github", "--config", config])
    assert code == 0, capsys.readouterr().err
    [message] = workspace.channel.values()
    [button] = [b for b in message["blocks"] if b["type"] == "actions"][0]["elements"]
    [comment] = issue.comments
    assert button["url"] == f"https://github.com/acme/shop/issues/812#issuecomment-{comment['id']}"
    assert server.problems == []


def test_an_unknown_target_is_a_usage_error_listing_the_known_ones(tmp_path, capsys):
    assert main(["INC-1042", "--attach", "pagerduty", "--config", str(tmp_path / "absent.yaml")]) == 2
    err = capsys.readouterr().err
    assert "pagerduty" in err and "github, jira, slack, webhook" in err
