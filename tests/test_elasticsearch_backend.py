"""The Elasticsearch backend without a cluster: its configuration, the percentile estimate, the fields
derived at ingest, and how it talks HTTP (auth, retries with backoff, TLS, OpenSearch), checked by a
stand-in server on 127.0.0.1 that asserts every request against the documented REST API."""

from __future__ import annotations

import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from inquest.cli import main
from inquest.config import ES_FIELDS, ElasticsearchBackend, parse_config
from inquest.core import Window
from inquest.errors import BackendError, ConfigError
from inquest.ingest.es_loader import document_sql, template_for
from inquest.tools.backends.elasticsearch.percentiles import (
    bucket_of,
    distribution_mad,
    distribution_quantile,
    merge,
    quantile,
)
from inquest.tools.backends.elasticsearch.store import ElasticsearchStore
from inquest.tools.backends.embedded_schema import StoreWriter

WINDOW = Window(datetime(2026, 11, 3, 13, 55, tzinfo=UTC), datetime(2026, 11, 3, 14, 35, tzinfo=UTC))


# -- configuration ---------------------------------------------------------------------------------

def test_the_elasticsearch_section_defaults_to_elastics_own_otel_layout(tmp_path: Path):
    config = parse_config("backend: {kind: elasticsearch}\n", "config.yaml", tmp_path)
    es = config.backend.elasticsearch
    assert config.backend.kind == "elasticsearch"
    assert es.index("spans") == "traces-*.otel-*" and es.index("logs") == "logs-*.otel-*"
    assert es.field("spans", "service") == "resource.attributes.service.name"
    assert es.max_documents == 1000 and es.duration_unit == "ns"


@pytest.mark.parametrize("text, names", [
    ("backend: {elasticsearch: {spans: {fields: {servce: service.name}}}}\n", "spans.fields: unknown field(s) servce"),
    ("backend: {elasticsearch: {api_key: c2VjcmV0}}\n", "backend.elasticsearch.api_key: secrets may not be written"),
    ("backend: {elasticsearch: {username: elastic}}\n", "username is set but password is not"),
    ("backend: {elasticsearch: {max_documents: 50000}}\n", "backend.elasticsearch.max_documents"),
    ("backend: {elasticsearch: {status_codes: {ERROR: failure}}}\n", "status_codes: needs a value for OK, UNSET"),
    ("backend: {kind: opensearch}\n", "backend.kind"),
])
def test_a_bad_elasticsearch_section_is_one_error_naming_the_key(text: str, names: str, tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "config.yaml", tmp_path)
    assert names in str(err.value)


def test_credentials_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ES_KEY", "a2V5OnNlY3JldA==")
    text = "backend: {elasticsearch: {api_key: '${ES_KEY}', spans: {fields: {service: service.name}}}}\n"
    config = parse_config(text, "config.yaml", tmp_path)
    assert config.backend.elasticsearch.api_key == "a2V5OnNlY3JldA=="
    assert config.backend.elasticsearch.field("spans", "service") == "service.name"


# -- percentiles from bucket counts ----------------------------------------------------------------

def test_bucketed_percentiles_are_within_one_percent_of_duckdbs_quantile_cont():
    rng = random.Random(11)
    con = duckdb.connect()
    for trial in range(300):
        n = rng.choice([1, 2, 3, 7, 20, 100, 2000])
        values = [round(rng.lognormvariate(2.5, 1.7), 3) + 0.01 for _ in range(n)]
        histogram = merge([{bucket_of(v): 1} for v in values])
        for q in (0.5, 0.95):
            exact = con.execute("SELECT quantile_cont(v, ?) FROM (SELECT unnest(?) AS v)", [q, values]).fetchone()[0]
            estimate = quantile(histogram, q, min(values), max(values))
            assert math.isclose(estimate, exact, rel_tol=0.01), (trial, q, estimate, exact)


