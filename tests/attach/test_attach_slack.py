"""--attach slack against a stand-in of Slack: an incoming webhook, and the Web API's chat.postMessage and
chat.update for a bot token. Every message is checked against Block Kit's rules."""

from __future__ import annotations

import json

import pytest

from inquest.attach import attach_report

from .stand_in import Reply, Request, Sleeps, StandIn, config_with, expect

BOT_TOKEN = "xoxb-test-bot-token"
HOOK_PATH = "/services/T000/B000/secretsecret"

# https://api.slack.com/reference/block-kit/blocks
BLOCK_TYPES = {"header", "section", "divider", "actions", "context", "image", "rich_text"}


def check_blocks(message: dict) -> None:
    expect(isinstance(message.get("text"), str) and message["text"], "a message needs a top-level text fallback")
    blocks = message.get("blocks")
    expect(isinstance(blocks, list) and 0 < len(blocks) <= 50, "blocks must be a list of 1..50 blocks")
    for block in blocks:
        kind = block.get("type")
        expect(kind in BLOCK_TYPES, f"unknown block type {kind!r}")
        if kind == "header":
            text = block.get("text", {})
            expect(text.get("type") == "plain_text" and 0 < len(text.get("text", "")) <= 150,
                   "a header's text is plain_text of at most 150 characters")
        if kind == "section":
            expect("text" in block or "fields" in block, "a section needs text or fields")
            if "text" in block:
                expect(block["text"].get("type") in ("mrkdwn", "plain_text"), "section text type")
                expect(0 < len(block["text"].get("text", "")) <= 3000, "section text is 1..3000 characters")
            for item in block.get("fields", []):
                expect(item.get("type") in ("mrkdwn", "plain_text") and len(item.get("text", "")) <= 2000, "bad field")
            expect(len(block.get("fields", [])) <= 10, "at most 10 fields")
        if kind == "actions":
            for element in block.get("elements", []):
                expect(element.get("type") == "button" and element.get("text", {}).get("type") == "plain_text",
                       "action elements here are buttons with plain_text")
                expect(str(element.get("url", "")).startswith(("http://", "https://")), "a link button needs a URL")
        if kind == "context":
            expect(0 < len(block.get("elements", [])) <= 10, "context holds 1..10 elements")


class SlackWorkspace:
    """An incoming webhook and the two Web API methods, answering as Slack does (errors as ok: false)."""

    def __init__(self) -> None:
        self.channel = {}  # ts -> message
        self.hook_messages = []
        self.clock = 1700000000

    def __call__(self, request: Request) -> Reply:
        if request.path == HOOK_PATH:
            expect(request.method == "POST", "webhooks take POST")
            message = request.json()
            check_blocks(message)
            self.hook_messages.append(message)
            return Reply(200, "ok")
        if request.path not in ("/api/chat.postMessage", "/api/chat.update"):
            return Reply(404, "no_service")
        expect(request.method == "POST", "Web API methods are POSTed")
        expect(request.headers.get("Content-Type") == "application/json; charset=utf-8",
               "JSON to the Web API is sent as application/json; charset=utf-8")
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        message = request.json()
        check_blocks(message)
        if request.path == "/api/chat.postMessage":
            expect(message.get("channel") == "#incidents", "postMessage goes to the configured channel")
            self.clock += 1
            ts = f"{self.clock}.000100"
            self.channel[ts] = message
            return Reply(200, {"ok": True, "channel": "C0INCIDENT", "ts": ts, "message": {"text": message["text"]}})
        expect(message.get("channel") == "C0INCIDENT", "chat.update needs the channel id postMessage returned")
        if message.get("ts") not in self.channel:
            return Reply(200, {"ok": False, "error": "message_not_found"})
        self.channel[message["ts"]] = message
        return Reply(200, {"ok": True, "channel": "C0INCIDENT", "ts": message["ts"], "text": message["text"]})


@pytest.fixture
def slack():
    workspace = SlackWorkspace()
    with StandIn(workspace) as server:
        yield server, workspace


def _bot(report, server, tmp_path, sleeps=None, token=BOT_TOKEN):
    config = config_with(tmp_path, slack={"mode": "bot", "channel": "#incidents", "api_url": f"{server.url}/api"},
                         report_url="https://reports.acme.example/{incident}.html")
    return attach_report(report, ["slack"], config, environ={"SLACK_BOT_TOKEN": token},
                         sleep=sleeps if sleeps is not None else Sleeps())[0]


