"""`investigate <id> --attach github|jira|slack|webhook`: the report travels to where people work.

Each target is an `inquest.attach` entry point (inquest/registry.py); importing this package loads them to
learn their posting order.
`attach_report` posts to each requested target in turn and turns each target's failure into an
outcome, so one unreachable target never stops the others (and the report is already on disk by then).
Setup, update-in-place behaviour and the state file are documented in docs/attach.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from inquest import registry
from inquest.attach.base import AttachContext, Posted, Target
from inquest.attach.state import AttachState
from inquest.config import Config
from inquest.core import Report
from inquest.errors import AttachError, InquestError

_FACTORIES: dict[str, Callable[[], Target]] = {
    name: registry.load(registry.ATTACH, name) for name in registry.names(registry.ATTACH)}
TARGETS: tuple[str, ...] = tuple(sorted(_FACTORIES, key=lambda name: _FACTORIES[name].order))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    target: str
    posted: Posted | None = None
    error: InquestError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_targets(names: Sequence[str]) -> list[str]:
    """The requested targets, once each, in posting order; an unknown name is an error listing the known ones."""
    unknown = sorted(set(names) - set(_FACTORIES))
    if unknown:
        raise AttachError("attach", f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    return [name for name in TARGETS if name in names]


def check_credentials(names: Sequence[str], config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Before the investigation: every requested target has the environment variables it reads its URL and
    credentials from, and no ${VAR} of the attach section is unset. One line naming the target and the variable."""
    config.require_env("attach")
    environ = os.environ if environ is None else environ
    settings = config.attach
    needs: dict[str, list[tuple[str, str]]] = {
        "github": [(settings.github.token_env, "a GitHub token allowed to comment on issues")],
        "jira": ([] if settings.jira.url else [("JIRA_URL", "the Jira base URL (or set attach.jira.url)")])
        + ([(settings.jira.user_env, "the Atlassian account e-mail")] if settings.jira.flavour == "cloud" else [])
        + [(settings.jira.token_env, "a Jira API token")],
        "slack": [(settings.slack.webhook_url_env, "the Slack incoming-webhook URL")] if settings.slack.mode == "webhook"
        else [(settings.slack.token_env, "a Slack bot token (xoxb-…)")],
        "webhook": ([] if settings.webhook.url else [("INQUEST_WEBHOOK_URL", "the URL (or set attach.webhook.url)")])
        + [(settings.webhook.secret_env, "the shared secret the report is signed with")],
    }
    for name in names:
        for variable, purpose in needs.get(name, []):
            if not environ.get(variable, "").strip():
                raise AttachError(f"--attach {name}", f"${variable} is not set; it must hold {purpose}")


def attach_report(report: Report, names: Sequence[str], config: Config, tickets: Sequence[str] = (),
                  environ: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    settings = config.attach
    link = settings.report_url.replace("{incident}", report.incident.id) if settings.report_url else None
    context = AttachContext(
        settings=settings, environ=os.environ if environ is None else environ,
        tickets=tuple(tickets) + ((report.incident.ticket,) if report.incident.ticket else ()),
        state=AttachState(config.resolve(settings.state_file)), report_link=link, sleep=sleep,
    )
    outcomes = []
    for name in check_targets(names):
        try:
            posted = _FACTORIES[name]().post(report, context)
        except InquestError as exc:  # an AttachError, or an unreadable state file: this target failed, not the run
            outcomes.append(Outcome(name, error=exc))
            continue
        outcomes.append(Outcome(name, posted=posted))
        # Without a configured place for the report, chat links to the ticket comment just written.
        context.report_link = context.report_link or posted.url
    return outcomes


__all__ = ["TARGETS", "AttachContext", "Outcome", "Posted", "attach_report", "check_targets"]
