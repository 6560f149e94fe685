"""From configuration to the things agents use: the telemetry backend and the code history.
This is the edge where files are opened; nothing below it reads config paths itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inquest import registry
from inquest.agents.base import Deps
from inquest.config import Config
from inquest.errors import ConfigError
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.backends.protocol import TelemetryBackend
from inquest.tools.code_history import CodeHistory

if TYPE_CHECKING:
    from inquest.tools.backends.prometheus.store import PrometheusMetricStore


def open_backend(config: Config) -> TelemetryBackend:
    """Opens the configured backend through its `inquest.backends` entry point (inquest/registry.py). It
    never builds anything: the demo world is built beforehand by the command (inquest.commands.demo_world),
    so opening a backend does not need the simulator."""
    config.require_env(f"backend.{config.backend.kind}", "backend.metrics")
    opener: Callable[[Config], TelemetryBackend] = registry.load(registry.BACKENDS, config.backend.kind)
    backend = opener(config)
    if config.backend.metrics is None:
        return backend
    from inquest.tools.backends.metrics_routed import MetricSource, MetricsRouted

    metrics_opener: Callable[[Config], MetricSource] = registry.load(registry.BACKENDS, config.backend.metrics.kind)
    return MetricsRouted(backend, metrics_opener(config))


def open_elasticsearch(config: Config) -> TelemetryBackend:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore  # the client costs ~0.2 s

    return ElasticsearchStore(config.backend.elasticsearch, config.base_dir)


def open_prometheus(config: Config) -> PrometheusMetricStore:
    """backend.metrics.kind = prometheus: a source of metrics alone, beside the backend of spans and logs."""
    from inquest.tools.backends.prometheus.store import PrometheusMetricStore

    if config.backend.metrics is None:
        raise ConfigError("backend.metrics: set kind: prometheus and url to read metrics from Prometheus")
    return PrometheusMetricStore(config.backend.metrics)


def open_embedded(config: Config) -> TelemetryBackend:
    settings = config.backend.embedded
    path = config.resolve(settings.path)
    if not path.exists():
        hint = ("the investigate command builds the demo world there" if settings.demo
                else "load your data into it with `investigate ingest FILE...`, or choose another store with "
                     "--store PATH, $INQUEST_STORE or backend.embedded.path; `make demo` builds the demo world")
        raise ConfigError(f"no store: {path} does not exist; {hint}")
    return EmbeddedStore(path, memory_limit=settings.memory_limit)


def connect(config: Config) -> Deps:
    backend = open_backend(config)
    return Deps(backend=backend, code=CodeHistory(config.repository_for), config=config)
