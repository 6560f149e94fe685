"""--attach github against a stand-in of the GitHub REST API (issues/comments), checked request by request."""

from __future__ import annotations

import re

import pytest

from inquest.attach import attach_report
from inquest.attach.github import MAX_BODY

from .stand_in import Reply, Request, Sleeps, StandIn, config_with, expect

TOKEN = "ghp_test_token_123"
ISSUE_PATH = re.compile(r"/repos/acme/shop/issues/812/comments")
COMMENT_PATH = re.compile(r"/repos/acme/shop/issues/comments/(\d+)")
PER_PAGE_MAX = 100


class GitHubIssue:
    """Issue acme/shop#812 as GitHub serves it: comments listed in pages with a Link header."""

    def __init__(self, human_comments: int = 0) -> None:
        self.comments = [{"id": 1000 + i, "body": f"human comment {i}"} for i in range(human_comments)]
        self.base = ""

    def _comment(self, comment: dict) -> dict:
        return {**comment, "html_url": f"https://github.com/acme/shop/issues/812#issuecomment-{comment['id']}"}

    def __call__(self, request: Request) -> Reply:
        expect(request.headers.get("Authorization") == f"Bearer {TOKEN}", "Authorization is not 'Bearer <token>'")
        expect(request.headers.get("Accept") == "application/vnd.github+json", "Accept is not application/vnd.github+json")
        expect(request.headers.get("X-GitHub-Api-Version") == "2022-11-28", "X-GitHub-Api-Version missing")
        expect(bool(request.headers.get("User-Agent")), "GitHub rejects requests without a User-Agent")
        if ISSUE_PATH.fullmatch(request.path) and request.method == "GET":
            per_page = int(request.query.get("per_page", ["30"])[0])
            page = int(request.query.get("page", ["1"])[0])
            expect(per_page <= PER_PAGE_MAX, "per_page above 100")
            chunk = self.comments[(page - 1) * per_page: page * per_page]
            headers = {}
            if page * per_page < len(self.comments):
                headers["Link"] = f'<{self.base}{request.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            return Reply(200, [self._comment(c) for c in chunk], headers)
        if ISSUE_PATH.fullmatch(request.path) and request.method == "POST":
            body = request.json()
            expect(set(body) == {"body"} and isinstance(body["body"], str), f"POST body keys {set(body)}, want only 'body'")
            expect(len(body["body"]) <= MAX_BODY, "comment body longer than GitHub accepts")
            comment = {"id": 5000 + len(self.comments), "body": body["body"]}
            self.comments.append(comment)
            return Reply(201, self._comment(comment))
        match = COMMENT_PATH.fullmatch(request.path)
        if match and request.method == "PATCH":
            body = request.json()
            expect(set(body) == {"body"}, f"PATCH body keys {set(body)}, want only 'body'")
            for comment in self.comments:
                if comment["id"] == int(match[1]):
                    comment["body"] = body["body"]
                    return Reply(200, self._comment(comment))
            return Reply(404, {"message": "Not Found"})
        return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})


@pytest.fixture
def github():
    issue = GitHubIssue(human_comments=120)  # more than one page, so the marker must be looked for on page 2
    with StandIn(issue) as server:
        issue.base = server.url
        yield server, issue


def _attach(report, server, tmp_path, sleeps=None, environ=None):
    config = config_with(tmp_path, github={"api_url": server.url})
    return attach_report(report, ["github"], config, environ=environ or {"GITHUB_TOKEN": TOKEN},
                         sleep=sleeps if sleeps is not None else Sleeps())[0]


def _ours(issue):
    return [c for c in issue.comments if "<!-- inquest:report INC-1042 -->" in c["body"]]


def test_posts_the_markdown_report_as_a_comment_on_the_incidents_issue(demo_report, github, tmp_path):
    server, issue = github
    outcome = _attach(demo_report, server, tmp_path)
    assert outcome.ok, outcome.error
    assert outcome.posted.action == "created" and "acme/shop#812" in outcome.posted.where
    [comment] = _ours(issue)
    assert "dep-orders-2.14.0" in comment["body"] and "## Ranked hypotheses" in comment["body"]
    assert outcome.posted.url.endswith(f"#issuecomment-{comment['id']}")
    assert server.problems == []


def test_a_rerun_updates_the_same_comment_instead_of_adding_one(demo_report, github, tmp_path):
    server, issue = github
    first = _attach(demo_report, server, tmp_path)
    second = _attach(demo_report, server, tmp_path)
    assert (first.posted.action, second.posted.action) == ("created", "updated")
    assert len(_ours(issue)) == 1 and len(issue.comments) == 121
    assert [r.method for r in server.requests].count("PATCH") == 1
    assert any(r.query.get("page") == ["2"] for r in server.requests)  # followed the Link header
    assert server.problems == []


def test_api_url_comes_from_GITHUB_API_URL_when_config_names_none(demo_report, github, tmp_path):
    server, issue = github
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": server.url}
    outcome = attach_report(demo_report, ["github"], config_with(tmp_path), environ=environ, sleep=Sleeps())[0]
    assert outcome.ok and len(_ours(issue)) == 1


def test_rate_limited_requests_are_retried_after_the_time_github_asks_for(demo_report, github, tmp_path):
    server, issue = github
    server.script(Reply(429, {"message": "API rate limit exceeded"}, {"Retry-After": "7"}))
    sleeps = Sleeps()
    outcome = _attach(demo_report, server, tmp_path, sleeps)
    assert outcome.ok and sleeps == [7.0]
    assert len(_ours(issue)) == 1 and server.problems == []


def test_a_rejected_token_is_one_clear_error_naming_github_and_the_issue(demo_report, github, tmp_path):
    server, issue = github
    server.script(Reply(401, {"message": "Bad credentials"}))
    sleeps = Sleeps()
    outcome = _attach(demo_report, server, tmp_path, sleeps)
    message = str(outcome.error)
    assert not outcome.ok and outcome.error.status == 401
    assert message.startswith("github: 401") and "acme/shop#812" in message and "$GITHUB_TOKEN" in message
    assert TOKEN not in message
    assert len(server.requests) == 1 and sleeps == []  # no retrying a credential problem
    assert _ours(issue) == []


def test_without_a_token_nothing_is_sent(demo_report, github, tmp_path):
    server, _ = github
    outcome = _attach(demo_report, server, tmp_path, environ={"PATH": "/bin"})
    assert "GITHUB_TOKEN is not set" in str(outcome.error) and server.requests == []
