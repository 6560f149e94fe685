"""The one place Inquest talks to an Elasticsearch or OpenSearch cluster: the client, and its failures.

The official `elasticsearch` client does the work (retries with backoff across the configured URLs,
dead-node handling); its HTTP goes through httpx like every other call Inquest makes. A node class of
ours wraps httpx to count what crosses the wire, and, for OpenSearch, to speak plain `application/json`:
the 9.x client asks for `compatible-with=9` media types and checks an Elastic product header, neither
of which OpenSearch knows. Every client failure becomes a BackendError naming the host it concerned.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elastic_transport import (
    ApiError,
    ConnectionTimeout,
    HttpHeaders,
    HttpxHttpNode,
    NodeConfig,
    SerializationError,
    TransportError,
)
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch

from inquest.config import ElasticsearchBackend
from inquest.deadline import time_left, timeout_for
from inquest.errors import BackendError
from inquest.retry import backoff_seconds, retry_after_from

# Statuses worth another try on another node after a pause: overload and gateways in between.
RETRY_ON_STATUS = (429, 502, 503, 504)


@dataclass
class TransferMeter:
    """What crossed the wire: requests made, response bytes, and raw documents handed to the client
    (search hits and top_hits; aggregation buckets are not documents)."""

    requests: int = 0
    response_bytes: int = 0
    documents: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, requests: int = 0, response_bytes: int = 0, documents: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.response_bytes += response_bytes
            self.documents += documents

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "response_bytes": self.response_bytes, "documents": self.documents}


_COMPATIBLE_JSON = {"application/vnd.elasticsearch+json; compatible-with=9": "application/json",
                    "application/vnd.elasticsearch+x-ndjson; compatible-with=9": "application/x-ndjson"}


def _node_class(meter: TransferMeter, plain_json: bool) -> type[HttpxHttpNode]:
    class MeteredNode(HttpxHttpNode):
        def perform_request(self, method: str, target: str, body: bytes | None = None,
                            headers: HttpHeaders | None = None,
                            request_timeout: DefaultType | float | None = DEFAULT) -> NodeApiResponse:
            if plain_json and headers:
                headers = headers.copy()
                for name in ("accept", "content-type"):
                    if headers.get(name) in _COMPATIBLE_JSON:
                        headers[name] = _COMPATIBLE_JSON[headers[name]]
            response = super().perform_request(method, target, body, headers, request_timeout)
            meter.add(requests=1, response_bytes=len(response.body or b""))
            if plain_json and "x-elastic-product" not in response.meta.headers:
                tagged = HttpHeaders(response.meta.headers)
                tagged["x-elastic-product"] = "Elasticsearch"  # OpenSearch answers the same API without it
                response = response._replace(meta=dataclasses.replace(response.meta, headers=tagged))
            return response

    return MeteredNode


def hosts_of(settings: ElasticsearchBackend) -> str:
    return ", ".join(settings.urls)


def open_client(settings: ElasticsearchBackend, base_dir: Path, meter: TransferMeter | None = None) -> Elasticsearch:
    """A client for the configured cluster. Nothing is sent yet: unreachable hosts show on first use."""
    options: dict[str, Any] = {}
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    if settings.ca_file is not None:
        ca_file = settings.ca_file if settings.ca_file.is_absolute() else base_dir / settings.ca_file
        if not ca_file.is_file():
            raise BackendError(f"backend.elasticsearch.ca_file: {ca_file} does not exist")
        options["ca_certs"] = str(ca_file)
    try:
        return Elasticsearch(
            list(settings.urls), node_class=_node_class(meter or TransferMeter(), settings.flavor == "opensearch"),
            verify_certs=settings.verify_certs, request_timeout=settings.request_timeout_s,
            connections_per_node=settings.connections,
            max_retries=settings.max_retries, retry_on_timeout=True, retry_on_status=RETRY_ON_STATUS,
            retry_backoff_base=settings.retry_backoff_s, retry_backoff_cap=settings.retry_backoff_cap_s,
            **options)
    except ValueError as exc:  # a malformed URL, a CA path that is not a file
        raise BackendError(f"backend.elasticsearch: cannot use {hosts_of(settings)}: {exc}") from exc


def describe_failure(exc: Exception, settings: ElasticsearchBackend, what: str) -> BackendError:
    """One clear error for a failed request: where it went and what the cluster said."""
    hosts = hosts_of(settings)
    if isinstance(exc, ApiError):
        node = getattr(exc.meta, "node", None)
        host = _node_url(node) if isinstance(node, NodeConfig) else hosts
        reason = _reason(exc.body) or str(exc.message)
        if exc.meta.status in (401, 403):
            return BackendError(f"Elasticsearch at {host} refused {what} ({exc.meta.status}: {reason}); "
                                "check backend.elasticsearch api_key or username/password")
        if "too_many_buckets" in reason:
            return BackendError(f"Elasticsearch at {host}: {what} needs more buckets than the cluster allows "
                                f"({reason}); set backend.elasticsearch.percentiles: native or narrow the window")
        return BackendError(f"Elasticsearch at {host}: {what} failed ({exc.meta.status}: {reason})")
    if isinstance(exc, SerializationError):
        return BackendError(f"Elasticsearch at {hosts} answered {what} with a malformed response: {exc.message}")
    if isinstance(exc, ConnectionTimeout):
        return BackendError(f"Elasticsearch at {hosts} did not answer {what} in time: {exc.message}")
    if isinstance(exc, TransportError):
        return BackendError(f"cannot reach Elasticsearch at {hosts} for {what}: {exc.message}")
    return BackendError(f"Elasticsearch at {hosts}: {what} failed: {exc}")


def malformed(settings: ElasticsearchBackend, what: str, response: Any) -> BackendError:
    """A response that parsed but is not the shape the API promises (a proxy's page, another service)."""
    shown = json.dumps(response, default=str)[:200] if not isinstance(response, str) else response[:200]
    return BackendError(f"Elasticsearch at {hosts_of(settings)} answered {what} with a malformed response: {shown}")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ApiError):
        return exc.meta.status in RETRY_ON_STATUS
    return isinstance(exc, TransportError) and not isinstance(exc, SerializationError)


