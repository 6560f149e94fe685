"""One small demo world for the Prometheus suite, held twice: in the embedded store (the reference) and,
by backfill from the OpenMetrics text the simulator exports, in one real Prometheus process shared by
the session and stopped at its end (also when a test fails)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import deps_for

from inquest.agents.base import Deps
from inquest.config import PrometheusMetrics
from inquest.evals.sim.demo import DemoWorld, build_demo_world
from inquest.evals.sim.openmetrics import write_openmetrics
from inquest.tools.backends.metrics_routed import MetricsRouted
from inquest.tools.backends.prometheus.store import PrometheusMetricStore
from prometheus_backend.server import PROMETHEUS, PROMTOOL, PrometheusServer, backfill

# Small keeps the suite quick; metrics are written every 30 s at any scale, only spans thin out.
SCALE = float(os.environ.get("INQUEST_PROMETHEUS_SCALE", "0.2"))
SCRAPE_SECONDS = 30  # the simulator's metric interval: the grid first values and MADs are read on


# Series shaped the way other exporters shape them (kube-state-metrics, node exporter, an OTel SDK's
# histogram), on the day before the world so no question about the world sees them: test_label_mapping.py.
FOREIGN_START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RESTARTS = (0, 0, 1, 1, 1, 1, 2, 2, 0, 1)  # every 30 s: a step between buckets 0 and 1, a reset in bucket 4
FOREIGN_SERIES = {
    'k8s_container_restarts_total{job="kube-state-metrics",app_kubernetes_io_name="orders",'
    'pod="orders-7f-abc",instance="10.0.0.7:8080"}': RESTARTS,
    'process_cpu_utilization_ratio{job="payments",instance="10.0.0.9:9100"}': (0.5,) * 10,
    'http_server_request_duration_seconds_bucket{service="checkout",version="1.2.0",pod="checkout-1",le="0.1"}':
        tuple(8 * i for i in range(10)),
    'http_server_request_duration_seconds_bucket{service="checkout",version="1.2.0",pod="checkout-1",le="+Inf"}':
        tuple(10 * i for i in range(10)),
    'http_server_request_duration_seconds_count{service="checkout",version="1.2.0",pod="checkout-1"}':
        tuple(10 * i for i in range(10)),
}


def write_foreign(path: Path) -> Path:
    lines = []
    for family in dict.fromkeys(series.split("{")[0] for series in FOREIGN_SERIES):
        lines.append(f"# TYPE {family} gauge")
        for series, values in FOREIGN_SERIES.items():
            if series.startswith(family + "{"):
                at = FOREIGN_START.timestamp()
                lines += [f"{series} {value} {at + 30 * i:.3f}" for i, value in enumerate(values)]
    path.write_text("\n".join([*lines, "# EOF", ""]))
    return path


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
    backfill(write_foreign(root / "foreign.om"), data)
    with PrometheusServer(data) as server:
        yield Held(world, server.url, deps_for(world))
