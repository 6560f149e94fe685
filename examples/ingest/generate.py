"""Writes the example files in this folder: a small shop's checkout flow on 2026-03-12, 09:20-10:55 UTC.

At 10:24 payments v4.2.0 ships migration 0042, which rebuilds the charges table's indexes and leaves
out the one on idempotency_key. The idempotency lookup every charge runs goes from ~3 ms to over a
second; checkout gives up on payments after 2 s, so about a fifth of checkouts fail with 504 from
10:25 on. Around it: a checkout feature flag (10:12), a catalog config change (10:05) and a checkout
deploy after the symptom began (10:38), none of which is the cause.

    python examples/ingest/generate.py                   # rewrite the examples (deterministic)
    python examples/ingest/generate.py --big 1000000 F   # F: about a million spans of the same
                                                         # shape, gzip'd, for measuring ingest memory

Standard library only: the files are plain OTLP/JSON as the OpenTelemetry Collector's file exporter
writes it, one export request per line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

HERE = Path(__file__).resolve().parent
DAY = datetime(2026, 3, 12, tzinfo=UTC)
START, SPLIT, END = DAY.replace(hour=9, minute=20), DAY.replace(hour=10, minute=40), DAY.replace(hour=10, minute=55)
DEPLOYED = DAY.replace(hour=10, minute=24)
SLOW_FROM = DEPLOYED + timedelta(seconds=40)  # the migration finishes; the index is gone
PER_MINUTE = 3
CLIENT_TIMEOUT_MS = 2000.0
METRIC_INTERVAL_MIN = 3
LOOKUP = "SELECT id, status, amount_cents FROM charges WHERE idempotency_key = $1"
INSERT = "INSERT INTO charges (id, order_id, amount_cents, card_fingerprint, status) VALUES ($1, $2, $3, $4, $5)"
HOSTS = {"checkout": ("checkout-7d9f6c-2xkqp", "checkout-7d9f6c-h8s4m"), "payments": ("payments-5b8c4d-9tzvw",)}
VERSIONS = {"checkout": "3.9.0", "payments": "4.1.3"}


def nanos(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000) * 1000)


def attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def resource(service: str, host: str, version: str) -> dict:
    return {"attributes": [attr("service.name", service), attr("service.version", version), attr("host.name", host),
                           attr("deployment.environment.name", "production")]}


class Flow:
    """Checkout requests, each one trace: checkout SERVER -> CLIENT -> payments SERVER -> two queries."""

    def __init__(self, seed: int) -> None:
        self.rng = Random(seed)
        self.spans: dict[tuple[str, str], list[dict]] = {}  # (service, host) -> spans
        self.logs: dict[tuple[str, str], list[dict]] = {}
        self.durations: dict[tuple[str, datetime], list[float]] = {}  # (service, minute) -> SERVER ms

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def span(self, service: str, host: str, trace: str, parent: str | None, name: str, kind: int, start: datetime,
             ms: float, attrs: list[dict], error: str | None = None) -> str:
        span_id = self.hex(64)
        span = {"traceId": trace, "spanId": span_id, "name": name, "kind": kind, "startTimeUnixNano": nanos(start),
                "endTimeUnixNano": nanos(start + timedelta(milliseconds=ms)), "attributes": attrs,
                "status": {"code": 2, "message": error} if error else {}}
        if parent:
            span["parentSpanId"] = parent
        self.spans.setdefault((service, host), []).append(span)
        if kind == 2:
            self.durations.setdefault((service, start.replace(second=0, microsecond=0)), []).append(ms)
        return span_id

    def log(self, service: str, host: str, at: datetime, severity: int, text: str, body: str,
            trace: str | None = None, span: str | None = None, attrs: list[dict] | None = None) -> None:
        record = {"timeUnixNano": nanos(at), "severityNumber": severity, "severityText": text,
                  "body": {"stringValue": body}, "attributes": attrs or []}
        if trace:
            record.update(traceId=trace, spanId=span)
        self.logs.setdefault((service, host), []).append(record)

    def request(self, at: datetime) -> None:
        rng = self.rng
        trace = self.hex(128)
        user, tenant = f"u-{rng.randrange(10_000, 99_999)}", f"t-{rng.randrange(1, 40):03d}"
        checkout_host, payments_host = rng.choice(HOSTS["checkout"]), HOSTS["payments"][0]
        slow = at >= SLOW_FROM
        lookup_ms = rng.lognormvariate(math.log(1500), 0.4) if slow else rng.uniform(1.8, 4.5)
        insert_ms = rng.uniform(2.5, 6.0)
        own_payments, wire, own_checkout = rng.uniform(18, 35), rng.uniform(1.5, 4.0), rng.uniform(25, 55)
        payments_ms = lookup_ms + insert_ms + own_payments
        timed_out = payments_ms + wire > CLIENT_TIMEOUT_MS
        client_ms = CLIENT_TIMEOUT_MS if timed_out else payments_ms + wire
        server_ms = client_ms + own_checkout
        root = self.span("checkout", checkout_host, trace, None, "POST /checkout", 2, at, server_ms,
                         [attr("http.request.method", "POST"), attr("http.route", "/checkout"),
                          attr("http.response.status_code", 504 if timed_out else 200), attr("enduser.id", user),
                          attr("tenant.id", tenant)], "payment timed out" if timed_out else None)
        client_at = at + timedelta(milliseconds=own_checkout * 0.6)
        client = self.span("checkout", checkout_host, trace, root, "POST", 3, client_at, client_ms,
                           [attr("http.request.method", "POST"), attr("peer.service", "payments"),
                            attr("server.address", "payments.shop.svc")] +
                           ([] if timed_out else [attr("http.response.status_code", 200)]),
                           "context deadline exceeded" if timed_out else None)
        server_at = client_at + timedelta(milliseconds=wire / 2)
        server = self.span("payments", payments_host, trace, client, "POST /charges", 2, server_at, payments_ms,
                           [attr("http.request.method", "POST"), attr("http.route", "/charges"),
                            attr("http.response.status_code", 201), attr("tenant.id", tenant)])
        lookup_at = server_at + timedelta(milliseconds=own_payments * 0.3)
        lookup = self.span("payments", payments_host, trace, server, "SELECT charges", 3, lookup_at, lookup_ms,
                           [attr("db.system", "postgresql"), attr("db.statement", LOOKUP),
                            attr("peer.service", "payments-db")])
        self.span("payments", payments_host, trace, server, "INSERT charges", 3,
                  lookup_at + timedelta(milliseconds=lookup_ms + own_payments * 0.2), insert_ms,
                  [attr("db.system", "postgresql"), attr("db.statement", INSERT), attr("peer.service", "payments-db")])
        if lookup_ms > 1000:
            self.log("payments", payments_host, lookup_at + timedelta(milliseconds=lookup_ms), 13, "WARN",
                     f"slow query on charges: {lookup_ms:.0f} ms (idempotency lookup)", trace, lookup)
        if timed_out:
            self.log("checkout", checkout_host, client_at + timedelta(milliseconds=client_ms), 17, "ERROR",
                     f"payment request for order o-{rng.randrange(100_000, 999_999)} timed out after "
                     f"{CLIENT_TIMEOUT_MS:.0f} ms", trace, client)


def simulate(seed: int = 2001) -> Flow:
    flow = Flow(seed)
    minute = START
    while minute < END:
        for _ in range(PER_MINUTE):
            flow.request(minute + timedelta(seconds=flow.rng.uniform(0, 59.9)))
        minute += timedelta(minutes=1)
    host = HOSTS["payments"][0]
    flow.log("payments", host, DEPLOYED + timedelta(seconds=4), 9, "INFO", "starting payments v4.2.0")
    flow.log("payments", host, DEPLOYED + timedelta(seconds=9), 9, "INFO",
             "migration 0042_rebuild_charges_indexes: dropping and recreating indexes on charges")
    flow.log("payments", host, SLOW_FROM, 9, "INFO", "migration 0042_rebuild_charges_indexes done in 31.2 s")
    return flow


def export_requests(items: dict[tuple[str, str], list[dict]], signal: str, lo: datetime, hi: datetime,
                    version_at) -> Iterator[dict]:
    """One export request per minute, as a collector's batch processor would cut them."""
    key, scope_key, items_key, time_key = {
        "spans": ("resourceSpans", "scopeSpans", "spans", "startTimeUnixNano"),
        "logs": ("resourceLogs", "scopeLogs", "logRecords", "timeUnixNano")}[signal]
    minute = lo
    while minute < hi:
        upper = minute + timedelta(minutes=1)
        resources = []
        for (service, host), records in sorted(items.items()):
            batch = [r for r in records if nanos(minute) <= r[time_key].rjust(19) < nanos(upper)]
            if batch:
                batch.sort(key=lambda r: r[time_key])
                resources.append({"resource": resource(service, host, version_at(service, minute)),
                                  scope_key: [{"scope": {"name": f"shop.{service}", "version": "1.0.0"},
                                               items_key: batch}]})
        if resources:
            yield {key: resources}
        minute = upper