def within_deadline(client: Elasticsearch, settings: ElasticsearchBackend, what: str,
                    send: Callable[[Elasticsearch], Any]) -> Any:
    """One request, retried as configured, each attempt's timeout cut to what is left of the
    investigation's deadline and no retry started that could not finish before it. The client's own
    retries are off here: they reuse one timeout per attempt and know no deadline. Every failure
    becomes one BackendError naming the host."""
    attempt = 0
    while True:
        timeout = timeout_for(settings.request_timeout_s, what)  # raises once the deadline has passed
        try:
            return send(client.options(request_timeout=timeout, max_retries=0))
        except Exception as exc:
            attempt += 1
            asked = retry_after_from(exc.meta.headers) if isinstance(exc, ApiError) else None
            wait = asked if asked is not None else backoff_seconds(
                attempt, base_s=settings.retry_backoff_s, cap_s=settings.retry_backoff_cap_s, jitter_low=0.5)
            if not _retryable(exc) or attempt > settings.max_retries or wait >= time_left(wait + 1.0):
                raise describe_failure(exc, settings, what) from exc
            time.sleep(wait)


def _node_url(node: NodeConfig) -> str:
    return f"{node.scheme}://{node.host}:{node.port}{node.path_prefix}"


def _reason(body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)[:300] if body else ""
    error = body.get("error")
    if isinstance(error, dict):
        causes = error.get("root_cause") or []
        first = causes[0] if causes and isinstance(causes[0], dict) else error
        return f"{first.get('type', '')}: {first.get('reason', '')}".strip(": ")
    return str(error or "")[:300]
