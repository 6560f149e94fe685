"""config.yaml: validated on load, with errors that name the key.

Selection order: `--config PATH`, then `$INQUEST_CONFIG`, then `./config.yaml`, then
`$XDG_CONFIG_HOME/inquest/config.yaml` (`~/.config/...`), then built-in defaults. `--store PATH` or
`$INQUEST_STORE` replaces the embedded store's path of whichever was chosen. A `${VAR}` whose variable is
unset stays unresolved and is an error only for the part that uses it (`Config.require_env`).
Relative paths inside the file are resolved against the file's own folder, so the same file works from
any working directory. Secrets are never stored in the file: fields that hold one must be written as
`${ENV_VAR}` references, which are expanded from the environment on load (see below for unset ones).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from inquest import registry, safe_yaml

# The backend sections live in their own module; these names are part of inquest.config's interface.
from inquest.config.attach import ENV_REF as ENV_REF
from inquest.config.attach import AttachConfig as AttachConfig
from inquest.config.attach import GitHubAttach as GitHubAttach
from inquest.config.attach import JiraAttach as JiraAttach
from inquest.config.attach import SlackAttach as SlackAttach
from inquest.config.attach import WebhookAttach as WebhookAttach
from inquest.config.backends import ES_FIELDS as ES_FIELDS
from inquest.config.backends import ES_INDICES as ES_INDICES
from inquest.config.backends import BackendConfig as BackendConfig
from inquest.config.backends import ElasticsearchBackend as ElasticsearchBackend
from inquest.config.backends import ElasticsearchIndex as ElasticsearchIndex
from inquest.config.backends import EmbeddedBackend as EmbeddedBackend
from inquest.config.backends import PrometheusLabels as PrometheusLabels
from inquest.config.backends import PrometheusMetrics as PrometheusMetrics
from inquest.config.backends import Section as _Section
from inquest.config.backends import regular_expressions as _regular_expressions
from inquest.config.llm import LLMBudgets as LLMBudgets
from inquest.config.llm import LLMConfig as LLMConfig
from inquest.config.llm import ModelPrice as ModelPrice
from inquest.config.serve import ServeConfig as ServeConfig
from inquest.config.serve import ServeRoute as ServeRoute
from inquest.errors import ConfigError

# A Slack incoming-webhook URL is itself a credential, so it is held to the same ${VAR} rule as a token.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|credentials?|webhook_url)$", re.IGNORECASE)
DEFAULT_AGENTS = ("trace", "db", "metrics", "logs", "deployment", "code_diff", "impact")


class CodeConfig(_Section):
    # Where the services' source lives: one repository for all, and per-service overrides.
    repository: Path = Path(".inquest/shop-repo")
    repositories: dict[str, Path] = Field(default_factory=dict)


class InvestigationConfig(_Section):
    agents: tuple[str, ...] = DEFAULT_AGENTS
    agent_timeout_s: float = Field(default=20.0, gt=0)
    # The whole investigation (triage, agents, ranking) reports by then, with what it has; each backend
    # call's timeout is cut to what is left. Unset: twice agent_timeout_s (triage, then the agents).
    deadline_s: float | None = Field(default=None, gt=0)

    @property
    def deadline(self) -> float:
        return self.deadline_s if self.deadline_s is not None else 2 * self.agent_timeout_s

    @field_validator("agents")
    @classmethod
    def _known_agents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Known = the `inquest.agents` entry points (metadata only: no agent module is imported here).
        unknown = registry.unknown(registry.AGENTS, value)
        if unknown:
            raise ValueError(registry.unknown_message(registry.AGENTS, unknown, "agent"))
        if not value:
            raise ValueError("at least one agent must be enabled")
        return value

    # Baseline: a window of this length ending `baseline_gap_minutes` before the incident window starts,
    # so that a slow onset does not leak into what "normal" means.
    baseline_minutes: int = Field(default=40, gt=0)
    baseline_gap_minutes: int = Field(default=5, ge=0)
    # Suspect changes are looked for from this long before the window until its end.
    lookback_minutes: int = Field(default=120, gt=0)


class MetricName(_Section):
    """What a metric name means, for names the built-in table (agents/metric_semconv.py) does not know."""

    signal: Literal["latency", "traffic", "errors", "cpu", "memory", "network", "restarts", "pool", "disk"]
    unit: str = "1"  # UCUM as OpenTelemetry writes it: s, ms, By, 1 (a ratio), %, {request}/s, ...
    kind: Literal["gauge", "cumulative", "delta", "histogram"] = "gauge"
    side: Literal["server", "client"] | None = None


class MetricsConfig(_Section):
    # name -> meaning; adds to (or corrects) the semantic-convention table the metrics agent reads.
    names: dict[str, MetricName] = Field(default_factory=dict)


class LogsConfig(_Section):
    # Extra masks for log templating, name -> regular expression, applied before the built-in ones
    # (ids, numbers, hex, UUIDs, IPs, paths, URLs, e-mails, durations): what matches becomes a variable.
    extra_masks: dict[str, str] = Field(default_factory=dict)
    # How many distinct patterns per service and window the store hands over for mining (the busiest;
    # the rest are counted as one remainder).
    patterns_per_service: int = Field(default=200, gt=0, le=5000)
    # Lines per service and window masked and counted in the embedded store; beyond it, whole traces are
    # sampled (masking every line of a busy hour costs seconds). Elasticsearch stores templates: no sample.
    sample_lines_per_service: int = Field(default=20000, ge=100)

    @field_validator("extra_masks")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        return _regular_expressions(value, "mask")


# An alert's labels, in order of trust, that name the workload it fired on. `job` comes last: Prometheus
# sets it to the scrape job, which for kube-state-metrics, node-exporter or blackbox probes names the
# exporter that reported the metric, not the service in trouble.
DEFAULT_ALERT_SERVICE_LABELS = ("service", "service.name", "app.kubernetes.io/name", "app", "deployment",
                                "container", "job")
# Label values that name a scraper or exporter rather than a workload (matched as substrings, ignoring case):
# kube-prometheus-stack labels kube-state-metrics' series service="...-kube-state-metrics" and
# container="kube-state-metrics", so even `service` can name the exporter.
DEFAULT_ALERT_EXPORTERS = ("kube-state-metrics", "exporter", "blackbox", "cadvisor", "kubelet", "pushgateway",
                           "prometheus")


class AlertsConfig(_Section):
    """How an Alertmanager alert names the service it fired on (ingest --alert and `serve`)."""

    service_labels: tuple[str, ...] = Field(default=DEFAULT_ALERT_SERVICE_LABELS, min_length=1)
    exporters: tuple[str, ...] = DEFAULT_ALERT_EXPORTERS


class ImpactConfig(_Section):
    slo_availability: float = Field(default=0.999, gt=0, lt=1)
    slow_request_ms: float = Field(default=2000.0, gt=0)


class ReplayTolerance(_Section):
    # How much worse than the compared run a replay may be before `replay --compare` exits 4.
    top1_drop: float = Field(default=0.0, ge=0, le=1)  # fraction of the cases both runs replayed
    mrr_drop: float = Field(default=0.0, ge=0, le=1)
    rank_worsening: int = Field(default=0, ge=0)  # places one case's truth may drop; a new miss always counts


class ReplayConfig(_Section):
    data_dir: Path = Path(".inquest/replay")  # history, cached worlds, the HTML scorecard
    cases: tuple[Path, ...] = ()  # case folders or archives; empty: the scenario library shipped with inquest
    parallelism: int = Field(default=2, ge=1)  # cases investigated at once
    tolerance: ReplayTolerance = ReplayTolerance()
    max_agent_failures: int = Field(default=0, ge=0)  # agent errors/timeouts a run tolerates before exiting 5
    plugins: tuple[str, ...] = ()  # modules imported first, e.g. to register an agent under test


class Config(_Section):
    backend: BackendConfig = BackendConfig()
    code: CodeConfig = CodeConfig()
    investigation: InvestigationConfig = InvestigationConfig()
    impact: ImpactConfig = ImpactConfig()
    metrics: MetricsConfig = MetricsConfig()
    logs: LogsConfig = LogsConfig()
    replay: ReplayConfig = ReplayConfig()
    attach: AttachConfig = AttachConfig()
    llm: LLMConfig = LLMConfig()
    alerts: AlertsConfig = AlertsConfig()
    serve: ServeConfig = ServeConfig()
    # The folder relative paths were resolved against (the config file's folder).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    # (key, variable) of each ${VAR} whose variable is unset: kept as written, an error only for the part
    # that uses it (require_env), so a missing token of one integration does not break every command.
    unset_env: tuple[tuple[str, str], ...] = Field(default=(), exclude=True)

    def require_env(self, *sections: str, resolved_later: Collection[str] = ()) -> None:
        """Raises for the first unset ${VAR} under any of `sections` (dotted keys, e.g. backend.elasticsearch).
        Every part that reads a value which may hold a reference calls this before using it. Keys in
        `resolved_later` are skipped: their reader resolves the reference itself (attach credentials)."""
        for key, name in self.unset_env:
            if key not in resolved_later and any(key == s or key.startswith(f"{s}.") or key.startswith(f"{s}[") for s in sections):
                raise ConfigError(f"{key}: environment variable {name} is referenced but not set")

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    def repository_for(self, service: str) -> Path:
        return self.resolve(self.code.repositories.get(service, self.code.repository))


def _expand_env(value: Any, where: str, unset: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}" if where else str(k), unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]", unset) for i, v in enumerate(value)]
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                unset.append((where, name))
                return match.group(0)
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
            near = _near_key(item["loc"])
            lines.append(f"{source}: unknown key '{key}'" + (f" (did you mean '{near}'?)" if near else ""))
        else:
            lines.append(f"{source}: {key}: {item['msg']}")
    return "\n".join(map(_printable, lines))


def _printable(line: str) -> str:
    """One problem, one line: a key or value quoted from the file may hold line breaks or control
    characters, shown escaped instead."""
    return line if line.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def _near_key(loc: tuple[int | str, ...]) -> str | None:
    """The known key a typo'd one most likely meant, from the model's own fields at that place."""
    import difflib  # only on the error path

    model: Any = Config
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        model = field.annotation if field is not None else None
    known = [k for k in getattr(model, "model_fields", {}) if k != "base_dir"]
    near = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return ".".join([*map(str, loc[:-1]), near[0]]) if near else None


def parse_config(text: str, source: str, base_dir: Path) -> Config:
    try:
        raw = safe_yaml.load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(_printable(f"{source}: not valid YAML: {safe_yaml.one_line(exc)}")) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}")
    for internal in ("base_dir", "unset_env"):
        if internal in raw:
            raise ConfigError(f"{source}: unknown key '{internal}'")
    unset: list[tuple[str, str]] = []
    try:
        _reject_literal_secrets(raw, "")
        expanded = _expand_env(raw, "", unset)
    except ConfigError as exc:
        raise ConfigError(_printable(f"{source}: {exc}")) from None
    try:
        return Config.model_validate({**expanded, "base_dir": base_dir, "unset_env": tuple(unset)})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Which file to load, by the documented order; None means built-in defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get("INQUEST_CONFIG"):
        return Path(os.environ["INQUEST_CONFIG"])
    local = Path("config.yaml")
    if local.exists():
        return local
    # The XDG base-directory rule: a per-user config, for running from any folder.
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "inquest" / "config.yaml"
    return xdg if xdg.is_file() else None


def load_config(explicit: str | os.PathLike[str] | None = None, store: str | os.PathLike[str] | None = None) -> Config:
    """The config by the documented order; `store` (`--store`, else $INQUEST_STORE) replaces the embedded
    store's path, relative to the working folder as any command-line path is."""
    config = _load_file(explicit)
    store = store or os.environ.get("INQUEST_STORE") or None
    if store:
        embedded = config.backend.embedded.model_copy(update={"path": Path(store).resolve()})
        config = config.model_copy(update={"backend": config.backend.model_copy(update={"embedded": embedded})})
    return config


def _load_file(explicit: str | os.PathLike[str] | None) -> Config:
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
