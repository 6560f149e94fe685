"""--attach jira against a stand-in of Jira's REST API: Cloud (v3, ADF, basic auth) and Server/Data Center
(v2, wiki markup, bearer personal access token), comments and attachments, checked request by request."""

from __future__ import annotations

import base64
import json
import re

import pytest

from inquest.attach import attach_report
from inquest.attach.ticket_doc import JIRA_MAX_BODY

from .stand_in import Reply, Request, Sleeps, StandIn, Violation, config_with, expect

USER, TOKEN = "oncall@acme.example", "jira-api-token-xyz"
ENV = {"JIRA_USER": USER, "JIRA_API_TOKEN": TOKEN}
FILENAME = "inquest-INC-1042.json"

# The ADF nodes a Jira comment may hold, and what each may contain
# (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/).
BLOCK_NODES = {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote", "table", "rule"}
CHILDREN = {
    "doc": BLOCK_NODES, "paragraph": {"text", "hardBreak"}, "heading": {"text"}, "bulletList": {"listItem"},
    "listItem": {"paragraph", "bulletList", "codeBlock"}, "codeBlock": {"text"}, "blockquote": {"paragraph"},
    "table": {"tableRow"}, "tableRow": {"tableHeader", "tableCell"}, "tableHeader": {"paragraph"},
    "tableCell": {"paragraph"},
}
MARKS = {"strong", "em", "code", "link", "strike"}


def check_adf(node: dict, where: str = "body") -> None:
    kind = node.get("type")
    if kind == "text":
        expect(isinstance(node.get("text"), str) and node["text"] != "", f"{where}: text nodes must not be empty")
        for mark in node.get("marks", []):
            expect(mark.get("type") in MARKS, f"{where}: unknown mark {mark}")
            if mark["type"] == "link":
                expect(bool(mark.get("attrs", {}).get("href")), f"{where}: link mark without href")
        return
    expect(kind in CHILDREN, f"{where}: node type {kind!r} is not allowed in a comment")
    if kind == "doc":
        expect(node.get("version") == 1, "body: ADF doc must have version 1")
    if kind == "heading":
        expect(node.get("attrs", {}).get("level") in range(1, 7), f"{where}: heading needs attrs.level 1..6")
    content = node.get("content", [])
    expect(isinstance(content, list), f"{where}: content must be a list")
    if kind in ("doc", "bulletList", "table", "tableRow", "listItem", "tableHeader", "tableCell", "blockquote"):
        expect(bool(content), f"{where}: {kind} must not be empty")
    for i, child in enumerate(content):
        expect(child.get("type") in CHILDREN[kind], f"{where}: {child.get('type')!r} inside {kind}")
        check_adf(child, f"{where}.{kind}[{i}]")


def adf_text(node) -> str:
    if isinstance(node, dict):
        return node.get("text", "") + "".join(adf_text(c) for c in node.get("content", []))
    return ""


class JiraIssue:
    """Issue OPS-7 as Jira serves it, in either flavour."""

    def __init__(self, flavour: str) -> None:
        self.cloud = flavour == "cloud"
        self.api = "/rest/api/3" if self.cloud else "/rest/api/2"
        human = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "looking into it"}]}]} if self.cloud else "looking into it"
        self.comments = [{"id": "10001", "body": human}]
        self.attachments = [{"id": "900", "filename": "screenshot.png"}]
        self.next_id = 20000

    def _auth_ok(self, request: Request) -> None:
        auth = request.headers.get("Authorization", "")
        if self.cloud:
            want = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
            expect(auth == want, "Cloud wants basic auth with the account e-mail and API token")
        else:
            expect(auth == f"Bearer {TOKEN}", "Server/Data Center wants the personal access token as bearer")

    def _body_ok(self, request: Request) -> object:
        payload = request.json()
        expect(set(payload) == {"body"}, f"comment payload keys {set(payload)}")
        body = payload["body"]
        if self.cloud:
            expect(isinstance(body, dict), "Cloud v3 comments are ADF documents")
            check_adf(body)
            expect(len(json.dumps(body)) <= JIRA_MAX_BODY, "comment longer than Jira accepts")
        else:
            expect(isinstance(body, str), "Server v2 comments are wiki-markup strings")
        return body

    def __call__(self, request: Request) -> Reply:
        self._auth_ok(request)
        path, method = request.path, request.method
        if not path.startswith(self.api):
            return Reply(404, {"errorMessages": ["not found"]})
        path = path[len(self.api):]
        if path == "/issue/OPS-7/comment" and method == "GET":
            start = int(request.query.get("startAt", ["0"])[0])
            size = int(request.query.get("maxResults", ["50"])[0])
            page = self.comments[start:start + size]
            return Reply(200, {"startAt": start, "maxResults": size, "total": len(self.comments), "comments": page})
        if path == "/issue/OPS-7/comment" and method == "POST":
            self.next_id += 1
            comment = {"id": str(self.next_id), "body": self._body_ok(request)}
            self.comments.append(comment)
            return Reply(201, comment)
        match = re.fullmatch(r"/issue/OPS-7/comment/(\d+)", path)
        if match and method == "PUT":
            body = self._body_ok(request)
            for comment in self.comments:
                if comment["id"] == match[1]:
                    comment["body"] = body
                    return Reply(200, comment)
            return Reply(404, {"errorMessages": ["Can not find a comment for the id"]})
        if path == "/issue/OPS-7/attachments" and method == "POST":
            if request.headers.get("X-Atlassian-Token") != "no-check":
                raise Violation("attachment upload without X-Atlassian-Token: no-check (Jira answers 403 XSRF check failed)")
            parts = request.multipart()
            expect(set(parts) == {"file"}, f"multipart parts {set(parts)}, Jira wants one named 'file'")
            filename, _, data = parts["file"]
            expect(json.loads(data)["incident"]["id"] == "INC-1042", "the attachment is not the JSON report")
            self.next_id += 1
            attachment = {"id": str(self.next_id), "filename": filename, "size": len(data)}
            self.attachments.append(attachment)
            return Reply(200, [attachment])
        if path == "/issue/OPS-7" and method == "GET":
            expect(request.query.get("fields") == ["attachment"], "ask for the attachment field only")
            return Reply(200, {"key": "OPS-7", "fields": {"attachment": self.attachments}})
        match = re.fullmatch(r"/attachment/(\d+)", path)
        if match and method == "DELETE":
            before = len(self.attachments)
            self.attachments = [a for a in self.attachments if a["id"] != match[1]]
            return Reply(204 if len(self.attachments) < before else 404, b"")
        return Reply(404, {"errorMessages": [f"no {method} {path}"]})

    def ours(self) -> list[dict]:
        text = adf_text if self.cloud else str
        return [c for c in self.comments if "inquest:report INC-1042" in text(c["body"])]


