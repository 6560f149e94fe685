"""OTLP files shaped like the OpenTelemetry project's own samples (opentelemetry-proto/examples: pretty-
printed, upper-case hex ids, integer timestamps, scope attributes) and like a .NET exporter's output (a
UTF-8 byte order mark, CRLF line ends, `severityText: Information`). The fixtures in tests/fixtures/otlp
are written by hand after those samples: a checkout whose client spans name their peers only through
`server.address`, `url.full`, `rpc.service` and `db.system`, and mesh metrics that name both ends of a call."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from inquest.core import Window
from inquest.ingest.driver import ingest
from inquest.ingest.peers import edge_of, infer_peer
from inquest.tools.backends.embedded_store import EmbeddedStore

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "otlp"
WINDOW = Window(datetime(2026, 3, 12, 10, 0), datetime(2026, 3, 12, 10, 30))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("real-otlp") / "store.duckdb"
    result = ingest(path, [FIXTURES])
    assert result.rejected == 0, [str(r) for f in result.files for r in f.rejections]
    with duckdb.connect(str(path), read_only=True) as con:
        logs = con.execute("SELECT severity_text, severity_number, trace_id FROM logs ORDER BY timestamp").fetchall()
    backend = EmbeddedStore(path)
    yield result, backend, logs
    backend.close()


def test_the_samples_load_whole(store):
    result, _, _ = store
    accepted = {Path(f.path).name: dict(f.accepted) for f in result.files}
    assert accepted["trace.json"] == {"spans": 6}
    assert accepted["logs.json"] == {"logs": 2}
    assert accepted["metrics.json"]["dependencies"] == 3  # the `unknown` source is no workload


def test_a_client_span_without_peer_service_is_credited_to_the_service_it_called(store):
    _, backend, _ = store
    # The callee is instrumented: its own service.name beats the address dialled (checkout.shop.svc...),
    # so the 120 ms on the wire is checkoutservice's, not frontend's.
    by_service = {(r["service"], r["operation"]): r["peer"] for r in backend.span_stats(WINDOW).records()}
    assert by_service[("frontend", "POST")] == "checkoutservice"
    assert by_service[("checkoutservice", "POST")] == "api.stripe.com"
    assert by_service[("checkoutservice", "Cart/GetCart")] == "hipstershop.CartService"
    assert by_service[("checkoutservice", "SELECT orders")] == "orders-db"


def test_uninstrumented_dependencies_appear_in_the_call_graph(store):
    _, backend, _ = store
    edges = {(r["caller"], r["callee"]) for r in backend.call_graph(WINDOW).records()}
    assert {("frontend", "checkoutservice"), ("checkoutservice", "api.stripe.com"),
            ("checkoutservice", "hipstershop.CartService")} <= edges
    assert not any(callee == "orders-db" for _, callee in edges)  # database time stays with its caller


def test_edge_metrics_declare_the_call_graph(store):
    _, backend, _ = store
    declared = {(r["caller"], r["callee"], r["source"]) for r in backend.dependencies().records()}
    assert declared == {("frontend", "checkoutservice", "metric istio_requests_total"),
                        ("checkoutservice", "cartservice", "metric istio_requests_total"),
                        ("checkoutservice", "paymentservice", "metric traces_service_graph_request_total")}


def test_dotnet_severity_names_and_upper_case_ids(store):
    *_, rows = store
    assert rows[0] == ("Information", 9, "5b8efff798038103d269b633813fc60c")


@pytest.mark.parametrize("kind, attributes, db, expected", [
    ("CLIENT", {"server.address": "payments.shop.svc.cluster.local"}, None, ("payments", "server.address")),
    ("CLIENT", {"net.peer.name": "redis-cache"}, "redis", ("redis-cache", "net.peer.name")),
    ("CLIENT", {"http.url": "http://10.0.3.7:8080/x"}, None, ("10.0.3.7", "http.url")),
    ("PRODUCER", {"rpc.service": "shop.Orders"}, None, ("shop.Orders", "rpc.service")),
    ("CLIENT", {}, "postgresql", ("postgresql", "db.system")),
    ("SERVER", {"server.address": "frontend"}, None, None),
])
def test_peer_inference_order(kind, attributes, db, expected):
    assert infer_peer(kind, attributes, db) == expected


@pytest.mark.parametrize("labels, edge", [
    ({"source_workload": "frontend", "destination_workload": "cart"}, ("frontend", "cart")),
    ({"client": "cart", "server": "redis"}, ("cart", "redis")),
    ({"deployment": "web", "dst_deployment": "api", "direction": "outbound"}, ("web", "api")),
    ({"source_workload": "unknown", "destination_workload": "cart"}, None),  # Istio's name for "no workload"
    ({"deployment": "web"}, None),
])
def test_edge_labels(labels, edge):
    assert edge_of(labels) == edge