def metric_requests(flow: Flow, seed: int) -> Iterator[dict]:
    """Every few minutes per service: CPU, and request duration as a histogram of the SERVER spans."""
    rng = Random(seed)
    minute = START
    while minute < END:
        resources = []
        for service, hosts in sorted(HOSTS.items()):
            durations = [d for m in range(METRIC_INTERVAL_MIN)
                         for d in flow.durations.get((service, minute + timedelta(minutes=m)), [])]
            at = nanos(minute + timedelta(minutes=METRIC_INTERVAL_MIN))
            busy = service == "payments" and minute + timedelta(minutes=METRIC_INTERVAL_MIN) > SLOW_FROM
            metrics = [
                {"name": "process.cpu.utilization", "unit": "1", "gauge": {"dataPoints": [
                    {"timeUnixNano": at, "asDouble": round(rng.uniform(0.08, 0.14) + (0.05 if busy else 0), 4)}]}},
                {"name": "http.server.request.duration", "unit": "ms", "histogram": {
                    "aggregationTemporality": 1, "dataPoints": [{
                        "startTimeUnixNano": nanos(minute), "timeUnixNano": at, "count": str(len(durations)),
                        "sum": round(sum(durations), 3), "bucketCounts": _buckets(durations),
                        "explicitBounds": [50, 100, 250, 500, 1000, 2500]}]}},
            ]
            if service == "payments":
                metrics.append({"name": "db.client.connection.count", "unit": "{connection}", "gauge": {"dataPoints": [
                    {"timeUnixNano": at, "asInt": str(2 + (rng.randrange(1, 3) if busy else 0)),
                     "attributes": [attr("db.client.connection.state", "used"),
                                    attr("db.client.connection.pool.name", "payments-db")]}]}})
            resources.append({"resource": resource(service, hosts[0], version_at(service, minute)),
                              "scopeMetrics": [{"scope": {"name": f"shop.{service}"}, "metrics": metrics}]})
        yield {"resourceMetrics": resources}
        minute += timedelta(minutes=METRIC_INTERVAL_MIN)


