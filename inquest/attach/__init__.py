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
from inquest.attach.base import AttachContext, Posted, Target, credential
from inquest.attach.state import AttachState
from inquest.config import AttachConfig, Config
from inquest.core import Report
from inquest.errors import AttachError, InquestError


def _target_class(name: str) -> type[Target]:
    """The class an `inquest.attach` entry point names. Its `order` is read before any instance exists, so a
    plug-in without one is refused here, in one line, rather than as an AttributeError."""
    loaded = registry.load(registry.ATTACH, name)
    if not isinstance(loaded, type) or not isinstance(getattr(loaded, "order", None), int):
        raise AttachError(name, f"the inquest.attach entry point {name!r} is not a target class with an integer "
                                "`order` (see docs/attach.md, Adding a target)")
    return loaded


_FACTORIES: dict[str, type[Target]] = {name: _target_class(name) for name in registry.names(registry.ATTACH)}
TARGETS: tuple[str, ...] = tuple(sorted(_FACTORIES, key=lambda name: _FACTORIES[name].order))


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
    """Before the investigation: every requested target's ${VAR} credentials resolve, its URL is known, and
    no other ${VAR} of its section (or of the shared attach keys) is unset. One line naming the target,
    the variable and the config key; a target not requested is never checked."""
    environ = os.environ if environ is None else environ
    for name in names:
        credentials = _credentials(name, config.attach)
        for key, value, purpose in credentials:
            credential(f"--attach {name}", key, value, environ, purpose)
        for key, variable, purpose in _urls(name, config.attach):
            if not environ.get(variable, "").strip():
                raise AttachError(f"--attach {name}", f"${variable} is not set; it must hold {purpose} (or set {key})")
        config.require_env(f"attach.{name}", *(f"attach.{key}" for key in _SHARED_KEYS),
                           resolved_later={key for key, _, _ in credentials})


# The attach section's own keys (not a target's): a ${VAR} in one of them concerns every target.
_SHARED_KEYS = ("timeout_s", "retries", "max_wait_s", "report_url", "reports_dir", "state_file")


def _credentials(name: str, settings: AttachConfig) -> list[tuple[str, str, str]]:
    """(config key, value as written, what it must hold) of each credential the target reads."""
    jira, slack = settings.jira, settings.slack
    return {
        "github": [("attach.github.token", settings.github.token, "a GitHub token allowed to comment on issues")],
        "jira": ([("attach.jira.user", jira.user, "the Atlassian account e-mail")] if jira.flavour == "cloud" else [])
        + [("attach.jira.token", jira.token, "a Jira API token")],
        "slack": [("attach.slack.webhook_url", slack.webhook_url, "the Slack incoming-webhook URL")]
        if slack.mode == "webhook" else [("attach.slack.token", slack.token, "a Slack bot token (xoxb-…)")],
        "webhook": [("attach.webhook.secret", settings.webhook.secret, "the shared secret the report is signed with")],
    }.get(name, [])


def _urls(name: str, settings: AttachConfig) -> list[tuple[str, str, str]]:
    """(config key, variable, what) of a URL read from the environment when the config does not give it."""
    if name == "jira" and not settings.jira.url:
        return [("attach.jira.url", "JIRA_URL", "the Jira base URL")]
    if name == "webhook" and not settings.webhook.url:
        return [("attach.webhook.url", "INQUEST_WEBHOOK_URL", "the URL")]
    return []


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
