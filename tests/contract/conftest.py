"""The contract suite's worlds: every scenario of the library, built small, held by both backends.

Each scenario gets a fresh noida-db process (a real server speaking the Elasticsearch REST API on
127.0.0.1), the scenario's embedded store bulk-loaded into it, and is investigated with both
backends; the process is stopped before the next scenario starts. With INQUEST_ES_URL set (and
INQUEST_ES_API_KEY, or user:password in the URL, when the cluster wants them) the same suite runs
against that cluster instead, under index names of its own that are deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import conftest as root
import pytest
from conftest import deps_for

from contract.es_server import NoidaServer
from inquest.agents.base import Deps
from inquest.config import ElasticsearchBackend
from inquest.core import Incident, Report
from inquest.evals.scenarios import SCENARIOS, build_scenario
from inquest.evals.sim.model import ScenarioError

# Small worlds keep `make test` quick (a scenario whose fault does not show this small is built larger).
CONTRACT_SCALE = float(os.environ.get("INQUEST_CONTRACT_SCALE", "0.05"))
REAL_CLUSTER = os.environ.get("INQUEST_ES_URL")
# Every scenario of the library by default; a comma-separated list of names to run fewer.
CONTRACT_SCENARIOS = sorted(name for name in SCENARIOS
                            if name in os.environ.get("INQUEST_CONTRACT_SCENARIOS", name).split(","))
BACKENDS = ("embedded", "elasticsearch")


def index_names(prefix: str) -> dict[str, dict[str, str]]:
    names = {"spans": f"traces-{prefix}.otel-default", "logs": f"logs-{prefix}.otel-default",
             "metrics": f"metrics-{prefix}.otel-default", "changes": f"{prefix}-changes",
             "db_query_stats": f"{prefix}-db-query-stats", "incidents": f"{prefix}-incidents"}
    return {kind: {"index": name, "write_index": name} for kind, name in names.items()}


@contextmanager
def cluster(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Connection settings for a cluster that lives as long as the block: a real one when
    INQUEST_ES_URL says so, else a noida-db process of our own."""
    if REAL_CLUSTER:
        yield {"urls": (REAL_CLUSTER,), "api_key": os.environ.get("INQUEST_ES_API_KEY") or None}
        return
    with NoidaServer(data_dir) as server:
        yield {"urls": (server.url,)}


def contract_settings(connection: dict[str, Any], prefix: str, **overrides: Any) -> ElasticsearchBackend:
    # Generous timeouts: the test server scans every document per search, and this suite checks
    # answers, not speed.
    return ElasticsearchBackend(**connection, request_timeout_s=300, max_retries=1, connections=2,
                                **index_names(prefix), **overrides)


class Recorder:
    """The Elasticsearch store, with every question it was asked and its answer kept."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.name = backend.name
        self.calls: list[tuple[str, tuple, dict, Any]] = []
        self._lock = threading.Lock()

    def __getattr__(self, attribute: str) -> Any:
        real = getattr(self._backend, attribute)
        if not callable(real):
            return real

        def recorded(*args: Any, **kwargs: Any) -> Any:
            answer = real(*args, **kwargs)
            with self._lock:
                self.calls.append((attribute, args, kwargs, answer))
            return answer

        return recorded


@dataclass
class Pair:
    """One scenario's world, held by the embedded store and by the cluster."""

    scenario: str
    embedded: Deps
    elasticsearch: Deps
    recorder: Recorder
    incidents: list[Incident]
    settings: ElasticsearchBackend
    connection: dict[str, Any]
    world: Any
    reports: dict[tuple[str, str], Report] = field(default_factory=dict)

    def report(self, backend: str, incident: Incident) -> Report:
        from inquest.coordinator.investigation import investigate

        key = (backend, incident.id)
        if key not in self.reports:
            self.reports[key] = investigate(incident, self.embedded if backend == "embedded" else self.elasticsearch)
        return self.reports[key]

    def store(self, **overrides: Any) -> Any:
        """Another Elasticsearch store on the same data, with some settings changed."""
        from inquest.tools.backends.elasticsearch.store import ElasticsearchStore

        return ElasticsearchStore(self.settings.model_copy(update=overrides))

    def deps_with(self, backend: Any) -> Deps:
        return replace(self.elasticsearch, backend=backend)


@pytest.fixture(autouse=True, scope="session")
def _reach_the_configured_cluster(_no_network):
    """With INQUEST_ES_URL set, that cluster is the one non-loopback address tests may reach."""
    if not REAL_CLUSTER:
        yield
        return
    host = urlsplit(REAL_CLUSTER).hostname or ""
    allowed = {host} | {info[4][0] for info in socket.getaddrinfo(host, None)}
    guarded = socket.socket.connect

    def connect(self: socket.socket, address: Any):
        if isinstance(address, tuple) and address[0] in allowed:
            return root._real_connect(self, address)
        return guarded(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = guarded  # type: ignore[method-assign]


def smallest_world(scenario: str, folder: Path) -> Any:
    """The scenario at CONTRACT_SCALE, or at the smallest doubling of it where its fault still shows
    (a scenario refuses to build a world whose alert would not fire)."""
    scale = CONTRACT_SCALE
    while True:
        try:
            return build_scenario(scenario, folder / f"world-{scale:g}", scale=scale)
        except ScenarioError:
            if scale >= 0.8:
                raise
            scale *= 2


@pytest.fixture(scope="session", params=CONTRACT_SCENARIOS)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    from inquest.ingest.es_loader import drop_loaded, load_store
    from inquest.tools.backends.elasticsearch.connection import open_client
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore

    scenario = request.param
    folder = tmp_path_factory.mktemp(f"contract-{scenario}")
    world = smallest_world(scenario, folder)
    prefix = f"inquest-contract-{secrets.token_hex(3)}-{scenario}" if REAL_CLUSTER else scenario
    with cluster(folder / "noida") as connection:
        settings = contract_settings(connection, prefix)
        client = open_client(settings, folder)
        load_store(world.store_path, client, settings)
        embedded = deps_for(world, agent_timeout_s=900)
        recorder = Recorder(ElasticsearchStore(settings, client=client))
        try:
            yield Pair(scenario=scenario, embedded=embedded, elasticsearch=replace(embedded, backend=recorder),
                       recorder=recorder, incidents=list(embedded.backend.incidents()), settings=settings,
                       connection=connection, world=world)
        finally:
            if REAL_CLUSTER:
                drop_loaded(client, settings)
            client.close()
            embedded.backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
