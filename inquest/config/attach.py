"""config.yaml's `attach:` section: where `investigate --attach` posts the report, and its credentials.

Credentials are written as `${VAR}` strings, the one secret style of the whole file (Elasticsearch's
`api_key`, `serve.token`): the defaults name the variables each service's own tooling uses. A reference is
resolved when the target is used (`resolve_secret`), from the environment the attachment is handed, so an
unset token breaks only `--attach` of that target. Split from the config package's loader so each file
holds one idea; `inquest.config` re-exports every name here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from inquest.config.backends import Section

log = logging.getLogger(__name__)

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnsetSecret(Exception):
    """A `${VAR}` whose variable is unset or empty where the value was needed."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


def resolve_secret(value: str, environ: Mapping[str, str]) -> str:
    """`value` with each `${VAR}` replaced from `environ`; an unset or blank variable raises UnsetSecret.
    A value already expanded when the file was loaded has no reference left and comes back as it is."""

    def substitute(match: re.Match[str]) -> str:
        found = environ.get(match.group(1), "").strip()
        if not found:
            raise UnsetSecret(match.group(1))
        return found

    return ENV_REF.sub(substitute, value).strip()


def referenced_variable(value: str) -> str | None:
    """The variable a `${VAR}` value names (for messages that must never show the secret itself)."""
    match = ENV_REF.search(value)
    return match.group(1) if match else None


class _Credentials(Section):
    # The old style, `token_env: NAME`, still loads: each such key becomes `<field>: ${NAME}` with one
    # warning naming the replacement, so existing config files keep working while they are updated.
    _deprecated: ClassVar[dict[str, str]] = {}
    _key: ClassVar[str] = "attach"

    @model_validator(mode="before")
    @classmethod
    def _old_env_names(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(old in data for old in cls._deprecated):
            return data
        data = dict(data)
        for old, new in cls._deprecated.items():
            if old not in data:
                continue
            name = data.pop(old)
            if not isinstance(name, str) or not ENV_NAME.match(name):
                raise ValueError(f"{old}: {name!r} is not an environment variable name")
            if new in data:
                raise ValueError(f"{old} and {new} are both set; keep only {new}: ${{{name}}}")
            data[new] = f"${{{name}}}"
            log.warning("%s.%s is deprecated: write %s.%s: ${%s} instead", cls._key, old, cls._key, new, name)
        return data


class GitHubAttach(_Credentials):
    _deprecated = {"token_env": "token"}
    _key = "attach.github"
    # None: $GITHUB_API_URL (GitHub Actions and GitHub Enterprise set it), else https://api.github.com.
    api_url: str | None = None
    token: str = "${GITHUB_TOKEN}"  # a token allowed to comment on issues


class JiraAttach(_Credentials):
    _deprecated = {"token_env": "token", "user_env": "user"}
    _key = "attach.jira"
    url: str | None = None  # None: $JIRA_URL
    flavour: Literal["cloud", "server"] = "cloud"  # Cloud REST v3 + ADF, or Server/Data Center REST v2 + wiki markup
    user: str = "${JIRA_USER}"  # cloud: the account e-mail of the API token
    token: str = "${JIRA_API_TOKEN}"  # cloud: API token; server: personal access token


class SlackAttach(_Credentials):
    _deprecated = {"token_env": "token", "webhook_url_env": "webhook_url"}
    _key = "attach.slack"
    mode: Literal["webhook", "bot"] = "webhook"
    # The incoming-webhook URL is itself the secret: like a token, the file must name it as ${VAR}.
    webhook_url: str = "${SLACK_WEBHOOK_URL}"
    token: str = "${SLACK_BOT_TOKEN}"
    channel: str | None = None  # bot mode: the channel id or name to post in
    api_url: str = "https://slack.com/api"


class WebhookAttach(_Credentials):
    _deprecated = {"secret_env": "secret"}
    _key = "attach.webhook"
    url: str | None = None  # None: $INQUEST_WEBHOOK_URL
    secret: str = "${INQUEST_WEBHOOK_SECRET}"  # the shared secret the report is signed with


class AttachConfig(Section):
    """Where `investigate --attach` posts the report. Credentials are ${VAR} references, resolved when posting."""

    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=4, ge=0)
    max_wait_s: float = Field(default=60.0, ge=0)  # the most one request may spend waiting between its retries
    report_url: str | None = None  # where people can read the full report; "{incident}" is replaced by its id
    reports_dir: Path = Path(".inquest/reports")  # the local copy written before anything is posted
    state_file: Path = Path(".inquest/attach-state.json")  # what a re-run updates in place (Slack message ts)
    github: GitHubAttach = GitHubAttach()
    jira: JiraAttach = JiraAttach()
    slack: SlackAttach = SlackAttach()
    webhook: WebhookAttach = WebhookAttach()
