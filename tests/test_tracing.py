"""The engine's own traces: `--trace-out` and OTLP export, as a user of `investigate` gets them.

Each run is a separate `investigate` process, as in real use: the OpenTelemetry SDK can be installed
once per process, and a test process must not keep one around for the tests that follow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import write_config

INVESTIGATE = f"{sys.prefix}/bin/investigate"


def _spans(document: dict) -> list[dict]:
    return [span for resource in document["resourceSpans"] for scope in resource["scopeSpans"] for span in scope["spans"]]


def _attributes(span: dict) -> dict:
    def plain(value: dict):
        (kind, raw), = value.items()
        if kind == "intValue":
            return int(raw)
        if kind == "arrayValue":
            return [plain(v) for v in raw.get("values", [])]
        return raw
    return {a["key"]: plain(a["value"]) for a in span["attributes"]}


@pytest.fixture(scope="module")
def traced_run(demo_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("traced")
    trace_file = folder / "spans.json"
    done = subprocess.run([INVESTIGATE, "INC-1042", "--format", "json", "--trace-out", str(trace_file),
                           "--config", write_config(demo_world, folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return _spans(json.loads(trace_file.read_text())), json.loads(done.stdout)


def test_trace_out_holds_one_investigation_with_a_span_per_agent(traced_run):
    spans, report = traced_run
    [root] = [s for s in spans if s["name"] == "investigation"]
    assert root["parentSpanId"] == "" and _attributes(root)["inquest.incident.id"] == "INC-1042"
    agents = {s["name"].removeprefix("agent "): s for s in spans if s["name"].startswith("agent ")}
    assert set(agents) == set(report["agents"])
    assert all(s["parentSpanId"] == root["spanId"] for s in agents.values())
    assert {s["traceId"] for s in spans} == {report["timing"]["trace_id"]}  # the report names its trace


def test_the_agents_spans_overlap_in_time(traced_run):
    spans, _ = traced_run
    agents = [(int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]), s["name"]) for s in spans
              if s["name"].startswith("agent ")]
    # The most agents running at one instant: a sweep over starts (+1) and ends (-1).
    events = sorted([(start, 1) for start, _, _ in agents] + [(end, -1) for _, end, _ in agents])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak >= 3, f"at most {peak} agents ran at once: {agents}"
    for start, end, name in agents:
        assert any(s < end and start < e for s, e, other in agents if other != name), f"{name} ran alone"


def test_each_backend_question_is_a_span_under_the_agent_that_asked(traced_run):
    spans, report = traced_run
    by_id = {s["spanId"]: s for s in spans}
    questions = [s for s in spans if s["name"].startswith("backend ")]
    askers = {by_id[q["parentSpanId"]]["name"] for q in questions}
    assert {"investigation", "agent trace", "agent db", "agent impact"} <= askers  # triage asks under the root
    assert askers <= {"investigation"} | {f"agent {a}" for a in report["agents"]}
    for question in questions:
        attributes = _attributes(question)
        assert question["kind"] == 3  # SPAN_KIND_CLIENT
        assert attributes["inquest.backend.question"] == question["name"].removeprefix("backend ")
        assert attributes["db.system.name"] == "embedded"
    timelines = [_attributes(q) for q in questions if q["name"] == "backend entry_timeline"]
    assert timelines and all(t["db.query.text"].lstrip().upper().startswith(("SELECT", "WITH")) for t in timelines)
    assert all(isinstance(t["db.response.returned_rows"], int) for t in timelines)
    assert {t["inquest.question.window.start"] for t in timelines} >= {"2026-11-03T13:55:00+00:00"}


def test_spans_are_exported_over_otlp_http_when_the_endpoint_is_set(demo_world, tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
        done = subprocess.run([INVESTIGATE, "INC-1042", "--format", "json", "--config", write_config(demo_world, tmp_path)],
                              capture_output=True, text=True, timeout=300, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert received and {(path, kind) for path, kind, _ in received} == {("/v1/traces", "application/x-protobuf")}
    names, services = [], set()
    for _, _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            names += [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert services == {"inquest"} and "investigation" in names and "agent db" in names
    trace_ids = {s.trace_id.hex() for _, _, body in received for r in ExportTraceServiceRequest.FromString(body).resource_spans
                 for scope in r.scope_spans for s in scope.spans}
    assert trace_ids == {json.loads(done.stdout)["timing"]["trace_id"]}


MODEL_CALL = """
import sys
from opentelemetry import trace
from inquest.tracing import TraceSession

with TraceSession(sys.argv[1], environ={}):
    tracer = trace.get_tracer("inquest.agents.llm")
    with tracer.start_as_current_span("agent db"):
        with tracer.start_as_current_span("chat claude-sonnet-4-5", kind=trace.SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 340, "gen_ai.response.finish_reasons": ["end_turn"]}):
            pass
"""


def test_model_call_spans_keep_their_gen_ai_attributes_typed(tmp_path):
    """Whatever makes model calls (the LLM mode) traces them with the API alone; the exporter must keep the
    GenAI semantic-convention attributes with their types: token counts as integers, reasons as a list."""
    out = tmp_path / "spans.json"
    subprocess.run([sys.executable, "-c", MODEL_CALL, str(out)], check=True, timeout=120)
    spans = {s["name"]: s for s in _spans(json.loads(out.read_text()))}
    call = spans["chat claude-sonnet-4-5"]
    assert call["parentSpanId"] == spans["agent db"]["spanId"] and call["kind"] == 3
    attributes = {a["key"]: a["value"] for a in call["attributes"]}
    assert attributes["gen_ai.usage.input_tokens"] == {"intValue": "1200"}
    assert attributes["gen_ai.usage.output_tokens"] == {"intValue": "340"}
    assert attributes["gen_ai.response.finish_reasons"] == {"arrayValue": {"values": [{"stringValue": "end_turn"}]}}
    assert attributes["gen_ai.request.model"] == {"stringValue": "claude-sonnet-4-5"}