def _buckets(values: list[float]) -> list[str]:
    bounds = [50, 100, 250, 500, 1000, 2500]
    counts = [0] * (len(bounds) + 1)
    for v in values:
        counts[next((i for i, b in enumerate(bounds) if v <= b), len(bounds))] += 1
    return [str(c) for c in counts]


def version_at(service: str, at: datetime) -> str:
    if service == "payments" and at >= DEPLOYED:
        return "4.2.0"
    if service == "checkout" and at >= DAY.replace(hour=10, minute=38):
        return "3.9.1"
    return VERSIONS[service]


CHANGES = [
    {"time": "2026-03-11T16:02:00Z", "service": "payments", "kind": "deploy", "version": "4.1.3",
     "commit": "51d0a3e9c2b84f67a1e05c3d9b2f8e4a6c7d1b02", "repository": "https://github.com/acme/payments",
     "author": "Priya Raman", "description": "deploy payments v4.1.3: retry card-network 503s once"},
    {"time": "2026-03-12T09:41:00Z", "service": "frontend", "kind": "deploy", "version": "7.3.0",
     "commit": "0b7e2d4c9a1f3e5b7d9c2a4e6f8b0d1c3e5a7b9d", "repository": "https://github.com/acme/frontend",
     "author": "Tom Becker", "description": "deploy frontend v7.3.0: new product gallery"},
    {"id": "cfg-catalog-2291", "time": "2026-03-12T10:05:00Z", "service": "catalog", "kind": "config",
     "author": "Keiko Sato", "description": "search.cache.ttl 60s -> 300s"},
    {"id": "flag-checkout-express-pay", "time": "2026-03-12T10:12:00Z", "service": "checkout",
     "kind": "feature_flag", "author": "Marcus Oyelaran",
     "description": "checkout.express-pay enabled for 5% of tenants"},
    {"time": "2026-03-12T10:24:00Z", "service": "payments", "kind": "deploy", "version": "4.2.0",
     "commit": "9c4e1f7a2b3d5e6f8a0b1c2d3e4f5a6b7c8d9e0f", "repository": "https://github.com/acme/payments",
     "author": "Lena Fischer",
     "description": "deploy payments v4.2.0: migration 0042 rebuilds the charges indexes"},
    {"time": "2026-03-12T10:38:00Z", "service": "checkout", "kind": "deploy", "version": "3.9.1",
     "commit": "e4a1c7b3d9f2e8a6c0b4d2f6e8a1c3b5d7f9e2a4", "repository": "https://github.com/acme/checkout",
     "author": "Sam Okafor", "description": "deploy checkout v3.9.1: clearer timeout message"},
]

