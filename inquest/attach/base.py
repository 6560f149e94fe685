"""What an attachment target is, what it is handed, and the registry that finds one by name.

A target posts one report somewhere people will see it (a ticket, a chat channel, a webhook) and says
where it went. Running again for the same incident updates what was posted where the target's API
allows it, so a ticket never collects a pile of stale reports.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from inquest.attach.http import ApiClient
from inquest.attach.state import AttachState
from inquest.config import AttachConfig
from inquest.config.attach import UnsetSecret, referenced_variable, resolve_secret
from inquest.core import Report
from inquest.errors import AttachError

Action = Literal["created", "updated", "sent"]


@dataclass(frozen=True)
class Posted:
    target: str
    action: Action
    where: str  # in the user's words: "comment 1234 on acme/shop#812"
    url: str | None = None  # a link people can open, when the target has one


@dataclass
class AttachContext:
    """Everything a target may use, handed in: settings, the environment, and what earlier targets posted."""

    settings: AttachConfig
    environ: Mapping[str, str]
    tickets: tuple[str, ...]  # --ticket values first, then the incident's own ticket reference
    state: AttachState
    report_link: str | None = None  # where the full report can be read; ticket targets fill it in for chat
    sleep: Callable[[float], None] = time.sleep

    def client(self, target: str, headers: Mapping[str, str] | None = None,
               denied: Mapping[int, str] | None = None) -> ApiClient:
        return ApiClient(target, headers=headers, timeout_s=self.settings.timeout_s, retries=self.settings.retries,
                         max_wait_s=self.settings.max_wait_s, denied=denied, sleep=self.sleep)

    def secret(self, target: str, key: str, value: str, purpose: str) -> str:
        """The credential config key `key` holds (`value`, a ${VAR} reference), resolved now, when it is used."""
        return credential(target, key, value, self.environ, purpose)


def credential(target: str, key: str, value: str, environ: Mapping[str, str], purpose: str) -> str:
    """`value` with its ${VAR} resolved from `environ`; unset, one line naming the variable and the config key."""
    try:
        return resolve_secret(value, environ)
    except UnsetSecret as unset:
        raise AttachError(target, f"${unset.variable} is not set ({key}); it must hold {purpose}") from None


def shown(key: str, value: str) -> str:
    """How messages name a credential without showing it: `$VAR` when it is a reference, else its config key."""
    variable = referenced_variable(value)
    return f"${variable}" if variable else key


class Target(Protocol):
    """A target class says its name and posting order in its body, where the type checker sees them; it is
    selectable by `--attach NAME` once declared as an `inquest.attach` entry point (pyproject.toml)."""

    name: ClassVar[str]
    # Ticket targets go first so that chat messages can link to the comment they wrote.
    order: ClassVar[int]

    def post(self, report: Report, context: AttachContext) -> Posted: ...


def marker(report: Report) -> str:
    """The text that identifies this incident's report in a ticket, so a re-run finds and updates it."""
    return f"inquest:report {report.incident.id}"


def report_filename(report: Report, suffix: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", report.incident.id).strip("-") or "incident"
    return f"inquest-{safe}{suffix}"


def pick_ticket(context: AttachContext, target: str, pattern: re.Pattern[str], form: str) -> re.Match[str]:
    """The first ticket reference the target understands, or an error saying what to pass."""
    for ticket in context.tickets:
        match = pattern.fullmatch(ticket.strip())
        if match:
            return match
    seen = ", ".join(repr(t) for t in context.tickets) or "none"
    raise AttachError(target, f"no ticket of the form {form} to post to (ticket references given: {seen}); "
                              f"pass --ticket {form}")


def local_copy_path(reports_dir: Path, report: Report, fmt: str) -> Path:
    suffix = {"markdown": ".md", "text": ".txt"}.get(fmt, f".{fmt}")
    return reports_dir / report_filename(report, suffix)
