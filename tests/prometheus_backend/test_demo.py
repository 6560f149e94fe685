"""The demo incident investigated with spans and logs from the embedded store and metrics from a real
Prometheus: the same verdict and the same metric evidence as with the store alone, each piece of it
carrying PromQL; and when Prometheus fails, only the metrics view fails, named in the report."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import replace

import pytest
from conftest import write_config

from inquest.cli import main
from inquest.config import PrometheusMetrics
from inquest.coordinator.investigation import investigate
from inquest.core import Report
from inquest.tools.backends.metrics_routed import MetricsRouted
from inquest.tools.backends.prometheus.store import PrometheusMetricStore

pytestmark = pytest.mark.prometheus
GUILTY = "dep-orders-2.14.0"


@pytest.fixture(scope="module")
def reference(held) -> Report:
    incident = next(i for i in held.embedded.backend.incidents() if i.id == held.world.incident_id)
    return investigate(incident, held.embedded)


def metric_evidence(evidence: list[dict]) -> list[str]:
    return sorted(e["summary"] for e in evidence if e["agent"] == "metrics")


def test_the_cli_with_metrics_from_prometheus_ranks_the_orders_deploy_first(held, reference, tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(open(write_config(held.world, tmp_path)).read().replace(
        "backend:\n", f"backend:\n  metrics:\n    kind: prometheus\n    url: {held.url}\n    step_s: 30\n", 1))
    code = main([held.world.incident_id, "--format", "json", "--config", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["hypotheses"][0]["change"]["id"] == GUILTY
    assert report["agents"]["metrics"]["status"] == "ok"
    from_store = metric_evidence([{"agent": e.agent, "summary": e.summary} for e in reference.evidence])
    assert from_store and metric_evidence(report["evidence"]) == from_store
    quoted = [e for e in report["evidence"] if e["agent"] == "metrics" and "metric" in e["data"]]
    assert quoted
    for piece in quoted:  # each quotes the PromQL of its own metric, not of every metric asked
        asked = set(re.findall(r'"inquest", "\w+ ([^"]+)"', piece["query"]))
        assert asked == {piece["data"]["metric"]} and "_over_time(" in piece["query"], piece["query"][:300]
        assert set(re.findall(r'"inquest", "\w+ ([^"]+)"', piece["data"]["baseline_query"])) == asked


def _unanswered(held, url: str, timeout_s: float) -> Report:
    metrics = PrometheusMetricStore(PrometheusMetrics(url=url, timeout_s=timeout_s, step_s=30))
    deps = replace(held.embedded, backend=MetricsRouted(held.embedded.backend, metrics))
    incident = next(i for i in held.embedded.backend.incidents() if i.id == held.world.incident_id)
    return investigate(incident, deps)


def _fails_only_the_metrics_view(report: Report, reference: Report, expected: str) -> None:
    status = {a.agent: a for a in report.agents}
    assert status["metrics"].status == "error" and expected in (status["metrics"].error or "")
    assert any(note.startswith("the metrics agent failed") and expected in note for note in report.notes), report.notes
    assert all(a.status == "ok" for a in report.agents if a.agent != "metrics"), \
        [(a.agent, a.status, a.error) for a in report.agents]
    assert report.hypotheses[0].change is not None and report.hypotheses[0].change.id == GUILTY
    assert reference.hypotheses[0].change is not None and reference.hypotheses[0].change.id == GUILTY


def test_prometheus_down_fails_the_metrics_view_only(held, reference):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    _fails_only_the_metrics_view(_unanswered(held, url, 5.0), reference, f"cannot reach Prometheus at {url}")


def test_prometheus_timing_out_fails_the_metrics_view_only(held, reference):
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        report = _unanswered(held, url, 0.5)
    _fails_only_the_metrics_view(report, reference, f"Prometheus at {url}: no answer")
