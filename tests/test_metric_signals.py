"""The metrics agent on small stores built for each question: units, temporality, flat baselines, fresh pods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inquest.agents.base import Deps
from inquest.agents.metric_change import change_score
from inquest.agents.metrics import MetricsAgent
from inquest.config import Config
from inquest.core import ANOMALY_SCORE_CAP, Incident, Scope, Window
from inquest.ingest.otlp import metric_rows
from inquest.tools.backends.embedded_schema import StoreWriter
from inquest.tools.backends.embedded_store import EmbeddedStore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the incident window starts here
WINDOW = Window(T0, T0 + timedelta(minutes=10))
BASELINE = Window(T0 - timedelta(minutes=45), T0 - timedelta(minutes=5))


def investigate(tmp_path: Path, rows: list[tuple], entry: str = "edge"):
    path = tmp_path / "store.duckdb"
    with StoreWriter(path) as writer:
        writer.load("metrics", rows)
        writer.finish()
    store = EmbeddedStore(path)
    try:
        incident = Incident("INC-1", "slow", entry, T0, WINDOW)
        scope = Scope(WINDOW, BASELINE, Window(T0 - timedelta(hours=2), WINDOW.end), onset=T0, entry_service=entry)
        return MetricsAgent().investigate(incident, scope, Deps(store, None, Config()))  # type: ignore[arg-type]
    finally:
        store.close()


def every(seconds: int, start: datetime, end: datetime):
    at = start
    while at < end:
        yield at
        at += timedelta(seconds=seconds)


def gauge(service: str, host: str | None, name: str, unit: str, value, start=BASELINE.start, end=WINDOW.end,
          attributes=None) -> list[tuple]:
    return [(at, service, host, name, float(value(at)), unit, attributes) for at in every(30, start, end)]


def test_a_zero_spread_baseline_gives_a_finite_modest_score():
    score = change_score([0.0] * 80, [0.0667] * 20, "traffic")
    assert score is not None and 0 < score.score <= 3.0
    # the other way round from the issue: a flat non-zero line that moves a little is not an outage either
    assert change_score([5.0] * 80, [5.1] * 20, "latency").score < 1.0


def test_an_inner_service_whose_traffic_leaves_a_flat_zero_is_a_symptom_not_a_cause(tmp_path):
    rows = gauge("edge", None, "http.server.request.rate", "{request}/s", lambda at: 20.0) + \
        gauge("inner", None, "http.server.request.rate", "{request}/s", lambda at: 0.0667 if at >= T0 else 0.0)
    finding = investigate(tmp_path, rows)
    inner = [a for a in finding.anomalies if a.service == "inner"]
    assert inner and all(0 < a.score <= 3.0 for a in inner)
    assert all(a.score <= ANOMALY_SCORE_CAP for a in finding.anomalies)
    assert not any(h.service == "inner" for h in finding.hypotheses)
    text = " ".join(e.summary for e in finding.evidence)
    assert "symptom" in text and "000,000" not in text


def otel_histogram(service: str, host: str, seconds_now, seconds_before) -> list[tuple]:
    """http.server.request.duration as an SDK exports it: seconds, cumulative, explicit buckets, every 30 s.
    100 requests per export; their durations (seconds) come from the given lists."""
    bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
    totals, total_sum, rows = [0] * (len(bounds) + 1), 0.0, []
    for at in every(30, T0 - timedelta(hours=3), WINDOW.end):
        for d in (seconds_now if at >= T0 else seconds_before):
            totals[next((i for i, b in enumerate(bounds) if d <= b), len(bounds))] += 1
            total_sum += d
        point = {"timeUnixNano": str(int(at.timestamp() * 1e9)), "count": str(sum(totals)), "sum": total_sum,
                 "bucketCounts": [str(c) for c in totals], "explicitBounds": bounds,
                 "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}}]}
        metric = {"name": "http.server.request.duration", "unit": "s",
                  "histogram": {"aggregationTemporality": 2, "dataPoints": [point]}}
        rows.extend(metric_rows(metric, service, host, {}))
    return rows


def test_an_otel_request_duration_histogram_in_seconds_with_cumulative_temporality_is_read(tmp_path):
    before = [0.08] * 90 + [0.2] * 10  # p95 175 ms
    now = [0.9] * 100  # p95 975 ms
    finding = investigate(tmp_path, otel_histogram("cart", "cart-1", now, before)
                          + otel_histogram("edge", "edge-1", [0.1] * 100, [0.1] * 100))
    latency = next(e for e in finding.evidence if e.data.get("service") == "cart" and e.data["signal"] == "latency")
    assert latency.data["metric"] == "http.server.request.duration" and latency.data["unit"] == "ms"
    assert latency.data["before"] == pytest.approx(175, rel=0.05)
    assert latency.data["now"] == pytest.approx(975, rel=0.05)
    assert "175 ms → 975 ms" in latency.summary  # a unit on both ends
    # read as increases, not lifetime totals: the steady edge service did not move, nor did its traffic
    assert not any(e.data.get("service") == "edge" for e in finding.evidence)
    assert finding.hypotheses[0].service == "cart"
    # for fusion: one anomaly per service and signal, from its source, with when it began
    cart = {a.signal: a for a in finding.anomalies if a.service == "cart"}
    assert cart["latency"].source == "metric:http.server.request.duration" and cart["latency"].score >= 3
    assert cart["latency"].onset == T0 and cart["latency"].evidence == latency.id
    assert len(finding.anomalies) == len({(a.service, a.signal) for a in finding.anomalies})


def test_a_fresh_pod_with_normal_memory_is_not_called_a_leak(tmp_path):
    mb = 1024 * 1024
    deploy = T0 - timedelta(minutes=2)
    rows = gauge("edge", None, "http.server.request.rate", "{request}/s", lambda at: 20.0)
    rows += gauge("cart", "cart-old-1", "process.memory.usage", "By",
                  lambda at: 520 * mb + (at.minute % 3) * mb)
    # the new version's pod starts small and warms up towards where the old pods are
    rows += gauge("cart", "cart-new-1", "process.memory.usage", "By",
                  lambda at: (300 + 10 * (at - deploy).total_seconds() / 60) * mb, start=deploy)
    finding = investigate(tmp_path, rows)
    assert not [h for h in finding.hypotheses if h.fault == "memory_leak" or h.service == "cart"]
    assert not [e for e in finding.evidence if e.data.get("signal") == "memory"]


def test_a_new_versions_pod_failing_beside_healthy_old_pods_corroborates_its_deploy_without_spans(tmp_path):
    from inquest.agents.deployment import DeploymentAgent

    deploy = T0 - timedelta(minutes=3)
    rows = gauge("edge", None, "http.server.request.rate", "{request}/s", lambda at: 20.0)
    rows += gauge("cart", "cart-old-1", "http.server.error.rate", "1", lambda at: 0.0)
    rows += gauge("cart", "cart-new-1", "http.server.error.rate", "1", lambda at: 0.4, start=deploy,
                  attributes={"service.version": "2.0"})
    path = tmp_path / "store.duckdb"
    with StoreWriter(path) as writer:
        writer.load("metrics", rows)
        writer.load("changes", [("dep-cart-2.0", deploy, "cart", "deploy", "2.0", None, None, None, "cart 2.0"),
                                ("cfg-edge", T0 - timedelta(minutes=40), "edge", "config", None, None, None, None,
                                 "edge timeout")])
        writer.finish()
    store = EmbeddedStore(path)
    try:
        incident = Incident("INC-1", "errors", "edge", T0, WINDOW)
        scope = Scope(WINDOW, BASELINE, Window(T0 - timedelta(hours=2), WINDOW.end), onset=T0)
        finding = DeploymentAgent().investigate(incident, scope, Deps(store, None, Config()))  # type: ignore[arg-type]
    finally:
        store.close()
    top = finding.hypotheses[0]
    assert top.change is not None and top.change.id == "dep-cart-2.0"
    assert top.confidence >= 0.3  # credible enough for other agents' blame on cart to attach to it
    said = " ".join(e.summary for e in finding.evidence)
    assert "new pod cart-new-1" in said and "established hosts over the same minutes" in said


def test_a_new_versions_pods_failing_beside_healthy_old_version_pods_make_that_deploy_the_top_cause(tmp_path):
    from inquest.coordinator.investigation import investigate as run
    from inquest.tools.code_history import CodeHistory

    deploy, v1, v2 = T0 - timedelta(minutes=3), {"service.version": "1.9.0"}, {"service.version": "2.0.0"}
    rows = gauge("edge", None, "http.server.request.rate", "{request}/s", lambda at: 20.0)
    # the alerting service relays cart's failures: a symptom, as it would be for any cause below it
    rows += gauge("edge", "edge-1", "http.server.error.rate", "1", lambda at: 0.15 if at >= T0 else 0.0)
    rows += gauge("cart", "cart-a", "http.server.error.rate", "1", lambda at: 0.0, attributes=v1)
    # cart-b is updated in place (same pod name, new version); cart-c is a new pod of the new version
    rows += gauge("cart", "cart-b", "http.server.error.rate", "1", lambda at: 0.0, end=deploy, attributes=v1)
    rows += gauge("cart", "cart-b", "http.server.error.rate", "1", lambda at: 0.35, start=deploy, attributes=v2)
    rows += gauge("cart", "cart-c", "http.server.error.rate", "1", lambda at: 0.4, start=deploy, attributes=v2)
    rows += gauge("search", "search-1", "http.server.error.rate", "1", lambda at: 0.0,
                  attributes={"service.version": "5.1.0"})
    path = tmp_path / "store.duckdb"
    with StoreWriter(path) as writer:
        writer.load("metrics", rows)
        writer.load("changes", [
            ("dep-search-5.1.0", T0 - timedelta(minutes=8), "search", "deploy", "5.1.0", None, None, None, ""),
            ("dep-cart-2.0.0", deploy, "cart", "deploy", "2.0.0", None, None, None, "cart 2.0.0"),
            ("cfg-edge", T0 - timedelta(minutes=40), "edge", "config", None, None, None, None, "edge timeout")])
        writer.load("incidents", [("INC-7", "checkout errors", "edge", T0, WINDOW.start, WINDOW.end, [], None, None, None)])
        writer.finish()
    store = EmbeddedStore(path)
    try:
        deps = Deps(store, CodeHistory(lambda s: tmp_path), Config(base_dir=tmp_path))
        report = run(Incident("INC-7", "checkout errors", "edge", T0, WINDOW), deps)
    finally:
        store.close()
    top = report.hypotheses[0]
    assert top.change is not None and top.change.id == "dep-cart-2.0.0", [h.summary for h in report.hypotheses]
    said = " ".join(e.summary for e in report.evidence)
    assert "pods of version 1.9.0 over the same minutes" in said


def test_a_too_short_metric_baseline_is_named_in_the_finding_and_the_report(tmp_path):
    from inquest.coordinator.investigation import _notes

    rows = gauge("cart", "cart-1", "process.cpu.utilization", "1", lambda at: 0.2,
                 start=BASELINE.end - timedelta(seconds=50))
    finding = investigate(tmp_path, rows, entry="cart")
    assert any("holds only 1 minute(s) of metric points" in e.summary for e in finding.evidence)
    assert any("metrics baseline" in note and "only 1 minute(s)" in note for note in _notes([finding]))


@pytest.mark.parametrize("before, now, unit, said", [
    (0.243, 1.389, "s", "0.243 s → 1.39 s"),
    (0.0, 0.486, "1", "0% → 48.6%"),  # a dimensionless 0..1 value is a ratio: an error rate, a utilisation
    (2, 20, "{connection}", "2 connections → 20 connections"),
    (1.67, 0.867, "{request}/s", "1.67 requests/s → 0.867 requests/s"),
    (3e8, 9e8, "By", "286 MiB → 858 MiB"),
    (4, 12, "1", "4 → 12"),  # beyond a ratio's range: a plain count
])
def test_evidence_values_carry_their_unit_on_both_ends(before, now, unit, said):
    from inquest.agents.metric_semconv import quantity_change

    assert quantity_change(before, now, unit) == said


def _store_with_calls(tmp_path: Path, rows: list[tuple], calls: list[tuple[str, str]]):
    path = tmp_path / "store.duckdb"
    with StoreWriter(path) as writer:
        writer.load("metrics", rows)
        writer.load("dependencies", [(a, b, "test") for a, b in calls])
        writer.finish()
    return EmbeddedStore(path)


def _served(service: str, rate: float, failed_after: float, measured: bool = True) -> list[tuple]:
    rows = gauge(service, None, "http.server.request.rate", "{request}/s", lambda at: rate)
    if measured:
        rows += gauge(service, None, "http.server.error.rate", "1", lambda at: failed_after if at >= T0 else 0.0)
    return rows


def _errors_blamed_on(tmp_path: Path, rows: list[tuple]) -> dict[str, tuple[str | None, float]]:
    store = _store_with_calls(tmp_path, rows, [("edge", "api"), ("api", "ledger"), ("api", "cache")])
    try:
        incident = Incident("INC-1", "failing", "edge", T0, WINDOW)
        scope = Scope(WINDOW, BASELINE, Window(T0 - timedelta(hours=2), WINDOW.end), onset=T0, entry_service="edge")
        finding = MetricsAgent().investigate(incident, scope, Deps(store, None, Config()))  # type: ignore[arg-type]
    finally:
        store.close()
    return {h.service: (h.fault, h.confidence) for h in finding.hypotheses if h.service}


def test_errors_that_start_where_every_callee_reports_none_are_that_services_own(tmp_path):
    rows = _served("edge", 20.0, 0.05) + _served("api", 20.0, 0.05) + _served("ledger", 20.0, 0.0) + \
        _served("cache", 20.0, 0.0)
    blamed = _errors_blamed_on(tmp_path, rows)
    assert blamed["api"][0] == "errors"  # "errors originating there"
    assert blamed["api"][1] > blamed["edge"][1]  # the entry only relays what api fails


def test_a_callee_whose_errors_nobody_measures_leaves_the_origin_open(tmp_path):
    rows = _served("edge", 20.0, 0.05) + _served("api", 20.0, 0.05) + _served("ledger", 20.0, 0.0, measured=False) + \
        _served("cache", 20.0, 0.0)
    blamed = _errors_blamed_on(tmp_path, rows)
    assert blamed["api"][1] == pytest.approx(blamed["edge"][1])  # nothing says api's errors are its own


def test_an_error_ratio_is_scored_by_the_requests_behind_it():
    from inquest.agents.metric_change import failed_share_score

    # 5% of 1,200 requests a minute failing, after none of 4,800 did: as sure as a move gets
    assert failed_share_score([(0.0, 1200.0)] * 4, [(0.05, 1200.0)] * 2) == ANOMALY_SCORE_CAP
    # the same share over a handful of requests (one failure in twenty) is no evidence
    assert failed_share_score([(0.0, 20.0)] * 4, [(0.05, 20.0)]) < 1.5
    assert failed_share_score([(0.0, 0.0)], [(0.5, 10.0)]) is None  # no requests: no count to test


def test_a_latency_that_moved_at_every_statistic_outweighs_one_tail_quantile_at_the_cap(tmp_path):
    """A summary's quantiles are one distribution seen several ways: `shifted` tripled at p50 … p99, `noisy`
    only at p99 (as far past its baseline, so both reach the score cap)."""
    rows = []
    for stat in ("p50", "p90", "p95", "p99"):
        name = f"http.server.duration.{stat}"
        rows += gauge("shifted", None, name, "ms", lambda at: 300.0 if at >= T0 else 100.0)
        rows += gauge("noisy", None, name, "ms",
                      lambda at, stat=stat: 900.0 if at >= T0 and stat == "p99" else 100.0)
    blamed = {h.service: h.confidence for h in investigate(tmp_path, rows).hypotheses}
    assert blamed["shifted"] > blamed["noisy"]
