"""Series as other exporters shape them: the service from `app.kubernetes.io/name` or `job`, the host
from `pod` before `instance`, the version label read, unit and `_total` suffixes found, a histogram's
buckets read as counters, and a counter's steps counted in the bucket they happened in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inquest.core import Window
from prometheus_backend.conftest import FOREIGN_START

pytestmark = pytest.mark.prometheus
FIVE_MINUTES = Window(FOREIGN_START, FOREIGN_START + timedelta(minutes=5))


def by_bucket(table, **match) -> dict[int, tuple[int, float]]:
    """minute of the window -> (points, total) of the rows matching `match`."""
    return {int((r["bucket"] - FOREIGN_START).total_seconds() // 60): (r["points"], r["total"])
            for r in table.records() if all(r[k] == v for k, v in match.items())}


def test_a_counter_steps_in_the_bucket_it_stepped_in_and_survives_a_reset(held):
    table = held.store().metric_series(FIVE_MINUTES, ["k8s.container.restarts"], cumulative=(), bucket_seconds=60)
    rows = table.records()
    assert {(r["service"], r["host"], r["temporality"]) for r in rows} == {("orders", "orders-7f-abc", "cumulative")}
    minutes = by_bucket(table)
    # 0 0 | 1 1 | 1 1 | 2 2 | 0 1: the step from 0 to 1 lies between minute 0's samples and minute 1's.
    assert {m: total for m, (_, total) in minutes.items() if m < 4} == {0: 0.0, 1: 1.0, 2: 0.0, 3: 1.0}
    assert minutes[4][1] >= 1.0  # after the reset the counter still moved: not read as a drop
    assert "k8s_container_restarts_total offset 60000ms" in table.query_for("k8s.container.restarts")


def test_service_and_host_from_the_configured_labels(held):
    table = held.store().metric_summary(FIVE_MINUTES, ["process.cpu.utilization"])
    assert [(r["service"], r["host"], r["mean"], r["points"]) for r in table.records()] == \
        [("payments", "10.0.0.9:9100", 0.5, 10)]
    renamed = held.store(labels={"service": ["instance"], "host": ["job"]})
    assert [(r["service"], r["host"]) for r in renamed.metric_summary(FIVE_MINUTES, ["process.cpu.utilization"]).records()] \
        == [("10.0.0.9:9100", "payments")]


def test_histogram_buckets_by_version_and_le(held):
    names = ["http.server.request.duration.bucket", "http.server.request.duration.count"]
    table = held.store().metric_series(FIVE_MINUTES, names, bucket_seconds=60)
    rows = table.records()
    assert {(r["service"], r["host"], r["version"], r["temporality"]) for r in rows} == \
        {("checkout", "checkout-1", "1.2.0", "cumulative")}
    fast = by_bucket(table, name="http.server.request.duration.bucket", le="0.1")
    every = by_bucket(table, name="http.server.request.duration.bucket", le="+Inf")
    assert [fast[m][1] for m in (1, 2, 3, 4)] == [16.0] * 4 and [every[m][1] for m in (1, 2, 3, 4)] == [20.0] * 4


def test_an_explicit_name_wins(held):
    store = held.store(names={"process.cpu.utilization": "k8s_container_restarts_total"})
    table = store.metric_summary(FIVE_MINUTES, ["process.cpu.utilization"])
    assert [(r["service"], r["max"]) for r in table.records()] == [("orders", 2.0)]
