"""The engine's own traces: the OpenTelemetry SDK, set up by the CLI and nowhere else.

Library code only uses `opentelemetry-api` (spans for the investigation, each agent, each backend
question, each model call); without an SDK those spans cost next to nothing. The CLI turns them into data:
- `--trace-out FILE` writes every span of the run to FILE as OTLP/JSON (the shape an OpenTelemetry
  Collector's file exporter writes: resourceSpans → scopeSpans → spans, ids in hex, times in ns);
- `OTEL_EXPORTER_OTLP_ENDPOINT` set: spans are exported over OTLP/HTTP (protobuf) to that endpoint,
  configured by the standard OTEL_EXPORTER_OTLP_* variables.

An SDK TracerProvider can be installed once per process, so one is installed on first use with a
routing span processor, and each run plugs its own exporters into the router and unplugs them when done.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from inquest import __version__


class _Router(SpanProcessor):
    """Hands spans to whichever processors the current run plugged in."""

    def __init__(self) -> None:
        self._processors: tuple[SpanProcessor, ...] = ()
        self._lock = threading.Lock()

    def plug(self, processors: Sequence[SpanProcessor]) -> None:
        with self._lock:
            self._processors = (*self._processors, *processors)

    def unplug(self, processors: Sequence[SpanProcessor]) -> None:
        with self._lock:
            self._processors = tuple(p for p in self._processors if p not in processors)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for processor in self._processors:
            processor._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self._processors)


_router = _Router()
_installed = False
_install_lock = threading.Lock()


def _install(environ: Mapping[str, str]) -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            # Whoever embeds Inquest set up an SDK already: feed ours into theirs rather than replace it.
            current.add_span_processor(_router)
        else:
            attributes = {"service.version": __version__}
            if not environ.get("OTEL_SERVICE_NAME"):
                attributes["service.name"] = "inquest"
            provider = TracerProvider(resource=Resource.create(attributes))
            provider.add_span_processor(_router)
            trace.set_tracer_provider(provider)
        _installed = True


# --- OTLP/JSON ---------------------------------------------------------------------------------------
# https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: ids are hex, 64-bit integers strings,
# enums integers. SpanKind in OTLP counts from SPAN_KIND_INTERNAL = 1; the API's enum counts from 0.


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in (attributes or {}).items()]


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None  # an ended SDK span always carries its context
    parent = span.parent
    return {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "parentSpanId": format(parent.span_id, "016x") if parent else "",
        "name": span.name,
        "kind": span.kind.value + 1,
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": _attributes(span.attributes),
        "events": [{"timeUnixNano": str(e.timestamp), "name": e.name, "attributes": _attributes(e.attributes)}
                   for e in span.events],
        "status": {"code": span.status.status_code.value, **({"message": span.status.description}
                                                              if span.status.description else {})},
    }


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """Spans grouped by resource and instrumentation scope, as OTLP/JSON."""
    resources: dict[int, tuple[Resource, dict[tuple[str, str], list[ReadableSpan]]]] = {}
    for span in spans:
        _, scopes = resources.setdefault(id(span.resource), (span.resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope else ("", "")
        scopes.setdefault(key, []).append(span)
    return {"resourceSpans": [
        {"resource": {"attributes": _attributes(resource.attributes)},
         "scopeSpans": [{"scope": {"name": name, "version": version}, "spans": [_span(s) for s in group]}
                        for (name, version), group in scopes.items()]}
        for resource, scopes in resources.values()
    ]}


class JsonFileExporter(SpanExporter):
    """Keeps the run's spans and writes them to one OTLP/JSON file when the run ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def write(self) -> int:
        with self._lock:
            spans = sorted(self._spans, key=lambda s: s.start_time or 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(otlp_json(spans), indent=1) + "\n", encoding="utf-8")
        return len(spans)

    def shutdown(self) -> None:
        pass


OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class TraceSession:
    """One CLI run's exporters: plugged in on enter, flushed (and the file written) on exit."""

    def __init__(self, trace_out: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.file = JsonFileExporter(Path(trace_out)) if trace_out else None
        self.otlp = any(self.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)
        self._processors: list[SpanProcessor] = []
        self.spans_written = 0

    @property
    def active(self) -> bool:
        return self.file is not None or self.otlp

    def __enter__(self) -> TraceSession:
        if not self.active:
            return self
        _install(self.environ)
        if self.file is not None:
            self._processors.append(SimpleSpanProcessor(self.file))
        if self.otlp:
            # Imported only here: the exporter and protobuf cost most of a second at start-up.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        _router.plug(self._processors)
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self._processors:
            return
        _router.unplug(self._processors)
        for processor in self._processors:
            processor.force_flush()
            processor.shutdown()
        if self.file is not None:
            self.spans_written = self.file.write()
