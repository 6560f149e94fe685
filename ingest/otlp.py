"""OpenTelemetry OTLP/JSON into rows of the store's spans, logs and metrics tables.

Reads what the OpenTelemetry Collector's file exporter writes: one `ExportTraceServiceRequest`,
`ExportLogsServiceRequest` or `ExportMetricsServiceRequest` per line (`resourceSpans`, `resourceLogs`,
`resourceMetrics`), optionally gzip-compressed. Each span, log record and metric data point becomes one
`Record` shaped exactly as `TABLES[...]`, or a `Rejection` naming the file, the line, where in the line
and why; one bad span does not cost the others on its line.

Follows the OTLP/JSON encoding: ids are hex (base64 ids, which some exporters wrongly send, are
converted), 64-bit integers may be strings or numbers, enums are integers (their names are accepted
too), and fields this parser does not know are ignored, as the specification requires of receivers.
Pure and independent of any store, so a loader for another backend (Elasticsearch) can reuse it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from inquest.ingest.ndjson import MAX_LINE_BYTES, Record, Rejection, iter_json_documents
from inquest.ingest.otlp_fields import (
    Malformed,
    any_value,
    as_enum,
    as_float,
    as_int,
    as_list,
    as_object,
    decode_attributes,
    hex_id,
    located,
    nanos_time,
    shown,
    span_ids,
    type_name,
    within,
)
from inquest.ingest.peers import INFERRED_FROM, edge_of, infer_peer

# OTLP enums by number and by name. An unspecified span kind is taken as INTERNAL, as the
# specification allows receivers to.
SPAN_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_SPAN_KIND_NAMES = {"UNSPECIFIED": "INTERNAL", **{v: v for v in SPAN_KINDS.values()}}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_STATUS_NAMES = {v: v for v in STATUS_CODES.values()}
SEVERITY_TEXT = ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
# SEVERITY_NUMBER_ERROR = 17, ERROR2 = 18, ... ERROR4 = 20; likewise for the other ranges.
_SEVERITY_NUMBERS = {"UNSPECIFIED": 0} | {f"{name}{step if step > 1 else ''}": floor + step - 1
                                          for floor, name in SEVERITY_TEXT for step in range(1, 5)}
_SEVERITY_BY_TEXT = {name: floor for floor, name in SEVERITY_TEXT} | {"WARNING": 13, "CRITICAL": 21,
                                                                  "INFORMATION": 9}  # .NET ILogger's names

# Span attributes that have their own column, with the older semantic-convention names still in use.
SPAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "http.request.method": ("http.request.method", "http.method"),
    "http.route": ("http.route",),
    "http.response.status_code": ("http.response.status_code", "http.status_code"),
    "peer.service": ("service.peer.name", "peer.service"),  # semconv 1.3x renamed it
    "db.system": ("db.system", "db.system.name"),
    "db.statement": ("db.statement", "db.query.text"),
    "enduser.id": ("enduser.id", "user.id"),
    "tenant.id": ("tenant.id",),
}
_STATUS_COLUMN = "http.response.status_code"  # the one column that holds a number
_ALIASES = {alias: column for column, aliases in SPAN_COLUMNS.items() for alias in aliases}
_ALIAS_ORDER = {alias: position for position, alias in enumerate(_ALIASES)}
# Where a resource's host comes from when it has no host.name (pods and processes name themselves).
HOST_ATTRIBUTES = ("host.name", "k8s.pod.name", "service.instance.id")
UNKNOWN_SERVICE = "unknown_service"  # what OpenTelemetry SDKs report when no service.name is set


def iter_otlp_records(path: Path | str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Record | Rejection]:
    """Records for the spans, logs and metrics tables from an OTLP/JSON file, or Rejections."""
    name = str(path)
    for item in iter_json_documents(path, max_line_bytes):
        if isinstance(item, Rejection):
            yield item
        else:
            yield from records_from_document(item[1], name, item[0])


def records_from_document(document: Any, file: str = "<document>", line: int = 1) -> Iterator[Record | Rejection]:
    """Records from one parsed OTLP/JSON export request (of traces, logs, metrics, or several)."""
    if not isinstance(document, dict):
        yield Rejection(file, line, f"an OTLP/JSON document is an object, got {type_name(document)}")
        return
    found = False
    for key, envelope in (("resourceSpans", _resource_spans), ("resourceLogs", _resource_logs),
                          ("resourceMetrics", _resource_metrics)):
        if key not in document:
            continue
        found = True
        try:
            resources = as_list(document[key], key)
        except Malformed as exc:
            yield Rejection(file, line, str(exc))
            continue
        for index, resource in enumerate(resources):
            for item in envelope(resource, f"{key}[{index}]"):
                yield Rejection(file, line, item) if isinstance(item, str) else item
    if not found:
        keys = ", ".join(sorted(map(str, document))[:5]) or "none"
        yield Rejection(file, line, "not an OTLP/JSON export request: no resourceSpans, resourceLogs or "
                                    f"resourceMetrics (keys: {keys})")


# -- envelopes: resource -> scope -> items. Each yields Records, or strings saying what was rejected ----------
# Error messages are built only when something is wrong: a record's location is prefixed to the
# message of whatever failed inside it, so the common case formats no strings at all.

# The items of one scope (spans, log records or metrics) and where they sit in the document.
_Group = tuple[list[Any], str]


def _scoped(resource: Any, where: str, scope_key: str, legacy_key: str, items_key: str
            ) -> tuple[tuple[str, str | None], dict[str, Any], list[_Group]]:
    """(resource columns, resource attributes, [(items, where)]) or raises Malformed."""
    resource = as_object(resource, where)
    res = as_object(resource.get("resource") or {}, f"{where}.resource")
    attributes = within(f"{where}.resource", decode_attributes, res.get("attributes"))
    service = attributes.pop("service.name", None)
    host = next((attributes[k] for k in HOST_ATTRIBUTES if attributes.get(k) not in (None, "")), None)
    attributes.pop("host.name", None)
    key = scope_key if scope_key in resource else legacy_key
    scopes = as_list(resource.get(key) or [], f"{where}.{key}")
    groups: list[_Group] = []
    for index, scope in enumerate(scopes):
        scope = as_object(scope, f"{where}.{key}[{index}]")
        groups.append((as_list(scope.get(items_key) or [], f"{where}.{key}[{index}].{items_key}"),
                       f"{where}.{key}[{index}].{items_key}"))
    resource_columns = (str(service) if service not in (None, "") else UNKNOWN_SERVICE,
                        None if host is None else str(host))
    return resource_columns, attributes, groups


def _resource_spans(resource: Any, where: str) -> Iterator[Record | str]:
    try:
        (service, host), res_attrs, groups = _scoped(resource, where, "scopeSpans", "instrumentationLibrarySpans",
                                                     "spans")
    except Malformed as exc:
        yield str(exc)
        return
    for spans, at in groups:
        for index, span in enumerate(spans):
            try:
                yield Record("spans", span_row(span, service, host, res_attrs))
            except Malformed as exc:
                yield located(f"{at}[{index}]", exc)


def _resource_logs(resource: Any, where: str) -> Iterator[Record | str]:
    try:
        (service, host), res_attrs, groups = _scoped(resource, where, "scopeLogs", "instrumentationLibraryLogs",
                                                     "logRecords")
    except Malformed as exc:
        yield str(exc)
        return
    for logs, at in groups:
        for index, log in enumerate(logs):
            try:
                yield Record("logs", log_row(log, service, host, res_attrs))
            except Malformed as exc:
                yield located(f"{at}[{index}]", exc)


def _resource_metrics(resource: Any, where: str) -> Iterator[Record | str]:
    try:
        (service, host), res_attrs, groups = _scoped(resource, where, "scopeMetrics", "instrumentationLibraryMetrics",
                                                     "metrics")
    except Malformed as exc:
        yield str(exc)
        return
    for metrics, at in groups:
        for index, metric in enumerate(metrics):
            try:
                rows = list(metric_rows(metric, service, host, res_attrs))  # whole, or rejected whole
            except Malformed as exc:
                yield located(f"{at}[{index}]", exc)
                continue
            yield from (Record("metrics", row) for row in rows)
            edges = {edge for edge in (edge_of(row[6]) for row in rows) if edge is not None}
            yield from (Record("dependencies", (*edge, f"metric {metric['name']}")) for edge in sorted(edges))


# -- one span, log record or metric; a Malformed message names the field within it ------------------------------

def span_row(span: Any, service: str, host: str | None, resource_attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    if type(span) is not dict:
        span = as_object(span, "")
    trace_id, span_id, parent = span_ids(span)
    name = span.get("name")
    if not isinstance(name, str) or not name:
        raise Malformed(f"name: a span needs a name (got {shown(name)})")
    start = nanos_time(span.get("startTimeUnixNano"), "startTimeUnixNano", required=True)
    end = nanos_time(span.get("endTimeUnixNano"), "endTimeUnixNano", required=True)
    if end < start:
        raise Malformed(f": ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    status = span.get("status") or {}
    if type(status) is not dict:
        status = as_object(status, "status")
    message = status.get("message")
    if message is not None and not isinstance(message, str):
        raise Malformed(f"status.message must be a string, got {type_name(message)}")
    attributes = decode_attributes(span.get("attributes"))
    columns = dict.fromkeys(SPAN_COLUMNS)
    # The current name sorts before an older one, so it wins when a span carries both.
    for alias in sorted(attributes.keys() & _ALIASES.keys(), key=_ALIAS_ORDER.__getitem__):
        value = attributes.pop(alias)
        column = _ALIASES[alias]
        if columns[column] is None and value is not None:
            columns[column] = value if type(value) is str and column != _STATUS_COLUMN else \
                within(f"attributes[{alias}]", _column_value, column, value)
    kind = as_enum(span.get("kind", 0), SPAN_KINDS, _SPAN_KIND_NAMES, "SPAN_KIND_", "kind")
    if columns["peer.service"] is None:
        inferred = infer_peer(kind, attributes, columns["db.system"])
        if inferred is not None:
            columns["peer.service"], attributes[INFERRED_FROM] = inferred
    return (trace_id, span_id, parent, service, host, name, kind, start, end, (end - start).total_seconds() * 1000.0,
            as_enum(status.get("code", 0), STATUS_CODES, _STATUS_NAMES, "STATUS_CODE_", "status.code"),
            message or None, *columns.values(), {**resource_attributes, **attributes})


def _column_value(column: str, value: Any) -> Any:
    if column == _STATUS_COLUMN:
        code = as_int(value, "")
        if not 0 <= code <= 999:
            raise Malformed(f" must be an HTTP status code, got {code}")
        return code
    if isinstance(value, (dict, list)):
        raise Malformed(f" must be a single value, got {type_name(value)}")
    return value if isinstance(value, str) else json.dumps(value)


def log_row(log: Any, service: str, host: str | None, resource_attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    log = as_object(log, "")
    at = nanos_time(log.get("timeUnixNano"), "timeUnixNano", required=False) or \
        nanos_time(log.get("observedTimeUnixNano"), "observedTimeUnixNano", required=False)
    if at is None:
        raise Malformed(": a log record needs timeUnixNano or observedTimeUnixNano")
    number = log.get("severityNumber", 0)
    if isinstance(number, str) and number.startswith("SEVERITY_NUMBER_"):
        if number.removeprefix("SEVERITY_NUMBER_") not in _SEVERITY_NUMBERS:
            raise Malformed(f"severityNumber: unknown severity {number!r}")
        number = _SEVERITY_NUMBERS[number.removeprefix("SEVERITY_NUMBER_")]
    number = as_int(number, "severityNumber")
    if not 0 <= number <= 24:
        raise Malformed(f"severityNumber must be within 0..24, got {number}")
    text = log.get("severityText")
    if text is not None and not isinstance(text, str):
        raise Malformed(f"severityText must be a string, got {type_name(text)}")
    if not number and text:
        number = _SEVERITY_BY_TEXT.get(text.upper(), 0)  # some loggers set only the text
    if not text and number:
        text = next(label for floor, label in SEVERITY_TEXT if number >= floor)
    body = within("body", any_value, log.get("body")) if log.get("body") is not None else None
    return (at, hex_id(log.get("traceId"), 16, "traceId", required=False),
            hex_id(log.get("spanId"), 8, "spanId", required=False), text or None, number or None,
            service, host, body if body is None or isinstance(body, str) else json.dumps(body),
            {**resource_attributes, **decode_attributes(log.get("attributes"))})


def metric_rows(metric: Any, service: str, host: str | None,
                resource_attributes: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Gauges and sums: one row per data point, as reported (a cumulative sum stays cumulative; a monotonic
    sum's points carry the attribute `inquest.temporality`: cumulative or delta). Histograms and summaries:
    `<name>.sum` (in the metric's unit) and `<name>.count` per data point, and for explicit-bucket histograms
    `<name>.bucket` per bucket (its count, attribute `le` = its upper bound, "+Inf" for the last), each
    tagged with the temporality so readers difference cumulative points before use (agents/metric_change.py).
    Summaries are cumulative by definition; their quantiles and exponential histograms' buckets are not kept."""
    metric = as_object(metric, "")
    name = metric.get("name")
    if not isinstance(name, str) or not name:
        raise Malformed(f"name: a metric needs a name (got {shown(name)})")
    unit = metric.get("unit") or None
    if unit is not None and not isinstance(unit, str):
        raise Malformed(f"unit must be a string, got {type_name(unit)}")
    kind = next((k for k in ("gauge", "sum", "histogram", "exponentialHistogram", "summary") if k in metric), None)
    if kind is None:
        raise Malformed(f" ({name}): no gauge, sum, histogram, exponentialHistogram or summary data")
    data = as_object(metric[kind], kind)
    temporality = _temporality(data, kind)
    attributes = dict(resource_attributes, **({"inquest.temporality": temporality} if temporality else {}))
    for index, point in enumerate(as_list(data.get("dataPoints") or [], f"{kind}.dataPoints")):
        yield from within(f"{kind}.dataPoints[{index}]", _point_rows, point, kind, name, unit, service, host,
                           attributes)