@pytest.fixture(params=["cloud", "server"])
def jira(request):
    issue = JiraIssue(request.param)
    with StandIn(issue) as server:
        yield server, issue


def _attach(report, server, issue, tmp_path, sleeps=None):
    flavour = "cloud" if issue.cloud else "server"
    config = config_with(tmp_path, jira={"url": server.url, "flavour": flavour})
    return attach_report(report, ["jira"], config, tickets=["OPS-7"], environ=ENV,
                         sleep=sleeps if sleeps is not None else Sleeps())[0]


def test_comment_and_json_attachment_are_posted(demo_report, jira, tmp_path):
    server, issue = jira
    outcome = _attach(demo_report, server, issue, tmp_path)
    assert outcome.ok, outcome.error
    [comment] = issue.ours()
    text = adf_text(comment["body"]) if issue.cloud else comment["body"]
    assert "dep-orders-2.14.0" in text and "roll back orders to 2.13.2" in text
    if not issue.cloud:
        assert "h2. INC-1042" in text and "||#||Confidence||" in text  # wiki markup, not Markdown
    assert [a["filename"] for a in issue.attachments] == ["screenshot.png", FILENAME]
    assert outcome.posted.url == f"{server.url}/browse/OPS-7?focusedCommentId={comment['id']}"
    assert server.problems == []


def test_a_rerun_edits_the_comment_and_replaces_the_attachment(demo_report, jira, tmp_path):
    server, issue = jira
    _attach(demo_report, server, issue, tmp_path)
    first_attachment = issue.attachments[-1]["id"]
    outcome = _attach(demo_report, server, issue, tmp_path)
    assert outcome.posted.action == "updated"
    assert len(issue.ours()) == 1 and len(issue.comments) == 2
    names = [a["filename"] for a in issue.attachments]
    assert names == ["screenshot.png", FILENAME] and issue.attachments[-1]["id"] != first_attachment
    assert [r.method for r in server.requests].count("PUT") == 1
    assert server.problems == []


def test_rate_limited_requests_are_retried_after_the_time_jira_asks_for(demo_report, jira, tmp_path):
    server, issue = jira
    server.script(Reply(429, {"errorMessages": ["Rate limit exceeded"]}, {"Retry-After": "3"}))
    sleeps = Sleeps()
    outcome = _attach(demo_report, server, issue, tmp_path, sleeps)
    assert outcome.ok and sleeps == [3.0] and len(issue.ours()) == 1
    assert server.problems == []


def test_rejected_credentials_are_one_clear_error_naming_jira_and_the_issue(demo_report, jira, tmp_path):
    server, issue = jira
    server.script(Reply(401, {"errorMessages": ["You are not authenticated"]}))
    outcome = _attach(demo_report, server, issue, tmp_path)
    message = str(outcome.error)
    assert outcome.error.status == 401 and message.startswith("jira: 401") and "OPS-7" in message
    assert "$JIRA_API_TOKEN" in message and TOKEN not in message
    assert len(server.requests) == 1 and issue.ours() == []


def test_an_incident_ticket_jira_cannot_use_asks_for_one(demo_report, tmp_path):
    config = config_with(tmp_path, jira={"url": "http://127.0.0.1:9"})
    outcome = attach_report(demo_report, ["jira"], config, environ=ENV, sleep=Sleeps())[0]
    assert "no ticket of the form PROJECT-123" in str(outcome.error) and "acme/shop#812" in str(outcome.error)
