"""Bad input is a one-line error naming what and where, never a traceback; the good records beside it load.

Lone surrogates in OTLP, change and incident files; self-referencing, deep and alias-bomb YAML in config
and incident files; a gzip file that inflates a thousandfold."""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest
from test_ingest import config_for, run_ingest, store_of

from inquest.config import parse_config
from inquest.errors import ConfigError

SPAN = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "GET /cart", "kind": 2,
        "startTimeUnixNano": "1780000000000000000", "endTimeUnixNano": "1780000000100000000", "status": {}}


def _otlp_line(service: str, span_id: str, name: str) -> str:
    document = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                                   "scopeSpans": [{"spans": [{**SPAN, "spanId": span_id, "name": name}]}]}]}
    return json.dumps(document)  # ensure_ascii: a lone surrogate is written as the escape \udfff, as exporters do


def test_lone_surrogates_are_replaced_and_every_line_loads(tmp_path, capsys):
    traces, changes, incident = tmp_path / "traces.json", tmp_path / "changes.ndjson", tmp_path / "incident.yaml"
    traces.write_text("\n".join([_otlp_line("cart", "b7ad6b7169203331", "GET /cart"),
                                 _otlp_line("cart\udfff", "b7ad6b7169203332", "GET /x\ud800"),
                                 _otlp_line("cart", "b7ad6b7169203333", "GET /after")]) + "\n")
    changes.write_text('{"kind": "deploy", "service": "orders", "time": "2026-05-28T20:00:00Z", "version": "1"}\n'
                       '{"kind": "deploy", "service": "orders\\udfff", "time": "2026-05-28T20:01:00Z", "version": "2"}\n')
    incident.write_text('id: INC-9\ntitle: "slow \\udfff cart"\nservice: cart\nstarted_at: 2026-05-28T20:05:00Z\n')
    code, summary = run_ingest(capsys, str(traces), str(changes), str(incident), "--config", config_for(tmp_path))
    assert code == 0 and [f["rejected"] for f in summary["files"]] == [0, 0, 0]
    with duckdb.connect(str(store_of(tmp_path)), read_only=True) as con:
        names = [r[0] for r in con.execute('SELECT name FROM spans ORDER BY "span_id"').fetchall()]
        services = sorted(r[0] for r in con.execute('SELECT "service.name" FROM changes').fetchall())
        [(title,)] = con.execute("SELECT title FROM incidents").fetchall()
    assert names == ["GET /cart", "GET /x\ufffd", "GET /after"]
    assert services == ["orders", "orders\ufffd"] and title == "slow \ufffd cart"


HOSTILE_YAML = {
    "self-reference": ("a: &loop [1, *loop]\n", "refers to a value that contains it"),
    "deep nesting": ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels deep"),
    "billion laughs": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                                 for i in range(8)), "aliases expand to more than 100,000 values"),
}


@pytest.mark.parametrize("kind", list(HOSTILE_YAML))
def test_hostile_yaml_in_a_config_is_a_one_line_error(kind, tmp_path):
    text, reason = HOSTILE_YAML[kind]
    with pytest.raises(ConfigError) as error:
        parse_config(text, "config.yaml", tmp_path)
    assert str(error.value).startswith("config.yaml: not valid YAML: line ") and reason in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("kind", list(HOSTILE_YAML))
def test_hostile_yaml_in_an_incident_file_is_rejected_with_its_line(kind, tmp_path, capsys):
    text, reason = HOSTILE_YAML[kind]
    path = tmp_path / "incident.yaml"
    path.write_text("id: INC-1\ntitle: t\nservice: s\nstarted_at: 2026-05-28T20:05:00Z\n" + text)
    code, summary = run_ingest(capsys, str(path), "--config", config_for(tmp_path))
    [rejection] = summary["files"][0]["rejections"]
    assert code == 1 and rejection["line"] >= 5 and reason in rejection["reason"]


def test_a_gzip_bomb_is_refused_with_a_clear_error(tmp_path, capsys):
    path = tmp_path / "traces.json.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:  # 100 MiB of blank lines in about 100 KB
        out.write(_otlp_line("cart", "b7ad6b7169203331", "GET /cart").encode() + b"\n")
        for _ in range(100):
            out.write(b"\n" * (1024 * 1024))
    assert path.stat().st_size < 200_000
    code, summary = run_ingest(capsys, str(path), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and result["accepted"] == {"spans": 1}  # what came before the bomb is kept
    assert "decompression bomb" in result["rejections"][0]["reason"]