INCIDENT_YAML = """\
# An incident declared by hand (or by your paging tool's export). Fields: docs/ingest.md.
id: INC-2001
title: "Checkout failing: payment requests time out"
service: checkout                 # where the symptom was seen, not necessarily the cause
started_at: 2026-03-12T10:31:00Z
window:                           # optional; default 15 min either side of started_at
  start: 2026-03-12T10:20:00Z
  end: 2026-03-12T10:50:00Z
symptoms:
  - checkout 5xx rate above 20% (SLO 0.1%)
  - "POST /checkout p95 above 2 s"
ticket: acme/shop#1207
"""

ALERT = {
    "version": "4",
    "groupKey": "{}/{severity=\"page\"}:{alertname=\"PaymentsLatencyHigh\"}",
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "inquest",
    "groupLabels": {"alertname": "PaymentsLatencyHigh"},
    "commonLabels": {"alertname": "PaymentsLatencyHigh", "service": "payments", "severity": "page"},
    "commonAnnotations": {"summary": "payments p95 latency above 1 s"},
    "externalURL": "http://alertmanager.shop.internal:9093",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "PaymentsLatencyHigh", "service": "payments", "severity": "page",
                   "namespace": "shop"},
        "annotations": {"summary": "payments p95 latency above 1 s",
                        "description": "POST /charges p95 is 1.9 s (threshold 1 s) for 3 minutes",
                        "runbook_url": "https://runbooks.shop.internal/payments/latency"},
        "startsAt": "2026-03-12T10:29:30.118Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.shop.internal:9090/graph?g0.expr=histogram_quantile",
        "fingerprint": "3f1c9a8e2b7d6054",
    }],
}


def _json_lines(documents) -> str:
    return "".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents)


def write_examples(folder: Path = HERE, seed: int = 2001) -> None:
    flow = simulate(seed)
    (folder / "traces.json").write_text(_json_lines(export_requests(flow.spans, "spans", SPLIT, END, version_at)))
    with gzip.GzipFile(folder / "traces-earlier.json.gz", "wb", mtime=0) as out:  # mtime=0: reproducible bytes
        out.write(_json_lines(export_requests(flow.spans, "spans", START, SPLIT, version_at)).encode())
    (folder / "logs.json").write_text(_json_lines(export_requests(flow.logs, "logs", START, END, version_at)))
    (folder / "metrics.json").write_text(_json_lines(metric_requests(flow, seed)))
    (folder / "changes.ndjson").write_text(_json_lines(CHANGES))
    (folder / "incident.yaml").write_text(INCIDENT_YAML)
    (folder / "alertmanager.json").write_text(json.dumps(ALERT, indent=2) + "\n")


def write_big(path: Path, spans: int, seed: int = 7) -> int:
    """About `spans` spans of the example's shape (five per request), gzip'd, one request a line."""
    flow = Flow(seed)
    written, at = 0, START
    with gzip.open(path, "wt", encoding="utf-8") as out:
        while written < spans:
            for _ in range(200):
                flow.request(at)
                at += timedelta(milliseconds=250)
            for document in export_requests(flow.spans, "spans", at - timedelta(minutes=2), at + timedelta(minutes=1),
                                            version_at):
                out.write(json.dumps(document, separators=(",", ":")) + "\n")
            written += sum(len(s) for s in flow.spans.values())
            flow.spans.clear()
            flow.logs.clear()
            flow.durations.clear()
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", nargs=2, metavar=("SPANS", "FILE"), help="write a large gzip'd OTLP file instead")
    opts = parser.parse_args()
    if opts.big:
        print(f"{write_big(Path(opts.big[1]), int(opts.big[0])):,} spans written to {opts.big[1]}")
    else:
        write_examples()
