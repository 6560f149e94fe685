"""Fuzzed input, ≥ 10,000 generated documents: OTLP/JSON (spans, logs, metrics), change NDJSON, incident
YAML and config. Each is mostly shaped like the real thing, with any field swapped for any JSON value
(lone surrogates, huge numbers, nesting, NaN), lines cut short or hostile YAML spliced in, so that the
parsers' every branch meets bad values rather than only unparseable bytes.

Every input must be accepted or rejected with a one-line error naming where; nothing may raise anything
else; every accepted string must be storable (UTF-8 encodable), and stored rows are never lost: a good
line before and after a fuzzed one still loads. Hypothesis runs derandomised so CI sees the same inputs
each time; the example counts below add up to the 10,000 the issue asks for.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inquest.config import parse_config
from inquest.errors import ConfigError, InputError
from inquest.ingest.driver import ingest
from inquest.ingest.incident_files import iter_change_records, iter_incident_records
from inquest.ingest.ndjson import Record, Rejection
from inquest.ingest.otlp import iter_otlp_records

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
SCRATCH = Path(tempfile.mkdtemp(prefix="inquest-fuzz-"))

TEXT = st.one_of(st.text(max_size=10), st.sampled_from(["\udfff", "a\ud800b", "", " ", "\x00", "☃", "null", "1e309",
                                                        "2026-05-28T20:00:00Z", "ERROR", "SERVER", "\u2028"]))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(), TEXT)
ANY = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                   max_leaves=8)
NANOS = st.one_of(st.integers(min_value=1_700_000_000_000_000_000, max_value=1_800_000_000_000_000_000).map(str),
                  st.integers(min_value=-(2**70), max_value=2**70), ANY)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid shape, sometimes anything at all."""
    return st.one_of(valid, valid, valid, ANY)


def attributes() -> st.SearchStrategy[Any]:
    value = st.one_of(st.builds(lambda v: {"stringValue": v}, TEXT), st.builds(lambda v: {"intValue": v}, NANOS),
                      st.builds(lambda v: {"doubleValue": v}, st.floats()), ANY)
    pair = st.fixed_dictionaries({"key": maybe(st.sampled_from(["service.name", "http.route", "db.statement",
                                                               "peer.service", "host.name"])), "value": value})
    return maybe(st.lists(pair, max_size=3))


def resource() -> st.SearchStrategy[Any]:
    named = st.builds(lambda name, more: [{"key": "service.name", "value": {"stringValue": name}}, *more],
                      TEXT, st.lists(st.fixed_dictionaries({"key": TEXT, "value": ANY}), max_size=2))
    return maybe(st.fixed_dictionaries({"attributes": maybe(named)}))


SPAN = st.fixed_dictionaries({
    "traceId": maybe(st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "", "zz"])),
    "spanId": maybe(st.sampled_from(["b7ad6b7169203331", "", "00"])),
    "parentSpanId": maybe(st.sampled_from(["", "b7ad6b7169203330"])), "name": maybe(TEXT),
    "kind": maybe(st.integers(min_value=-1, max_value=6)), "startTimeUnixNano": NANOS, "endTimeUnixNano": NANOS,
    "attributes": attributes(), "status": maybe(st.fixed_dictionaries({"code": maybe(st.integers(0, 2))}))})
LOG = st.fixed_dictionaries({
    "timeUnixNano": NANOS, "observedTimeUnixNano": NANOS, "severityNumber": maybe(st.integers(0, 24)),
    "severityText": maybe(TEXT), "body": maybe(st.builds(lambda v: {"stringValue": v}, TEXT)),
    "traceId": maybe(TEXT), "spanId": maybe(TEXT), "attributes": attributes()})
POINT = st.fixed_dictionaries({"timeUnixNano": NANOS, "asDouble": maybe(st.floats()), "asInt": maybe(NANOS),
                               "attributes": attributes(), "bucketCounts": maybe(st.lists(NANOS, max_size=3)),
                               "explicitBounds": maybe(st.lists(st.floats(), max_size=2)), "count": maybe(NANOS)})
METRIC = st.builds(lambda name, kind, points, unit: {"name": name, "unit": unit, kind: {"dataPoints": points}},
                   maybe(TEXT), st.sampled_from(["gauge", "sum", "histogram", "summary", "exponentialHistogram"]),
                   maybe(st.lists(POINT, max_size=3)), maybe(TEXT))


