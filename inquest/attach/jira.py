"""Jira: the report as a comment on the incident's issue plus the JSON report as an attachment, both
replaced in place on re-runs.

Cloud speaks REST v3 with comments in Atlassian Document Format and basic auth (account e-mail + API
token); Server and Data Center speak REST v2 with wiki-markup comments and a personal access token as
bearer. A re-run finds its comment by the marker text it carries (`inquest:report INC-1042`) and PUTs
it; the attachment is uploaded anew first and the old one (same file name) deleted after, so a failure
half-way never leaves the issue with no report at all.
REST API: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/
and .../api-group-issue-attachments/
"""

from __future__ import annotations

import base64
import re
from typing import Any

from inquest.attach.base import Action, AttachContext, Posted, marker, pick_ticket, report_filename, shown
from inquest.attach.http import ApiClient
from inquest.attach.ticket_doc import adf_text, comment_body
from inquest.core import Report
from inquest.errors import AttachError

ISSUE_KEY = re.compile(r"(?:https?://\S+/browse/)?(?P<key>[A-Z][A-Z0-9_]+-\d+)")
PAGE = 100


class JiraTarget:
    name = "jira"
    order = 1

    def post(self, report: Report, context: AttachContext) -> Posted:
        settings = context.settings.jira
        key = pick_ticket(context, self.name, ISSUE_KEY, "PROJECT-123")["key"]
        base = (settings.url or context.environ.get("JIRA_URL") or "").rstrip("/")
        if not base:
            raise AttachError(self.name, "no Jira base URL: set attach.jira.url in config.yaml or $JIRA_URL")
        cloud = settings.flavour == "cloud"
        token = context.secret(self.name, "attach.jira.token", settings.token,
                               "a Jira API token" if cloud else "a Jira personal access token")
        if cloud:
            user = context.secret(self.name, "attach.jira.user", settings.user,
                                  "the Atlassian account e-mail the API token belongs to")
            auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        else:
            auth = f"Bearer {token}"
        api = f"{base}/rest/api/{'3' if cloud else '2'}"
        who = shown("attach.jira.token", settings.token)
        who = f"{shown('attach.jira.user', settings.user)} / {who}" if cloud else who
        denied = {401: f"the credentials in {who} were rejected",
                  403: f"the credentials in {who} may not comment on or attach to {key}",
                  404: f"no issue {key} at {base}, or the credentials in {who} cannot see it"}
        filename = report_filename(report, ".json")
        body = comment_body(report, settings.flavour, filename)
        with context.client(self.name, {"Authorization": auth, "Accept": "application/json"}, denied) as client:
            found = self._find_comment(client, api, key, marker(report), cloud)
            if found is not None:
                comment = client.json("PUT", f"{api}/issue/{key}/comment/{found}", json={"body": body},
                                      what=f"comment {found} on {key}")
                action: Action = "updated"
            else:
                comment = client.json("POST", f"{api}/issue/{key}/comment", json={"body": body},
                                      what=f"new comment on {key}")
                action = "created"
            comment_id = comment.get("id")
            self._replace_attachment(client, api, key, report, filename)
        return Posted(self.name, action, f"comment {comment_id} on {key} (+ {filename})",
                      f"{base}/browse/{key}?focusedCommentId={comment_id}")

    def _find_comment(self, client: ApiClient, api: str, key: str, wanted: str, cloud: bool) -> str | None:
        start = 0
        while True:
            page = client.json("GET", f"{api}/issue/{key}/comment", params={"startAt": start, "maxResults": PAGE},
                               what=f"comments of {key}")
            comments: list[dict[str, Any]] = page.get("comments", [])
            for comment in comments:
                text = adf_text(comment.get("body")) if cloud else str(comment.get("body") or "")
                if wanted in text:
                    return str(comment["id"])
            start += len(comments)
            if not comments or start >= int(page.get("total", 0)):
                return None

    def _replace_attachment(self, client: ApiClient, api: str, key: str, report: Report, filename: str) -> None:
        from inquest.render import render_json

        uploaded = client.json(
            "POST", f"{api}/issue/{key}/attachments", what=f"attachment {filename} on {key}",
            headers={"X-Atlassian-Token": "no-check"},  # Jira refuses multipart uploads without it (XSRF check)
            files={"file": (filename, render_json(report).encode("utf-8"), "application/json")},
        )
        new_ids = {str(a.get("id")) for a in uploaded} if isinstance(uploaded, list) else set()
        issue = client.json("GET", f"{api}/issue/{key}", params={"fields": "attachment"},
                            what=f"attachments of {key}")
        for old in issue.get("fields", {}).get("attachment", []) or []:
            if old.get("filename") == filename and str(old.get("id")) not in new_ids:
                client.request("DELETE", f"{api}/attachment/{old['id']}", what=f"old {filename} on {key}", ok=(404,))