def test_a_metric_distribution_gives_duckdbs_median_mad_and_p90_exactly():
    con = duckdb.connect()
    values = [0.2, 0.2, 0.5, 0.7, 0.7, 0.7, 1.9, 20.0]
    counts = {v: values.count(v) for v in set(values)}
    median, mad, p90 = con.execute("SELECT median(v), mad(v), quantile_cont(v, 0.9) FROM (SELECT unnest(?) AS v)",
                                   [values]).fetchone()
    assert (distribution_quantile(counts, 0.5), distribution_mad(counts)) == (median, mad)
    assert math.isclose(distribution_quantile(counts, 0.9), p90)


# -- what the loader derives -------------------------------------------------------------------------

def _at(seconds: float) -> datetime:
    return datetime(2026, 11, 3, 14, 0) + timedelta(seconds=seconds)


def _span(trace, span, parent, service, kind, start, duration_ms, status="UNSET", peer=None, db=None, route=None):
    return (trace, span, parent, service, f"{service}-1", f"op {span}", kind, _at(start),
            _at(start + duration_ms / 1000), duration_ms, status, "boom" if status == "ERROR" else None,
            "POST" if route else None, route, None, peer, db, "SELECT 1" if db else None, "u-1", "t-1", None)


def test_the_loader_derives_what_a_cluster_cannot_join(tmp_path: Path):
    with StoreWriter(tmp_path / "s.duckdb") as writer:
        writer.load("spans", [
            _span("t1", "a", None, "frontend", "SERVER", 0.0, 100.0, "ERROR", route="/checkout"),
            _span("t1", "b", "a", "frontend", "CLIENT", 0.010, 60.0, "ERROR", peer="checkout"),
            _span("t1", "c", "b", "checkout", "SERVER", 0.012, 50.0, "ERROR"),
            _span("t1", "d", "c", "checkout", "CLIENT", 0.020, 30.0, peer="postgres", db="postgresql"),
        ])
        writer.finish()
    settings = ElasticsearchBackend(spans={"fields": {"service": "service.name"}})
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    rows = con.execute(document_sql("spans", settings)).fetchall()
    docs = {json.loads(doc)["span_id"]: json.loads(doc) for _, doc in rows}
    a, b, c, d = docs["a"], docs["b"], docs["c"], docs["d"]
    assert a["service.name"] == "frontend" and "resource.attributes.service.name" not in a  # the configured name
    assert (a["kind"], a["status.code"], a["duration"]) == ("Server", "Error", 100_000_000)  # Elastic's OTel values
    assert "parent_span_id" not in a and "inquest.parent.service" not in a  # NULL is left out
    assert (b["inquest.parent.service"], b["inquest.parent.duration_ms"]) == ("frontend", 100.0)
    assert a["inquest.children.first_failed_start"] == b["@timestamp"]  # a failed child: not an origin
    assert "inquest.children.first_failed_start" not in c  # failed, no failed child: where the error starts
    assert "inquest.children.first_start" not in d  # a call nobody answered with spans of their own
    assert math.isclose(a["inquest.self_ms"], 40.0) and math.isclose(c["inquest.self_ms"], 20.0)
    assert a["inquest.duration_bucket"] == bucket_of(100.0)


def test_templates_follow_the_configured_names_and_write_indices():
    spans = {"write_index": "traces-shop.otel-prod", "fields": {"service": "service.name"}}
    settings = ElasticsearchBackend(spans=spans, data_streams=False)
    template = template_for("spans", settings)
    assert template["index_patterns"] == ["traces-shop.otel-prod"] and "data_stream" not in template
    properties = template["template"]["mappings"]["properties"]
    assert properties["service.name"] == {"type": "keyword"} and "resource.attributes.service.name" not in properties
    assert set(ES_FIELDS["spans"]) - {"service"} <= {n for n, d in ES_FIELDS["spans"].items() if d in properties}


# -- HTTP, checked by a stand-in --------------------------------------------------------------------

class StandIn:
    """An HTTP server on 127.0.0.1 that answers with `respond(handler)` and keeps every request."""

    def __init__(self, respond, tls=None) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": json.loads(body) if body else None})
                status, payload, headers = respond(outer.requests[-1])
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


ELASTIC = {"x-elastic-product": "Elasticsearch"}


