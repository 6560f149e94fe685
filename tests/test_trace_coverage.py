"""Partly collected traces must not fake traffic surges: rates are taken over the time spans actually
cover, and the request-rate metric, where it exists, decides how much traffic came in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from span_fixtures import S, span_rows, write_store

from inquest.agents.load import amplified_edges, covered_minutes, entry_metric, entry_traffic
from inquest.core import Window
from inquest.tools.backends.coverage import covered_seconds
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.backends.protocol import Table

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _request(i: int, at: datetime) -> list[tuple]:
    return span_rows(f"t{i}", at, [S("a", None, "frontend", "GET /", "SERVER", 0, 20),
                                   S("b", "a", "frontend", "cart.Get", "CLIENT", 2, 10, peer="cart"),
                                   S("c", "b", "cart", "Get", "SERVER", 3, 8)])


def test_a_burst_of_spans_at_the_end_of_a_minute_is_seconds_of_coverage_not_a_minute(tmp_path):
    # Baseline: collection only caught the last two seconds of a 3-minute window; incident: 2 req/s throughout.
    base = [row for i in range(8) for row in _request(i, T0 + timedelta(seconds=178 + i / 4))]
    now = [row for i in range(240) for row in _request(100 + i, T0 + timedelta(minutes=3, seconds=i / 2))]
    store = EmbeddedStore(write_store(tmp_path / "s.duckdb", base + now))
    baseline, window = Window(T0, T0 + timedelta(minutes=3)), Window(T0 + timedelta(minutes=3), T0 + timedelta(minutes=5))
    answer = store.span_minutes(baseline).records()[0]
    assert answer["minutes"] == 1  # one minute holds spans...
    assert answer["covered_minutes"] < 0.1  # ...but collection covered a few seconds of it
    assert abs(covered_minutes(store.span_minutes(window), 2.0) - 2.0) < 0.1
    # Over covered time the two windows' entry rates are alike: no surge.
    minutes = (covered_minutes(store.span_minutes(baseline), 3.0), covered_minutes(store.span_minutes(window), 2.0))
    traffic = entry_traffic(store.entry_services(window), store.entry_services(baseline), minutes)
    assert not traffic.surge
    assert 0.3 < traffic.factor < 3.0


def test_steady_traffic_covers_the_whole_window_and_a_mid_window_hole_is_left_out():
    steady = [float(s) for s in range(0, 180)]
    assert abs(covered_seconds(steady, 180, 1) - 180) <= 1
    holed = [s for s in steady if not 60 <= s < 150]  # the collector was down for 90 s
    assert 85 <= covered_seconds(holed, 180, 1) <= 95
    sparse = [0.0, 40.0, 95.0, 130.0]  # a quiet service: long gaps of the usual size are not holes
    assert covered_seconds(sparse, 180, 1) == 180


def test_a_handful_of_baseline_requests_is_no_evidence_of_a_surge():
    def entries(n: int) -> Table:
        return Table("entry_services", "q", ("service", "requests"), (("frontend", n),))
    # 3 requests seen in 3 seconds of baseline against 500 in 2 minutes: 4× the rate, but 3 is no sample.
    assert not entry_traffic(entries(500), entries(3), (0.05, 2.0)).surge
    assert entry_traffic(entries(2000), entries(300), (3.0, 2.0)).surge  # a real surge on real counts


def test_the_request_rate_metric_outvotes_thinly_collected_traces():
    def rate(per_s: float) -> Table:
        return Table("metric_stats", "q", ("service", "host", "name", "median"),
                     (("frontend", "fe-1", "http.server.request.rate", per_s),))
    entries = Table("entry_services", "q", ("service", "requests"), (("frontend", 50),))
    many = Table("entry_services", "q", ("service", "requests"), (("frontend", 900),))
    metric = entry_metric(rate(7.0), rate(7.5), many, entries)
    traffic = entry_traffic(many, entries, (3.0, 2.0), metric)
    assert traffic.source == "http.server.request.rate" and not traffic.surge
    assert entry_metric(rate(7.0), Table("metric_stats", "q", ("service", "host", "name", "median"), ()),
                        many, entries) is None


def test_calls_to_a_callee_whose_server_spans_were_partly_lost_count_once_per_call():
    graph = lambda *rows: Table("call_graph", "q", ("caller", "callee", "calls"), rows)  # noqa: E731
    # In the baseline 332 calls were answered by server spans and 5 were not; both are calls sent.
    before = graph(("frontend", "recommendation", 332), ("frontend", "recommendation", 5))
    now = graph(("frontend", "recommendation", 295))
    assert amplified_edges(now, before, (1.4, 1.7), {"frontend": 406}, {"frontend": 455}) == []
