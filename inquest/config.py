"""config.yaml: validated on load, with errors that name the key.

Selection order: `--config PATH`, then `$INQUEST_CONFIG`, then `./config.yaml`, then built-in defaults.
Relative paths inside the file are resolved against the file's own folder, so the same file works from
any working directory. Secrets are never stored in the file: fields that hold one must be written as
`${ENV_VAR}` references, which are expanded from the environment on load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inquest.errors import ConfigError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|credentials?)$", re.IGNORECASE)
DEFAULT_AGENTS = ("trace", "db", "metrics", "deployment", "code_diff", "impact")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedBackend(_Section):
    path: Path = Path(".inquest/demo.duckdb")
    # When the file is missing, build the seeded demo world there instead of failing.
    demo: bool = True


class BackendConfig(_Section):
    kind: Literal["embedded"] = "embedded"
    embedded: EmbeddedBackend = EmbeddedBackend()


class CodeConfig(_Section):
    # Where the services' source lives: one repository for all, and per-service overrides.
    repository: Path = Path(".inquest/shop-repo")
    repositories: dict[str, Path] = Field(default_factory=dict)


class InvestigationConfig(_Section):
    agents: tuple[str, ...] = DEFAULT_AGENTS
    agent_timeout_s: float = Field(default=20.0, gt=0)
    @field_validator("agents")
    @classmethod
    def _known_agents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(KNOWN_AGENTS))
        if unknown:
            raise ValueError(f"unknown agent(s) {', '.join(unknown)}; known: {', '.join(KNOWN_AGENTS)}")
        if not value:
            raise ValueError("at least one agent must be enabled")
        return value

    # Baseline: a window of this length ending `baseline_gap_minutes` before the incident window starts,
    # so that a slow onset does not leak into what "normal" means.
    baseline_minutes: int = Field(default=40, gt=0)
    baseline_gap_minutes: int = Field(default=5, ge=0)
    # Suspect changes are looked for from this long before the window until its end.
    lookback_minutes: int = Field(default=120, gt=0)


class ImpactConfig(_Section):
    slo_availability: float = Field(default=0.999, gt=0, lt=1)
    slow_request_ms: float = Field(default=2000.0, gt=0)


ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class GitHubAttach(_Section):
    # None: $GITHUB_API_URL (GitHub Actions and GitHub Enterprise set it), else https://api.github.com.
    api_url: str | None = None
    token_env: str = Field(default="GITHUB_TOKEN", pattern=ENV_NAME)


class JiraAttach(_Section):
    url: str | None = None  # None: $JIRA_URL
    flavour: Literal["cloud", "server"] = "cloud"  # Cloud REST v3 + ADF, or Server/Data Center REST v2 + wiki markup
    user_env: str = Field(default="JIRA_USER", pattern=ENV_NAME)  # cloud: the account e-mail of the API token
    token_env: str = Field(default="JIRA_API_TOKEN", pattern=ENV_NAME)  # cloud: API token; server: personal access token


class SlackAttach(_Section):
    mode: Literal["webhook", "bot"] = "webhook"
    webhook_url_env: str = Field(default="SLACK_WEBHOOK_URL", pattern=ENV_NAME)  # the URL is itself the secret
    token_env: str = Field(default="SLACK_BOT_TOKEN", pattern=ENV_NAME)
    channel: str | None = None  # bot mode: the channel id or name to post in
    api_url: str = "https://slack.com/api"


class WebhookAttach(_Section):
    url: str | None = None  # None: $INQUEST_WEBHOOK_URL
    secret_env: str = Field(default="INQUEST_WEBHOOK_SECRET", pattern=ENV_NAME)


class AttachConfig(_Section):
    """Where `investigate --attach` posts the report. Tokens are read from the environment variables named here."""

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


class Config(_Section):
    backend: BackendConfig = BackendConfig()
    code: CodeConfig = CodeConfig()
    investigation: InvestigationConfig = InvestigationConfig()
    impact: ImpactConfig = ImpactConfig()
    attach: AttachConfig = AttachConfig()
    # The folder relative paths were resolved against (the config file's folder).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    def repository_for(self, service: str) -> Path:
        return self.resolve(self.code.repositories.get(service, self.code.repository))


# Kept here rather than imported from agents/ so loading config never imports the analyses.
KNOWN_AGENTS = ("trace", "db", "metrics", "deployment", "code_diff", "impact")


def _expand_env(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is referenced but not set")
            return os.environ[name]
        return ENV_REF.sub(substitute, value)
    return value


def _reject_literal_secrets(value: Any, where: str) -> None:
    """A key that names a secret must hold a ${ENV_VAR} reference, so config files can be shared and
    committed without leaking anything."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if SECRET_KEY.search(str(key)) and isinstance(item, str) and item and not ENV_REF.fullmatch(item.strip()):
                raise ConfigError(f"{path}: secrets may not be written into the config file; "
                                  f"reference an environment variable instead, e.g. ${{{str(key).upper()}}}")
            _reject_literal_secrets(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _reject_literal_secrets(item, f"{where}[{i}]")


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        else:
            lines.append(f"{source}: {key}: {item['msg']}")
    return "\n".join(lines)


def parse_config(text: str, source: str, base_dir: Path) -> Config:
    try:
        raw = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}")
    if "base_dir" in raw:
        raise ConfigError(f"{source}: unknown key 'base_dir'")
    try:
        _reject_literal_secrets(raw, "")
        expanded = _expand_env(raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        return Config.model_validate({**expanded, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Which file to load, by the documented order; None means built-in defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get("INQUEST_CONFIG"):
        return Path(os.environ["INQUEST_CONFIG"])
    local = Path("config.yaml")
    return local if local.exists() else None


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path = config_path(explicit)
    if path is None:
        return Config(base_dir=Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    return parse_config(text, str(path), path.resolve().parent)