def _signal(top: str, scope: str, items: str, item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    scoped = st.fixed_dictionaries({items: maybe(st.lists(item, min_size=1, max_size=3))})
    return st.builds(lambda r, s: {top: [{"resource": r, scope: s}]}, resource(), maybe(st.lists(scoped, max_size=2)))


OTLP = st.one_of(_signal("resourceSpans", "scopeSpans", "spans", SPAN), _signal("resourceLogs", "scopeLogs", "logRecords", LOG),
                 _signal("resourceMetrics", "scopeMetrics", "metrics", METRIC), ANY)
CHANGE = st.one_of(st.fixed_dictionaries(
    {"kind": maybe(st.sampled_from(["deploy", "rollback", "config", "feature_flag"])), "service": maybe(TEXT),
     "time": maybe(st.sampled_from(["2026-05-28T20:00:00Z", "2026-05-28 20:00", "yesterday", ""])),
     "version": maybe(TEXT)},
    optional={"id": maybe(TEXT), "commit": maybe(TEXT), "repository": maybe(TEXT), "author": maybe(TEXT),
              "description": maybe(TEXT)}), ANY)
INCIDENT = st.one_of(st.fixed_dictionaries(
    {"id": maybe(TEXT), "title": maybe(TEXT), "service": maybe(TEXT),
     "started_at": maybe(st.sampled_from(["2026-05-28T20:05:00Z", "2026-13-40T99:00:00Z", "now"]))},
    optional={"window": maybe(st.fixed_dictionaries({"start": maybe(TEXT), "end": maybe(TEXT)})),
              "symptoms": maybe(st.lists(TEXT, max_size=3)), "ticket": maybe(TEXT)}), ANY)
CONFIG = st.dictionaries(st.sampled_from(["backend", "investigation", "code", "llm", "logs", "replay", "metrics",
                                          "alerts", "attach", "nonsense"]),
                         st.one_of(st.dictionaries(st.sampled_from(["kind", "agents", "agent_timeout_s", "deadline_s",
                                                                    "embedded", "elasticsearch", "repository",
                                                                    "provider", "budgets", "extra_masks", "url"]),
                                                   ANY, max_size=3), ANY), max_size=3)
HOSTILE_YAML = st.sampled_from(["", "a: &x [1, *x]", "[" * 200 + "]" * 200, "!!python/object:os.system {}",
                                "a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]", "key: [unclosed", "\t- tab",
                                "%YAML 9.9\n---\na: 1", "? [a]\n: b", "a: !!binary AAAA", "a: 0x1F\nb: 1_000"])


def _line(document: Any, cut: int | None) -> str:
    text = json.dumps(document)  # ensure_ascii: a surrogate goes out as its escape, as in real files
    return text[:cut] if cut is not None else text


def _yaml(document: Any, splice: str | None) -> str:
    text = json.dumps(document, indent=1)  # JSON is YAML; its escapes carry any string
    return f"{text}\n{splice}\n" if splice is not None else text


def _write(name: str, text: str | bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def _accepted_or_rejected_in_one_line(read: Callable[[Path], Iterable[Record | Rejection]], path: Path) -> list[Record]:
    records = []
    try:
        for item in read(path):
            if isinstance(item, Rejection):
                assert item.line >= 1 and "\n" not in item.reason, item
                continue
            assert isinstance(item, Record), item
            for value in item.row:
                if isinstance(value, str):
                    value.encode("utf-8")  # what the store will do: a lone surrogate would raise here
            records.append(item)
    except InputError as error:
        assert "\n" not in str(error) and str(path) in str(error), error
    return records


CUT = st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=400))


@settings(FUZZ, max_examples=3000)
@given(documents=st.lists(st.tuples(OTLP, CUT), min_size=1, max_size=3))
def test_fuzzed_otlp_is_loaded_or_rejected_line_by_line(documents):
    path = _write("otlp.json", "\n".join(_line(d, cut) for d, cut in documents) + "\n")
    _accepted_or_rejected_in_one_line(iter_otlp_records, path)


@settings(FUZZ, max_examples=2500)
@given(changes=st.lists(st.tuples(CHANGE, CUT), min_size=1, max_size=3))
def test_fuzzed_change_lines_are_loaded_or_rejected_line_by_line(changes):
    path = _write("changes.ndjson", "\n".join(_line(c, cut) for c, cut in changes) + "\n")
    _accepted_or_rejected_in_one_line(iter_change_records, path)


@settings(FUZZ, max_examples=2000)
@given(incident=INCIDENT, splice=st.one_of(st.none(), HOSTILE_YAML), raw=st.one_of(st.none(), st.text(max_size=80)))
def test_fuzzed_incident_yaml_is_loaded_or_rejected_with_its_line(incident, splice, raw):
    path = _write("incident.yaml", raw if raw is not None else _yaml(incident, splice))
    _accepted_or_rejected_in_one_line(iter_incident_records, path)


@settings(FUZZ, max_examples=2400)
@given(config=CONFIG, splice=st.one_of(st.none(), HOSTILE_YAML), raw=st.one_of(st.none(), st.text(max_size=80)))
def test_fuzzed_config_is_accepted_or_each_problem_is_one_line_naming_the_file(config, splice, raw):
    text = raw if raw is not None else _yaml(config, splice)
    try:
        parse_config(text, "config.yaml", SCRATCH)
    except ConfigError as error:
        assert all(line.startswith("config.yaml") for line in str(error).splitlines()), str(error)


GOOD_SPAN = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
                                "scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c",
                                                           "spanId": "a0000000000000{:02x}", "name": "GET /cart",
                                                           "kind": 2, "startTimeUnixNano": "1780000000000000000",
                                                           "endTimeUnixNano": "1780000000100000000"}]}]}]}


def _good(n: int) -> str:
    return json.dumps(GOOD_SPAN).replace("{:02x}", f"{n:02x}")


@pytest.fixture(scope="module")
def store() -> Path:
    return SCRATCH / "fuzz.duckdb"


@settings(FUZZ, max_examples=200)
@given(middle=st.lists(st.tuples(OTLP, CUT), min_size=1, max_size=2), n=st.integers(0, 120))
def test_fuzzed_lines_never_cost_the_good_lines_around_them_their_rows(store, middle, n):
    lines = [_good(2 * n), *(_line(d, cut) for d, cut in middle), _good(2 * n + 1)]
    ingest(store, [_write("mixed.json", "\n".join(lines) + "\n")])
    with duckdb.connect(str(store), read_only=True) as con:
        kept = con.execute("SELECT count(*) FROM spans WHERE span_id IN (?, ?) AND name = 'GET /cart'",
                           [f"a0000000000000{2 * n:02x}", f"a0000000000000{2 * n + 1:02x}"]).fetchone()[0]
    assert kept == 2
