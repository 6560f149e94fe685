"""Slack: the top hypotheses, confidence, impact and a link to the full report, as Block Kit.

Two modes (attach.slack.mode):
- `webhook`: an incoming webhook ($SLACK_WEBHOOK_URL). Slack cannot edit what a webhook posted, so
  every run posts a new message.
- `bot`: chat.postMessage with a bot token ($SLACK_BOT_TOKEN) into attach.slack.channel. The channel
  and ts Slack returns are kept in the attach state file, and a re-run calls chat.update on that
  message instead of posting another.
APIs: https://api.slack.com/methods/chat.postMessage, /methods/chat.update, /messaging/webhooks,
Block Kit: https://api.slack.com/reference/block-kit/blocks
"""

from __future__ import annotations

from typing import Any

from inquest.attach.base import AttachContext, Posted, shown
from inquest.attach.http import ApiClient
from inquest.core import Report
from inquest.errors import AttachError
from inquest.render import best_lead, clock, count, duration, headline, lead_label, percent, ranked

TOP = 3
# Block Kit limits: header text 150 characters, section text 3000.
HEADER_MAX, SECTION_MAX = 150, 3000
# Slack answers HTTP 200 with {"ok": false, "error": ...}; these mean the token or the channel is wrong.
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived"}


def _escape(text: str) -> str:
    # mrkdwn treats these three as control characters: https://api.slack.com/reference/surfaces/formatting
    return " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(report: Report, link: str | None) -> dict[str, Any]:
    """The Block Kit message: `text` is the notification fallback, `blocks` what people see."""
    cause = report.root_cause
    lead = cause or best_lead(report)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "emoji": True, "text": _clip(
        f"{report.incident.id}: {' '.join(report.incident.title.split())}", HEADER_MAX)}}]
    if cause is not None:
        verdict = f"*Root cause* ({percent(cause.confidence)} confidence): {_escape(cause.summary)}"
        if cause.mitigation:
            verdict += f"\n*Try first:* {_escape(cause.mitigation)}"
    elif lead is not None:
        verdict = f"*{_escape(headline(report))}.* {_escape(lead_label(report, lead))}: {_escape(lead.summary)}"
    else:
        verdict = "*No root cause found:* no agent produced a hypothesis."
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(verdict, SECTION_MAX)}})
    impact = report.impact
    if impact.requests:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Failed requests*\n{count(impact.failed_requests)} of {count(impact.requests)} "
                                       f"({percent(impact.error_rate, 1)})"},
            {"type": "mrkdwn", "text": f"*Users affected*\n{count(impact.users)} in {count(impact.tenants)} tenants"},
            {"type": "mrkdwn", "text": f"*Onset*\n{clock(impact.onset)}"},
            {"type": "mrkdwn", "text": f"*Error-budget burn*\n{impact.error_budget_burn:.1f}×"},
        ]})
    top = ranked(report)[:TOP]
    if top:
        lines = [f"{h.rank}. *{percent(h.confidence)}* `{_escape(h.service or '?')}` {_escape(h.summary)}" for h in top]
        blocks += [{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            "*Top hypotheses*\n" + "\n".join(lines), SECTION_MAX)}}]
    if link:
        blocks.append({"type": "actions", "elements": [{"type": "button", "action_id": "open_report", "url": link,
                                                        "text": {"type": "plain_text", "text": "Full report"}}]})
    context = f"Inquest · {report.mode} · {duration(report.duration_ms)}"
    if report.trace_id:
        context += f" · trace `{report.trace_id}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    # The notification text is mrkdwn too: `<!channel>` or `<url|label>` from a title would ping or link.
    return {"text": _escape(f"{report.incident.id}: {headline(report)}"), "blocks": blocks}


class SlackTarget:
    name = "slack"
    order = 2

    def post(self, report: Report, context: AttachContext) -> Posted:
        settings = context.settings.slack
        payload = message(report, context.report_link)
        if settings.mode == "webhook":
            return self._webhook(payload, context)
        return self._bot(report, payload, context)

    def _webhook(self, payload: dict[str, Any], context: AttachContext) -> Posted:
        written = context.settings.slack.webhook_url
        url = context.secret(self.name, "attach.slack.webhook_url", written, "the Slack incoming-webhook URL")
        where = shown("attach.slack.webhook_url", written)
        denied = {401: f"the webhook in {where} was rejected", 403: f"the webhook in {where} may not post (action_prohibited)",
                  404: f"the webhook in {where} no longer exists (no_service)"}
        with context.client(self.name, denied=denied) as client:
            # The URL is the credential: errors show the variable's name, never the URL.
            client.request("POST", url, json=payload, what="incoming webhook", shown_url=where)
        return Posted(self.name, "sent", "incoming webhook (a new message each run)")

    def _bot(self, report: Report, payload: dict[str, Any], context: AttachContext) -> Posted:
        settings = context.settings.slack
        if not settings.channel:
            raise AttachError(self.name, "bot mode needs attach.slack.channel in config.yaml")
        token = context.secret(self.name, "attach.slack.token", settings.token, "a Slack bot token (xoxb-…) with chat:write")
        api = settings.api_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        incident = report.incident.id
        with context.client(self.name, headers) as client:
            previous = context.state.get(incident, self.name)
            if previous and previous.get("channel") and previous.get("ts"):
                answer = self._call(client, f"{api}/chat.update", {**payload, "channel": previous["channel"],
                                                                   "ts": previous["ts"]}, settings.channel)
                if answer.get("ok"):
                    return Posted(self.name, "updated", f"message {answer.get('ts')} in {settings.channel}")
                if answer.get("error") != "message_not_found":
                    raise self._refused(answer, "chat.update", settings.channel, settings.token)
                # Deleted in Slack since the last run: post a fresh one below.
            answer = self._call(client, f"{api}/chat.postMessage", {**payload, "channel": settings.channel},
                                settings.channel)
            if not answer.get("ok"):
                raise self._refused(answer, "chat.postMessage", settings.channel, settings.token)
        context.state.put(incident, self.name, {"channel": answer.get("channel"), "ts": answer.get("ts")})
        return Posted(self.name, "created", f"message {answer.get('ts')} in {settings.channel}")

    def _call(self, client: ApiClient, url: str, body: dict[str, Any], channel: str) -> dict[str, Any]:
        method = url.rsplit("/", 1)[-1]
        answer = client.json("POST", url, json=body, what=f"{method} in {channel}")
        return answer if isinstance(answer, dict) else {"ok": False, "error": f"unexpected answer {answer!r:.80}"}

    def _refused(self, answer: dict[str, Any], method: str, channel: str, token: str) -> AttachError:
        error = str(answer.get("error", "unknown_error"))
        if error in AUTH_ERRORS:
            return AttachError(self.name, f"{method} refused ({error}): check the bot token in {shown('attach.slack.token', token)}", 401)
        if error in CHANNEL_ERRORS:
            return AttachError(self.name, f"{method} refused ({error}): is the bot invited to {channel}?", 404)
        return AttachError(self.name, f"{method} in {channel} refused: {error}")