def _hook(report, server, tmp_path, sleeps=None):
    return attach_report(report, ["slack"], config_with(tmp_path), environ={"SLACK_WEBHOOK_URL": server.url + HOOK_PATH},
                         sleep=sleeps if sleeps is not None else Sleeps())[0]


def test_bot_posts_top_hypotheses_impact_and_a_link_to_the_full_report(demo_report, slack, tmp_path):
    server, workspace = slack
    outcome = _bot(demo_report, server, tmp_path)
    assert outcome.ok, outcome.error
    [message] = workspace.channel.values()
    text = json.dumps(message["blocks"])
    assert "INC-1042" in message["blocks"][0]["text"]["text"]
    # The confidence is the calibrated probability (it moves when the calibration is refitted); what must hold is
    # that the message carries the report's own figure for the orders deploy, and that it is a verdict (>= 50%).
    top = demo_report.hypotheses[0]
    assert top.service == "orders" and top.confidence >= 0.5
    shown = f"{top.confidence * 100:.0f}%"
    assert f"*Root cause* ({shown} confidence)" in text and "roll back orders to 2.13.2" in text
    assert "*Users affected*" in text and f"1. *{shown}* `orders`" in text
    [button] = [b for b in message["blocks"] if b["type"] == "actions"][0]["elements"]
    assert button["url"] == "https://reports.acme.example/INC-1042.html"
    assert server.problems == []


def test_bot_rerun_updates_its_message_using_the_stored_ts(demo_report, slack, tmp_path):
    server, workspace = slack
    first = _bot(demo_report, server, tmp_path)
    second = _bot(demo_report, server, tmp_path)
    assert (first.posted.action, second.posted.action) == ("created", "updated")
    assert len(workspace.channel) == 1
    assert [r.path for r in server.requests] == ["/api/chat.postMessage", "/api/chat.update"]
    state = json.loads((tmp_path / ".inquest/attach-state.json").read_text())
    assert state["INC-1042"]["slack"] == {"channel": "C0INCIDENT", "ts": next(iter(workspace.channel))}
    assert server.problems == []


def test_bot_posts_anew_when_the_stored_message_was_deleted(demo_report, slack, tmp_path):
    server, workspace = slack
    _bot(demo_report, server, tmp_path)
    workspace.channel.clear()
    outcome = _bot(demo_report, server, tmp_path)
    assert outcome.posted.action == "created" and len(workspace.channel) == 1


def test_rate_limited_calls_are_retried_after_the_time_slack_asks_for(demo_report, slack, tmp_path):
    server, workspace = slack
    server.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "4"}))
    sleeps = Sleeps()
    outcome = _bot(demo_report, server, tmp_path, sleeps)
    assert outcome.ok and sleeps == [4.0] and len(workspace.channel) == 1


def test_a_rejected_bot_token_is_one_clear_error(demo_report, slack, tmp_path):
    server, workspace = slack
    outcome = _bot(demo_report, server, tmp_path, token="xoxb-revoked")
    message = str(outcome.error)
    assert outcome.error.status == 401 and message.startswith("slack: chat.postMessage refused (invalid_auth)")
    assert "$SLACK_BOT_TOKEN" in message and "xoxb-revoked" not in message
    assert workspace.channel == {} and len(server.requests) == 1


def test_webhook_posts_a_new_message_each_run(demo_report, slack, tmp_path):
    server, workspace = slack
    assert _hook(demo_report, server, tmp_path).posted.action == "sent"
    assert _hook(demo_report, server, tmp_path).posted.action == "sent"
    assert len(workspace.hook_messages) == 2 and server.problems == []
    assert not [b for b in workspace.hook_messages[0]["blocks"] if b["type"] == "actions"]  # no link configured


def test_webhook_retry_and_a_rejected_webhook_never_show_the_secret_url(demo_report, slack, tmp_path):
    server, workspace = slack
    server.script(Reply(429, "rate_limited", {"Retry-After": "2"}))
    sleeps = Sleeps()
    assert _hook(demo_report, server, tmp_path, sleeps).ok and sleeps == [2.0]
    server.script(Reply(401, "invalid_token"))
    outcome = _hook(demo_report, server, tmp_path)
    message = str(outcome.error)
    assert outcome.error.status == 401 and message.startswith("slack: 401") and "$SLACK_WEBHOOK_URL" in message
    assert "secretsecret" not in message