def _temporality(data: Mapping[str, Any], kind: str) -> str | None:
    """cumulative or delta for what counts (monotonic sums, histograms, summaries); None for levels."""
    if kind == "gauge" or (kind == "sum" and not data.get("isMonotonic")):
        return None  # a gauge or an up-down counter: its value is the level itself
    if kind == "summary":
        return "cumulative"
    value = data.get("aggregationTemporality")
    return "delta" if value in (1, "1", "AGGREGATION_TEMPORALITY_DELTA") else "cumulative"


def _point_rows(point: Any, kind: str, name: str, unit: str | None, service: str, host: str | None,
                resource_attributes: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    point = as_object(point, "")
    if as_int(point.get("flags", 0), "flags") & 1:
        return []  # FLAG_NO_RECORDED_VALUE: the point marks a gap, not a value
    at = nanos_time(point.get("timeUnixNano"), "timeUnixNano", required=True)
    attributes = {**resource_attributes, **decode_attributes(point.get("attributes"))}
    if kind in ("gauge", "sum"):
        if "asDouble" in point:
            value = as_float(point["asDouble"], "asDouble")
        elif "asInt" in point:
            value = float(as_int(point["asInt"], "asInt"))
        else:
            raise Malformed(f" ({name}): a data point needs asDouble or asInt")
        return [(at, service, host, name, value, unit, attributes)]
    count = as_int(point.get("count", 0), "count")
    if count < 0:
        raise Malformed(f"count must not be negative, got {count}")
    rows: list[tuple[Any, ...]] = [(at, service, host, f"{name}.count", float(count), "1", attributes)]
    if point.get("sum") is not None:
        rows.insert(0, (at, service, host, f"{name}.sum", as_float(point["sum"], "sum"), unit, attributes))
    if kind == "histogram":
        counts = [as_int(c, "bucketCounts") for c in as_list(point.get("bucketCounts") or [], "bucketCounts")]
        bounds = [as_float(b, "explicitBounds") for b in as_list(point.get("explicitBounds") or [], "explicitBounds")]
        if counts and len(counts) != len(bounds) + 1:
            raise Malformed(f"bucketCounts: {len(counts)} buckets for {len(bounds)} explicitBounds (need one more)")
        rows.extend((at, service, host, f"{name}.bucket", float(c), "1",
                     {**attributes, "le": repr(b) if i < len(bounds) else "+Inf"})
                    for i, (c, b) in enumerate(zip(counts, [*bounds, float("inf")])))
    return rows


