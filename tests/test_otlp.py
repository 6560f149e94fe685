"""The OTLP/JSON parser as a producer of store rows: what a collector's file becomes, and how each kind of
bad record is rejected by file, line and reason while the rest of the file still parses."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

import pytest

from inquest.ingest.ndjson import Record, Rejection
from inquest.ingest.otlp import SPAN_COLUMNS, iter_otlp_records
from inquest.tools.backends.embedded_schema import TABLES

TRACE = "5B8EFFF798038103D269B633813FC60C"
T0 = 1773310211000000000  # 2026-03-12 10:10:11 UTC, in nanoseconds


def kv(key, value):
    kind = {str: "stringValue", bool: "boolValue", int: "intValue", float: "doubleValue"}[type(value)]
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def resource(service="checkout", **extra):
    attrs = [kv("service.name", service), kv("host.name", "checkout-1")] + [kv(k, v) for k, v in extra.items()]
    return {"attributes": attrs}


def span(span_id="eee19b7ec3c1b174", parent=None, start=T0, end=T0 + 250_000_000, **fields):
    out = {"traceId": TRACE, "spanId": span_id, "name": "POST /checkout", "kind": 2,
           "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), "attributes": [], "status": {}}
    if parent:
        out["parentSpanId"] = parent
    out.update(fields)
    return out


def spans_doc(*spans, res=None):
    return {"resourceSpans": [{"resource": res or resource(), "scopeSpans": [{"scope": {"name": "t"},
                                                                                "spans": list(spans)}]}]}


def write(tmp_path, *documents, name="otlp.json"):
    path = tmp_path / name
    path.write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in documents))
    return path


def parse(path):
    items = list(iter_otlp_records(path))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Rejection)]


def as_dict(record: Record) -> dict:
    return dict(zip((name for name, _ in TABLES[record.table]), record.row, strict=True))


def test_rows_follow_the_store_schema_exactly():
    span_columns = [name for name, _ in TABLES["spans"]]
    assert span_columns[12:20] == list(SPAN_COLUMNS)


def test_a_span_becomes_a_row_with_otel_columns_and_the_rest_in_attributes(tmp_path):
    server = span(attributes=[kv("http.request.method", "POST"), kv("http.route", "/checkout"),
                              kv("http.response.status_code", 504), kv("enduser.id", "u-1"), kv("tenant.id", "t-9"),
                              kv("feature.express", True)],
                  status={"code": 2, "message": "payment timed out"})
    query = span("eee19b7ec3c1b175", parent="EEE19B7EC3C1B174", kind="SPAN_KIND_CLIENT",
                 start=T0 + 10_000_000, end=T0 + 60_000_000,
                 attributes=[kv("db.system", "postgresql"), kv("db.query.text", "SELECT 1"), kv("peer.service", "db")])
    records, rejected = parse(write(tmp_path, spans_doc(server, query, res=resource(**{"k8s.namespace.name": "shop"}))))
    assert rejected == []
    root, child = (as_dict(r) for r in records)
    assert root["trace_id"] == TRACE.lower() and root["parent_span_id"] is None
    assert (root["service.name"], root["host.name"], root["kind"]) == ("checkout", "checkout-1", "SERVER")
    assert root["start_time"] == datetime(2026, 3, 12, 10, 10, 11) and root["duration_ms"] == 250.0
    assert (root["status_code"], root["status_message"]) == ("ERROR", "payment timed out")
    assert (root["http.request.method"], root["http.route"], root["http.response.status_code"]) == \
        ("POST", "/checkout", 504)
    assert (root["enduser.id"], root["tenant.id"]) == ("u-1", "t-9")
    assert root["attributes"] == {"feature.express": True, "k8s.namespace.name": "shop"}
    assert child["parent_span_id"] == "eee19b7ec3c1b174" and child["kind"] == "CLIENT"
    assert (child["db.system"], child["db.statement"], child["peer.service"]) == ("postgresql", "SELECT 1", "db")
    assert child["status_code"] == "UNSET"


def test_older_semantic_convention_names_fill_the_same_columns(tmp_path):
    old = span(attributes=[kv("http.method", "GET"), kv("http.status_code", "200"), kv("db.system", "mysql")])
    records, _ = parse(write(tmp_path, spans_doc(old)))
    row = as_dict(records[0])
    assert (row["http.request.method"], row["http.response.status_code"], row["db.system"]) == ("GET", 200, "mysql")
    assert row["attributes"] == {}


def test_logs_and_metrics_from_the_same_file(tmp_path):
    logs = {"resourceLogs": [{"resource": resource("payments"), "scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(T0), "severityNumber": 17, "body": {"stringValue": "charge failed"},
         "traceId": TRACE, "spanId": "eee19b7ec3c1b174", "attributes": [kv("order.id", "o-1")]},
        {"observedTimeUnixNano": str(T0), "severityText": "warning", "body": {"kvlistValue": {"values": [
            kv("event", "retry")]}}},
    ]}]}]}
    point = {"timeUnixNano": str(T0), "attributes": [kv("http.route", "/charges")]}
    metrics = {"resourceMetrics": [{"resource": resource("payments"), "scopeMetrics": [{"metrics": [
        {"name": "process.cpu.utilization", "unit": "1", "gauge": {"dataPoints": [{**point, "asDouble": 0.25}]}},
        {"name": "requests", "sum": {"dataPoints": [{**point, "asInt": "42"}], "isMonotonic": True}},
        {"name": "http.server.request.duration", "unit": "ms", "histogram": {"dataPoints": [
            {**point, "count": "4", "sum": 100.0, "bucketCounts": ["4"], "explicitBounds": []}]}},
        {"name": "gap", "gauge": {"dataPoints": [{**point, "flags": 1}]}},
    ]}]}]}
    records, rejected = parse(write(tmp_path, logs, metrics))
    assert rejected == []
    error, warning = (as_dict(r) for r in records if r.table == "logs")
    assert (error["severity_text"], error["severity_number"], error["body"]) == ("ERROR", 17, "charge failed")
    assert error["span_id"] == "eee19b7ec3c1b174" and error["attributes"] == {"order.id": "o-1"}
    assert (warning["severity_number"], warning["trace_id"]) == (13, None)
    assert json.loads(warning["body"]) == {"event": "retry"}
    values = {r.row[3]: (r.row[4], r.row[5]) for r in records if r.table == "metrics"}
    assert values == {"process.cpu.utilization": (0.25, "1"), "requests": (42.0, None),
                      "http.server.request.duration.sum": (100.0, "ms"),
                      "http.server.request.duration.count": (4.0, "1"), "http.server.request.duration.bucket": (4.0, "1")}


def test_base64_ids_are_converted_and_gzip_is_read_by_its_magic_bytes(tmp_path):
    path = tmp_path / "traces.jsonl.gz"
    with gzip.open(path, "wt") as out:
        out.write(json.dumps(spans_doc(span(spanId="7uGbfsPBsXQ=", traceId="W47/95gDgQPSabYzgT/GDA=="))) + "\n")
    records, rejected = parse(path)
    assert rejected == [] and records[0].row[:2] == (TRACE.lower(), "eee19b7ec3c1b174")


def test_a_pretty_printed_request_is_one_document(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(spans_doc(span(), span("eee19b7ec3c1b175")), indent=2))
    records, rejected = parse(path)
    assert len(records) == 2 and rejected == []


@pytest.mark.parametrize("bad, reason", [
    (span(traceId=None), "spans[1].traceId is missing"),
    (span(spanId=""), "spans[1].spanId is empty"),
    (span(traceId="xyz"), "traceId must be 32 hex digits, got 'xyz'"),
    (span(traceId="0" * 32), "traceId is all zeros"),
    (span(startTimeUnixNano="yesterday"), "startTimeUnixNano must be an integer, got 'yesterday'"),
    (span(start=T0, end=T0 - 1), "ends (2026-03-12T10:10:10.999999) before it starts"),
    (span(kind="SPAN_KIND_SIDEWAYS"), "kind: unknown value 'SPAN_KIND_SIDEWAYS'"),
    (span(kind=9), "kind: unknown value 9"),
    (span(attributes=[kv("http.response.status_code", "teapot")]),
     "attributes[http.response.status_code] must be an integer, got 'teapot'"),
    (span(attributes=[{"key": "x", "value": {"intValue": "1.5e3x"}}]), "must be an integer"),
    (span(attributes="method=POST"), "attributes must be a list, got a string"),
    (span(name=None), "a span needs a name"),
    ("not a span", "spans[1] must be an object, got a string"),
])
def test_a_bad_span_is_rejected_alone_naming_where_and_why(tmp_path, bad, reason):
    good = span("eee19b7ec3c1b176")
    records, rejected = parse(write(tmp_path, spans_doc(good, bad, span("eee19b7ec3c1b177"))))
    assert [r.row[1] for r in records] == ["eee19b7ec3c1b176", "eee19b7ec3c1b177"]
    assert len(rejected) == 1 and rejected[0].line == 1 and reason in rejected[0].reason, rejected[0].reason


def test_unknown_fields_are_ignored_as_the_otlp_specification_requires(tmp_path):
    future = span(attributes=[kv("a", 1)], somethingNew={"x": 1})
    document = {**spans_doc(future), "partialSuccessHint": True}
    document["resourceSpans"][0]["entityRefs"] = []
    records, rejected = parse(write(tmp_path, document))
    assert len(records) == 1 and rejected == []


def test_bad_lines_are_rejected_with_their_number_and_the_others_load(tmp_path):
    truncated = json.dumps(spans_doc(span("eee19b7ec3c1b178")))[:-25]
    path = write(tmp_path, spans_doc(span()), truncated, "[1, 2]", {"resourceSpans": "none"},
                 {"traces": []}, spans_doc(span("eee19b7ec3c1b179")))
    records, rejected = parse(path)
    assert [r.row[1] for r in records] == ["eee19b7ec3c1b174", "eee19b7ec3c1b179"]
    assert [(r.line, r.file) for r in rejected] == [(n, str(path)) for n in (2, 3, 4, 5)]
    assert rejected[0].reason.startswith("truncated JSON")
    assert "is an object, got a list" in rejected[1].reason
    assert "resourceSpans must be a list, got a string" in rejected[2].reason
    assert "not an OTLP/JSON export request" in rejected[3].reason and "traces" in rejected[3].reason


def test_a_metric_with_a_bad_point_is_rejected_whole(tmp_path):
    metric = {"name": "cpu", "gauge": {"dataPoints": [{"timeUnixNano": str(T0), "asDouble": 0.5},
                                                      {"timeUnixNano": str(T0), "asDouble": "NaN"}]}}
    document = {"resourceMetrics": [{"resource": resource(), "scopeMetrics": [{"metrics": [metric]}]}]}
    records, rejected = parse(write(tmp_path, document))
    assert records == [] and "asDouble must be a finite number" in rejected[0].reason
