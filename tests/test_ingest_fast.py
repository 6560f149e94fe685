"""DuckDB's reader (ingest/otlp_sql.py) takes the plain lines of an OTLP file and gives the rest back to otlp.py:
whatever path read a line, the store must hold the same rows and the same rejections by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from inquest.ingest import otlp_sql
from inquest.ingest.driver import ingest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ingest"
TRACE = "5b8efff798038103d269b633813fc60c"
T0 = 1773310211000000000


def kv(key, kind, value):
    return {"key": key, "value": {kind: value}}


def span(span_id, **fields):
    out = {"traceId": TRACE, "spanId": span_id, "name": "GET", "kind": 3, "startTimeUnixNano": str(T0),
           "endTimeUnixNano": str(T0 + 1_234_567), "attributes": [], "status": {}}
    out.update(fields)
    return out


def doc(*spans, res=None, separators=(",", ":")):
    resource = {"attributes": res if res is not None else [kv("service.name", "stringValue", "checkout"),
                                                           kv("k8s.pod.name", "stringValue", "checkout-1"),
                                                           kv("service.version", "intValue", 3)]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]},
                      separators=separators, ensure_ascii=False)


# One line per case: each either reads the same in SQL or goes back to otlp.py, which decides.
LINES = [
    doc(span("a000000000000001", traceId=TRACE.upper(), parentSpanId="",
             attributes=[kv("server.address", "stringValue", "Payments.shop.svc.cluster.local."),
                         kv("http.status_code", "intValue", "503"), kv("http.method", "stringValue", "GET"),
                         kv("retry", "boolValue", True), kv("note", "stringValue", 'say "hi"\n\u00e9 \\/ \u2028')]),
        span("a000000000000002", kind=2, status={"code": 2, "message": "boom"},
             attributes=[kv("http.request.method", "stringValue", "POST"), kv("http.method", "stringValue", "PUT"),
                         kv("http.response.status_code", "intValue", 200)])),
    doc(span("b000000000000001", attributes=[kv("url.full", "stringValue", "https://10.0.0.7:8443/pay")]),
        span("b000000000000002", kind=4, attributes=[kv("db.system", "stringValue", "redis")]),
        span("b000000000000003", attributes=[kv("rpc.service", "stringValue", " shop.Cart ")]),
        separators=(", ", ": ")),
    doc(span("c000000000000001", name=7)),  # a number where the name belongs: rejected
    doc(span("c000000000000002", spanId="wAAAAAAAAAM=")),  # base64, converted by otlp.py
    doc(span("c000000000000003", kind="SPAN_KIND_SERVER", attributes=[kv("ratio", "doubleValue", 0.25)])),
    doc(span("c000000000000004", attributes=[kv("k", "stringValue", "1"), kv("k", "stringValue", "2")])),
    doc(span("c000000000000005", endTimeUnixNano=str(T0 - 1))),  # ends before it starts: rejected
    doc(span("c000000000000006", kind=None)),  # null: rejected
    doc(span("0000000000000000")),  # all zeros: rejected
    doc(span("c000000000000007", attributes=[kv("http.status_code", "stringValue", "404")])),
    doc(span("c000000000000008", attributes=[kv("http.route", "intValue", 5)])),
    doc(span("c000000000000009", attributes=[kv("inquest.peer.inferred_from", "stringValue", "me")])),
    doc(span("c00000000000000a", status={"code": 1, "message": ""}),
        res=[kv("service.name", "stringValue", ""), kv("host.name", "intValue", 3)]),
    doc(span("c00000000000000b"), res=[kv("service.name", "stringValue", "svc"), kv("deploy", "stringValue", "a"),
                                       kv("deploy", "stringValue", "b")]),
    '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}], "x": 1, "x": 2}',  # duplicate key
    '{"resourceSpans": {}}',  # not a list: DuckDB's reader refuses the chunk, halved down to this line
    '{"resourceSpans": [], "resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "1", "body": {}}]}]}]}',
    doc(span("d000000000000001", attributes=[kv("emoji", "stringValue", "=")])).replace("=", "\\ud83d\\ude00"),
    doc(span("d000000000000002", status={"code": 1}), span("d000000000000003", parentSpanId="a000000000000002")),
    doc(span("d000000000000004", attributes=[kv("z", "stringValue", "x"), kv("a b", "stringValue", "y")])),
]


def stored(store: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(store), read_only=True) as con:
        return {table: con.execute(f"SELECT * EXCLUDE (attributes), attributes::VARCHAR FROM {table} "
                                   "ORDER BY ALL").fetchall() for table in ("spans", "logs", "metrics")}


@pytest.fixture
def counted(monkeypatch) -> list[tuple[int, list[int]]]:
    """What each read of DuckDB's returned (spans, lines given back), so a test knows which path read a line;
    a chunk's own read comes after those of its halves."""
    spans: list[tuple[int, list[int]]] = []
    read = otlp_sql.FastSpans.read

    def counting(self, lines):
        table, back = read(self, lines)
        spans.append((0 if table is None else table.num_rows, back))
        return table, back

    monkeypatch.setattr(otlp_sql.FastSpans, "read", counting)
    return spans


def test_lines_read_by_duckdb_store_what_otlp_py_stores(tmp_path, monkeypatch, counted):
    mixed = tmp_path / "mixed.json"
    examples = (EXAMPLES / "traces.json").read_text().splitlines()
    mixed.write_text("\ufeff" + "\r\n".join([*LINES, *examples]) + "\r\n")
    fast = ingest(tmp_path / "fast.duckdb", [mixed])
    spans, back = counted[-1]  # the file is one chunk
    assert spans > 200 and {1, 2}.isdisjoint(back) and {3, 4, 5, 6, 15, 16, 20}.issubset(back)
    monkeypatch.setattr(otlp_sql.FastSpans, "eligible", staticmethod(lambda text: False))
    slow = ingest(tmp_path / "slow.duckdb", [mixed])
    assert stored(tmp_path / "fast.duckdb") == stored(tmp_path / "slow.duckdb")
    assert fast.files[0].accepted == slow.files[0].accepted
    assert fast.files[0].rejections == slow.files[0].rejections
    assert [r.line for r in fast.files[0].rejections] == [3, 7, 8, 9, 15, 16]
