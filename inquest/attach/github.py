"""GitHub Issues: the Markdown report as one comment on the incident's issue, updated in place on re-runs.

The comment carries a hidden marker (`<!-- inquest:report INC-1042 -->`); a re-run lists the issue's
comments, finds the marker and edits that comment instead of adding another.
REST API: https://docs.github.com/en/rest/issues/comments
"""

from __future__ import annotations

import re

from inquest.attach.base import Action, AttachContext, Posted, marker, pick_ticket, shown
from inquest.core import Report

PUBLIC_API = "https://api.github.com"
API_VERSION = "2022-11-28"
# GitHub rejects comment bodies longer than this many characters.
MAX_BODY = 65536
ISSUE = re.compile(r"(?:https://github\.com/)?(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:#|/issues/)(?P<number>\d+)")


def comment_body(report: Report) -> str:
    from inquest.render.markdown import render_markdown

    head = f"<!-- {marker(report)} -->\n"
    body = head + render_markdown(report)
    if len(body) > MAX_BODY:
        cut = "\n\n_…the report was cut to fit a GitHub comment; run `investigate` for all of it._\n"
        body = body[: MAX_BODY - len(cut)] + cut
    return body


class GitHubTarget:
    name = "github"
    order = 0

    def post(self, report: Report, context: AttachContext) -> Posted:
        settings = context.settings.github
        issue = pick_ticket(context, self.name, ISSUE, "owner/repo#N")
        owner, repo, number = issue["owner"], issue["repo"], int(issue["number"])
        ticket = f"{owner}/{repo}#{number}"
        token = context.secret(self.name, "attach.github.token", settings.token,
                               "a GitHub token allowed to comment on issues")
        where = shown("attach.github.token", settings.token)
        api = (settings.api_url or context.environ.get("GITHUB_API_URL") or PUBLIC_API).rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": API_VERSION}
        denied = {401: f"the token in {where} was rejected",
                  403: f"the token in {where} may not comment on {ticket}",
                  404: f"no issue {ticket}, or the token in {where} cannot see it"}
        body = comment_body(report)
        wanted = f"<!-- {marker(report)} -->"
        with context.client(self.name, headers, denied) as client:
            existing = None
            url: str | None = f"{api}/repos/{owner}/{repo}/issues/{number}/comments?per_page=100"
            while url and existing is None:
                page = client.request("GET", url, what=f"comments of {ticket}")
                comments = client.json_of(page, f"comments of {ticket}")
                existing = next((c for c in comments if wanted in (c.get("body") or "")), None)
                url = page.links.get("next", {}).get("url")
            if existing is not None:
                comment = client.json("PATCH", f"{api}/repos/{owner}/{repo}/issues/comments/{existing['id']}",
                                       json={"body": body}, what=f"comment {existing['id']} on {ticket}")
                action: Action = "updated"
            else:
                comment = client.json("POST", f"{api}/repos/{owner}/{repo}/issues/{number}/comments",
                                       json={"body": body}, what=f"new comment on {ticket}")
                action = "created"
        return Posted(self.name, action, f"comment {comment.get('id')} on {ticket}", comment.get("html_url"))
