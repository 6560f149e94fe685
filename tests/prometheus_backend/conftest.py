"""One small demo world for the Prometheus suite, held twice: in the embedded store (the reference) and,
by backfill from the OpenMetrics text the simulator exports, in one real Prometheus process shared by
the session and stopped at its end (also when a test fails)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace

import pytest
from conftest import deps_for

from inquest.agents.base import Deps
from inquest.config import PrometheusMetrics
from inquest.evals.sim.openmetrics import write_openmetrics
from inquest.evals.world import DemoWorld, build_demo_world
from inquest.tools.backends.metrics_routed import MetricsRouted
from inquest.tools.backends.prometheus.store import PrometheusMetricStore
from prometheus_backend.server import PROMETHEUS, PROMTOOL, PrometheusServer, backfill

# Small keeps the suite quick; metrics are written every 30 s at any scale, only spans thin out.
SCALE = float(os.environ.get("INQUEST_PROMETHEUS_SCALE", "0.2"))
SCRAPE_SECONDS = 30  # the simulator's metric interval: the grid first values and MADs are read on


@dataclass
class Held:
    world: DemoWorld
    url: str
    embedded: Deps

    def settings(self, **overrides: object) -> PrometheusMetrics:
        return PrometheusMetrics(url=self.url, step_s=SCRAPE_SECONDS, **overrides)  # type: ignore[arg-type]

    def store(self, **overrides: object) -> PrometheusMetricStore:
        return PrometheusMetricStore(self.settings(**overrides))

    def routed(self) -> Deps:
        """Spans, logs and changes from the embedded store; metrics from Prometheus."""
        return replace(self.embedded, backend=MetricsRouted(self.embedded.backend, self.store()))


@pytest.fixture(scope="session")
def held(tmp_path_factory: pytest.TempPathFactory):
    if not (shutil.which(PROMETHEUS) and shutil.which(PROMTOOL)):
        pytest.fail("prometheus and promtool are needed (make system-deps installs Debian's packages)")
    root = tmp_path_factory.mktemp("prometheus")
    world = build_demo_world(root / "world", scale=SCALE)
    data = root / "tsdb"
    backfill(write_openmetrics(world.store_path, root / "metrics.om"), data)
    with PrometheusServer(data) as server:
        yield Held(world, server.url, deps_for(world))
