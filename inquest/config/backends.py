"""config.yaml's `backend:` section: where telemetry is read (the embedded store, Elasticsearch) and where
metric questions may go instead (Prometheus), with the Elasticsearch field and index maps. Split from the
config package's loader so each file holds one idea; `inquest.config` re-exports every name here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def regular_expressions(value: dict[str, str], what: str) -> dict[str, str]:
    for name, regex in value.items():
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"{what} {name!r} is not a valid regular expression: {exc}") from exc
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedBackend(Section):
    path: Path = Path(".inquest/store.duckdb")  # the repository's config.yaml names demo.duckdb
    # When the file is missing, build the seeded demo world there instead of failing. Off unless a config
    # says so (the repository's config.yaml does, for `make demo`): never a side effect in another folder.
    demo: bool = False
    # DuckDB's memory cap for an investigation (a DuckDB size string).
    memory_limit: str = Field(default="1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


# Where each kind of telemetry lives in an Elasticsearch/OpenSearch cluster, by default the way Elastic
# stores OpenTelemetry data natively (`traces-*.otel-*`, `logs-*.otel-*`: OTel names under `attributes.`
# and `resource.attributes.`). Logical field -> field in the cluster. `inquest.*` fields are derived at
# ingest by `investigate ingest --to elasticsearch` (docs/elasticsearch.md says why).
ES_FIELDS: dict[str, dict[str, str]] = {
    "spans": {
        "timestamp": "@timestamp", "trace_id": "trace_id", "span_id": "span_id", "parent_span_id": "parent_span_id",
        "service": "resource.attributes.service.name", "host": "resource.attributes.host.name", "name": "name",
        "kind": "kind", "duration": "duration", "status_code": "status.code", "status_message": "status.message",
        "http_method": "attributes.http.request.method", "http_route": "attributes.http.route",
        "http_status": "attributes.http.response.status_code", "peer_service": "attributes.peer.service",
        "db_system": "attributes.db.system", "db_statement": "attributes.db.statement",
        "user": "attributes.enduser.id", "tenant": "attributes.tenant.id",
        "version": "resource.attributes.service.version",
    },
    "logs": {
        "timestamp": "@timestamp", "trace_id": "trace_id", "span_id": "span_id", "severity_text": "severity_text",
        "severity_number": "severity_number", "service": "resource.attributes.service.name",
        "host": "resource.attributes.host.name", "body": "body.text", "body_keyword": "body.text.keyword",
    },
    "metrics": {
        "timestamp": "@timestamp", "service": "resource.attributes.service.name",
        "host": "resource.attributes.host.name", "name": "metric.name", "value": "metric.value", "unit": "metric.unit",
    },
    "changes": {
        "id": "change.id", "timestamp": "@timestamp", "service": "service.name", "kind": "change.kind",
        "version": "service.version", "commit": "vcs.revision", "repository": "vcs.repository",
        "author": "change.author", "description": "change.description",
    },
    "db_query_stats": {
        "timestamp": "@timestamp", "service": "service.name", "db_system": "db.system", "statement": "db.statement",
        "calls": "calls", "total_time_ms": "total_time_ms", "rows": "rows", "lock_wait_ms": "lock_wait_ms",
    },
    "incidents": {
        "id": "incident.id", "title": "incident.title", "service": "service.name", "started_at": "@timestamp",
        "window_start": "window.start", "window_end": "window.end", "symptoms": "incident.symptoms",
        "ticket": "incident.ticket", "baseline_start": "baseline.start", "baseline_end": "baseline.end",
    },
}
# kind -> (index pattern read, index/data stream written by the loader)
ES_INDICES: dict[str, tuple[str, str]] = {
    "spans": ("traces-*.otel-*", "traces-inquest.otel-default"),
    "logs": ("logs-*.otel-*", "logs-inquest.otel-default"),
    "metrics": ("metrics-inquest.otel-*", "metrics-inquest.otel-default"),
    "changes": ("inquest-changes", "inquest-changes"),
    "db_query_stats": ("inquest-db-query-stats", "inquest-db-query-stats"),
    "incidents": ("inquest-incidents", "inquest-incidents"),
}


class ElasticsearchIndex(Section):
    index: str | None = None  # what questions search: an index, alias or pattern (None: ES_INDICES)
    write_index: str | None = None  # where the loader writes (None: ES_INDICES)
    fields: dict[str, str] = Field(default_factory=dict)  # overrides of ES_FIELDS for this kind


class ElasticsearchBackend(Section):
    urls: tuple[str, ...] = ("http://127.0.0.1:9200",)
    api_key: str | None = None  # ${ENV_VAR}: the encoded API key
    username: str | None = None
    password: str | None = None  # ${ENV_VAR}
    ca_file: Path | None = None  # a PEM bundle to verify the cluster's certificate with
    verify_certs: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0)
    connections: int = Field(default=10, ge=1)  # requests in flight to each node at once
    max_retries: int = Field(default=3, ge=0)  # per request, across the urls, with backoff
    retry_backoff_s: float = Field(default=0.5, ge=0)  # the first wait; doubles per retry up to the cap
    retry_backoff_cap_s: float = Field(default=10.0, ge=0)
    # The most raw documents one question may pull to the client (changes, incidents, top_hits).
    max_documents: int = Field(default=1000, ge=1, le=10000)
    max_buckets: int = Field(default=1000, ge=10, le=10000)  # groups per level of an aggregation
    # histogram: from a log-scale bucket count (same answer on every server, ≤ 1% off);
    # native: the cluster's own `percentiles` aggregation (for data not loaded by inquest).
    percentiles: Literal["histogram", "native"] = "histogram"
    flavor: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    data_streams: bool = True  # the loader writes spans, logs and metrics as data streams
    # OTel enum names -> the values stored (Elastic's OTel mapping writes "Server", "Error", ...).
    span_kinds: dict[str, str] = Field(default_factory=lambda: {
        "SERVER": "Server", "CLIENT": "Client", "INTERNAL": "Internal", "PRODUCER": "Producer",
        "CONSUMER": "Consumer"})
    status_codes: dict[str, str] = Field(default_factory=lambda: {"UNSET": "Unset", "OK": "Ok", "ERROR": "Error"})
    duration_unit: Literal["ns", "us", "ms"] = "ns"
    spans: ElasticsearchIndex = ElasticsearchIndex()
    logs: ElasticsearchIndex = ElasticsearchIndex()
    metrics: ElasticsearchIndex = ElasticsearchIndex()
    changes: ElasticsearchIndex = ElasticsearchIndex()
    db_query_stats: ElasticsearchIndex = ElasticsearchIndex()
    incidents: ElasticsearchIndex = ElasticsearchIndex()

    @model_validator(mode="after")
    def _known_names(self) -> ElasticsearchBackend:
        if not self.urls:
            raise ValueError("urls: at least one cluster URL is needed")
        for kind, defaults in ES_FIELDS.items():
            unknown = sorted(set(getattr(self, kind).fields) - set(defaults))
            if unknown:
                raise ValueError(f"{kind}.fields: unknown field(s) {', '.join(unknown)}; known: {', '.join(defaults)}")
        for key, known in (("span_kinds", ("SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER")),
                           ("status_codes", ("UNSET", "OK", "ERROR"))):
            missing = sorted(set(known) - set(getattr(self, key)))
            if missing:
                raise ValueError(f"{key}: needs a value for {', '.join(missing)}")
        if self.username and not self.password:
            raise ValueError("username is set but password is not (reference it as ${ENV_VAR})")
        return self

    def field(self, kind: str, name: str) -> str:
        return getattr(self, kind).fields.get(name, ES_FIELDS[kind][name])

    def index(self, kind: str) -> str:
        return getattr(self, kind).index or ES_INDICES[kind][0]

    def write_index(self, kind: str) -> str:
        return getattr(self, kind).write_index or ES_INDICES[kind][1]


class PrometheusLabels(Section):
    """Which labels name the service, the host and the version; the first one a series carries wins.
    Prometheus label names hold no dots or slashes: `app.kubernetes.io/name` is read as
    `app_kubernetes_io_name`, the name Kubernetes service discovery gives it."""

    service: tuple[str, ...] = Field(default=("service", "app.kubernetes.io/name", "job"), min_length=1)
    host: tuple[str, ...] = ("pod", "instance")
    version: tuple[str, ...] = ("version", "service_version", "app.kubernetes.io/version")


class PrometheusMetrics(Section):
    """backend.metrics: metric questions go to Prometheus as PromQL; spans and logs stay with backend.kind."""

    kind: Literal["prometheus"] = "prometheus"
    url: str = "http://127.0.0.1:9090"
    bearer_token: str | None = None  # ${ENV_VAR}
    timeout_s: float = Field(default=10.0, gt=0)
    # The scrape interval: the grid a window's first value and its median absolute deviation are read on.
    step_s: float = Field(default=15.0, gt=0)
    labels: PrometheusLabels = PrometheusLabels()
    # A metric name -> its Prometheus name, where the usual translation (dots to underscores, with or
    # without a unit or _total suffix) does not find it.
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"{url!r} is not an http:// or https:// URL of the Prometheus server")
        return url


class BackendConfig(Section):
    kind: Literal["embedded", "elasticsearch"] = "embedded"
    embedded: EmbeddedBackend = EmbeddedBackend()
    elasticsearch: ElasticsearchBackend = ElasticsearchBackend()
    metrics: PrometheusMetrics | None = None  # None: metrics come from backend.kind as well