def _mapping(request: dict) -> tuple[int, dict, dict]:
    """GET /{index}/_mapping/field/{fields}: every field asked for, mapped as a keyword."""
    index, fields = request["path"].split("/_mapping/field/")
    fields = unquote(fields.split("?")[0]).split(",")
    return 200, {index.strip("/"): {"mappings": {f: {"full_name": f, "mapping": {}} for f in fields}}}, ELASTIC


def _entry_services_answer() -> dict:
    return {"took": 1, "timed_out": False, "hits": {"total": {"value": 12, "relation": "eq"}, "hits": []},
            "aggregations": {"by_service": {"buckets": [{"key": "frontend", "doc_count": 12}]}}}


@pytest.fixture
def stand_in():
    servers = []

    def start(respond, tls=None) -> StandIn:
        servers.append(StandIn(respond, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_the_api_key_from_the_environment_is_sent_and_a_refusal_names_the_host(stand_in, monkeypatch, tmp_path):
    monkeypatch.setenv("ES_API_KEY", "c2VjcmV0LWtleQ==")

    def respond(request):
        if request["headers"].get("authorization") != "ApiKey c2VjcmV0LWtleQ==":
            return 500, {"error": "the stand-in expected the API key header"}, ELASTIC
        return 401, {"error": {"root_cause": [{"type": "security_exception", "reason": "unable to authenticate"}],
                               "type": "security_exception", "reason": "unable to authenticate"}, "status": 401}, {}

    server = stand_in(respond)
    config = parse_config(f"backend: {{elasticsearch: {{urls: ['{server.url}'], api_key: '${{ES_API_KEY}}', "
                          "max_retries: 0}}\n", "config.yaml", tmp_path)
    store = ElasticsearchStore(config.backend.elasticsearch, tmp_path)
    with pytest.raises(BackendError) as err:
        store.entry_services(WINDOW)
    assert f"Elasticsearch at {server.url} refused" in str(err.value) and "401" in str(err.value)
    assert "api_key" in str(err.value)
    first = server.requests[0]
    assert first["method"] == "GET" and first["path"].startswith("/traces-*.otel-*/_mapping/field/")


def test_overloaded_nodes_are_retried_with_backoff_and_the_search_is_the_documented_one(stand_in):
    searches = []

    def respond(request):
        if "/_mapping/field/" in request["path"]:
            return _mapping(request)
        assert request["method"] == "POST" and request["path"] == "/traces-*.otel-*/_search"
        assert request["headers"]["content-type"] == "application/vnd.elasticsearch+json; compatible-with=9"
        body = request["body"]
        assert body["size"] == 0 and body["query"]["bool"]["filter"][0]["range"]["@timestamp"] == \
            {"gte": "2026-11-03T13:55:00.000000Z", "lt": "2026-11-03T14:35:00.000000Z"}
        assert body["query"]["bool"]["filter"][1] == {"bool": {"must_not": [{"exists": {"field": "parent_span_id"}}]}}
        assert body["aggs"]["by_service"]["terms"]["field"] == "resource.attributes.service.name"
        searches.append(request)
        if len(searches) < 3:
            return 503, {"error": {"type": "unavailable_shards_exception", "reason": "busy"}, "status": 503}, ELASTIC
        return 200, _entry_services_answer(), ELASTIC

    server = stand_in(respond)
    store = ElasticsearchStore(ElasticsearchBackend(urls=(server.url,), max_retries=3, retry_backoff_s=0.01))
    table = store.entry_services(WINDOW)
    assert table.rows == (("frontend", 12),) and len(searches) == 3
    assert table.query.startswith('POST traces-*.otel-*/_search {"size":0,')


def test_opensearch_is_spoken_to_in_plain_json(stand_in):
    def respond(request):
        for header in ("accept", "content-type"):
            value = request["headers"].get(header)
            assert value is None or value == "application/json", (header, value)
        if "/_mapping/field/" in request["path"]:
            return 200, _mapping(request)[1], {}  # OpenSearch sends no Elastic product header
        return 200, _entry_services_answer(), {}

    server = stand_in(respond)
    store = ElasticsearchStore(ElasticsearchBackend(urls=(server.url,), flavor="opensearch"))
    assert store.entry_services(WINDOW).rows == (("frontend", 12),)


def test_tls_is_verified_against_the_configured_ca_file(stand_in, tmp_path):
    ssl = pytest.importorskip("ssl")
    x509 = pytest.importorskip("cryptography.x509")
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .sign(key, hashes.SHA256()))
    (tmp_path / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "ca.pem", tmp_path / "key.pem")
    server = stand_in(lambda r: _mapping(r) if "/_mapping/" in r["path"] else (200, _entry_services_answer(), ELASTIC),
                      tls=context)

    trusted = ElasticsearchStore(ElasticsearchBackend(urls=(server.url,), ca_file=Path("ca.pem"), max_retries=0),
                                 base_dir=tmp_path)
    assert trusted.entry_services(WINDOW).rows == (("frontend", 12),)
    untrusted = ElasticsearchStore(ElasticsearchBackend(urls=(server.url,), max_retries=0), base_dir=tmp_path)
    with pytest.raises(BackendError, match=f"cannot reach Elasticsearch at {server.url}.*(certificate|CERTIFICATE)"):
        untrusted.entry_services(WINDOW)


def test_an_unreachable_cluster_is_a_usage_error_naming_the_host(tmp_path: Path, capsys):
    from contract.es_server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "config.yaml"
    config.write_text(f"backend:\n  elasticsearch:\n    urls: ['{url}']\n    max_retries: 0\n")
    assert main(["INC-1042", "--backend", "elasticsearch", "--config", str(config), "--no-live"]) == 2
    assert f"cannot reach Elasticsearch at {url}" in capsys.readouterr().err


def test_metric_series_differences_a_running_total_across_buckets_in_the_cluster_answer(stand_in):
    def bucket(minute: int, top: float, mean: float, count: int = 2) -> dict:
        return {"key": f"2026-11-03T14:0{minute}:00.000Z", "doc_count": count, "mean": {"value": mean},
                "total": {"value": mean * count}, "max": {"value": top}}

    def series(name: str, buckets: list[dict], unit: str) -> dict:
        return {"key": name, "doc_count": 6, "unit": {"buckets": [{"key": unit, "doc_count": 6}]},
                "t": {"buckets": buckets}}

    def respond(request):
        if "/_mapping/field/" in request["path"]:
            return _mapping(request)
        aggs = request["body"]["aggs"]
        assert aggs["has_1"]["aggs"]["by_service"]["aggs"]["by_host"]["aggs"]["by_name"]["aggs"]["t"][
            "date_histogram"]["fixed_interval"] == "60s"
        names = [series("k8s.pod.network.io", [bucket(0, 1000, 900), bucket(1, 7000, 5000), bucket(2, 500, 400)],
                        "By"),
                 series("process.cpu.utilization", [bucket(0, 0.3, 0.25), bucket(1, 0.5, 0.45)], "1")]
        host = {"key": "cart-1", "doc_count": 12, "by_name": {"buckets": names}}
        return 200, {"took": 1, "timed_out": False, "hits": {"total": {"value": 12, "relation": "eq"}, "hits": []},
                     "aggregations": {"has_1": {"doc_count": 12, "by_service": {"buckets": [
                         {"key": "cart", "doc_count": 12, "by_host": {"buckets": [host]}}]}},
                         "has_0": {"doc_count": 0}}}, ELASTIC

    server = stand_in(respond)
    store = ElasticsearchStore(ElasticsearchBackend(urls=(server.url,)))
    rows = store.metric_series(WINDOW, ("k8s.pod.network.io", "process.cpu.utilization"),
                               ("k8s.pod.network.io",)).records()
    network = [(r["total"], r["temporality"], r["unit"]) for r in rows if r["name"] == "k8s.pod.network.io"]
    # first bucket has nothing to difference against; 1000 -> 7000 is 6000; 7000 -> 500 is a reset
    assert network == [(6000.0, "cumulative", "By"), (500.0, "cumulative", "By")]
    cpu = [(r["mean"], r["temporality"]) for r in rows if r["name"] == "process.cpu.utilization"]
    assert cpu == [(0.25, "gauge"), (0.45, "gauge")]
