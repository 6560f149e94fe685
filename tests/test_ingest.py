"""`investigate ingest` as a user meets it: the examples become an incident the engine investigates, bad
input is rejected by file, line and reason while the rest loads, and nothing stored is ever lost or
duplicated."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import duckdb
import pytest

from inquest.cli import main
from inquest.ingest import driver as ingest_module
from inquest.ingest.driver import ingest
from inquest.tools.backends.embedded_schema import SELF_TIME_SQL
from inquest.tools.backends.embedded_store import EmbeddedStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ingest"
ALERT_ID = "AM-3f1c9a8e2b7d6054-20260312T1029Z"
TABLES = ("spans", "logs", "metrics", "changes", "incidents")


def config_for(folder: Path, demo: bool = False) -> str:
    path = folder / "config.yaml"
    path.write_text(f"backend:\n  embedded:\n    path: {folder / 'store' / 'telemetry.duckdb'}\n"
                    f"    demo: {'true' if demo else 'false'}\ncode:\n  repository: {folder / 'no-repo'}\n")
    return str(path)


def store_of(folder: Path) -> Path:
    return folder / "store" / "telemetry.duckdb"


def counts(store: Path) -> dict[str, int]:
    with duckdb.connect(str(store), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def run_ingest(capsys, *args: str) -> tuple[int, dict]:
    code = main(["ingest", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The examples, ingested once through the CLI into a fresh store."""
    folder = tmp_path_factory.mktemp("examples")
    config = config_for(folder)
    assert main(["ingest", str(EXAMPLES), "--config", config]) == 0
    return folder, config


def test_examples_round_trip_to_a_report_that_blames_the_payments_deploy(ingested, capsys):
    folder, config = ingested
    code = main(["INC-2001", "--format", "json", "--config", config])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["root_cause_found"]
    top = report["hypotheses"][0]
    assert top["change"]["id"] == "dep-payments-4.2.0" and top["service"] == "payments"
    assert "idempotency_key" in top["query"] and "roll back payments to 4.1.3" in top["mitigation"]
    others = {h["change"]["id"]: h for h in report["hypotheses"][1:] if h["change"]}
    assert others["dep-checkout-3.9.1"]["confidence"] < 0.1  # deployed after the symptom began
    statuses = {agent: run["status"] for agent, run in report["agents"].items()}
    assert statuses.pop("code_diff") == "skipped"  # the payments repository is not here: not a failure
    assert statuses.pop("logs") == "no_data"  # the example's logs start inside the window: no baseline to compare
    assert set(statuses.values()) == {"ok"}
    assert report["impact"]["failed_requests"] > 0 and report["impact"]["users"] > 0
    assert report["incident"]["ticket"] == "acme/shop#1207"


def test_the_alertmanager_incident_is_investigable_too(ingested, capsys):
    _, config = ingested
    assert main(["incidents", "--format", "json", "--config", config]) == 0
    listed = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    alert = listed[ALERT_ID]
    assert (alert["service"], alert["title"]) == ("payments", "payments p95 latency above 1 s")
    assert alert["window"] == {"start": "2026-03-12T10:14:30.118000Z", "end": "2026-03-12T10:44:30.118000Z"}
    assert alert["symptoms"] == ["POST /charges p95 is 1.9 s (threshold 1 s) for 3 minutes"]
    assert main([ALERT_ID, "--format", "json", "--config", config]) == 0
    assert json.loads(capsys.readouterr().out)["hypotheses"][0]["change"]["id"] == "dep-payments-4.2.0"


def test_ingesting_the_same_files_again_adds_nothing(ingested, capsys):
    folder, config = ingested
    before = counts(store_of(folder))
    code, summary = run_ingest(capsys, str(EXAMPLES), "--config", config)
    assert code == 0 and counts(store_of(folder)) == before
    assert summary["accepted"] == sum(before.values())
    assert all(f["added"] == {} and f["updated"] == {} for f in summary["files"])
    assert [Path(s).name for s in summary["skipped"]] == ["generate.py"]


def test_the_text_summary_names_each_file_and_the_incidents(tmp_path, capsys):
    assert main(["ingest", str(EXAMPLES / "traces.json"), str(EXAMPLES / "incident.yaml"),
                 "--config", config_for(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "traces.json (otlp): 225 spans — 225 new; 0 rejected" in out
    assert "incident.yaml (incidents): 1 incident — 1 new; 0 rejected" in out
    assert "investigate INC-2001" in out


def test_reingesting_a_changed_incident_updates_it(tmp_path, capsys):
    config = config_for(tmp_path)
    declared = tmp_path / "incident.yaml"
    declared.write_text((EXAMPLES / "incident.yaml").read_text())
    run_ingest(capsys, str(declared), "--config", config)
    declared.write_text(declared.read_text().replace("payment requests time out", "payments slow"))
    code, summary = run_ingest(capsys, str(declared), "--config", config)
    assert code == 0 and summary["files"][0]["updated"] == {"incidents": 1}
    main(["incidents", "--format", "json", "--config", config])
    assert [i["title"] for i in json.loads(capsys.readouterr().out)] == ["Checkout failing: payments slow"]


def test_change_events_are_checked_field_by_field(tmp_path, capsys):
    events = tmp_path / "changes.ndjson"
    events.write_text("\n".join([
        '{"time": "2026-03-12T10:24:00Z", "service": "payments", "kind": "deploy", "version": "4.2.0"}',
        '{"time": "2026-03-12T10:25:00Z", "service": "payments", "kind": "deploy", "colour": "blue"}',
        '{"time": "2026-03-12T10:26:00Z", "service": "payments", "kind": "deploy", "version": 4.2}',
        '{"time": "yesterday", "service": "payments", "kind": "deploy"}',
        '{"service": "payments", "kind": "deploy"}',
        '{"time": "2026-03-12T10:27:00Z", "service": "payments", "kind": "hotfix"}',
        '{"time": "2026-03-12T10:28:00Z", "service": "payments", "kind": "config", "description": "pool 10 -> 20"}',
        '{"time": "2026-03-12T10:29:00Z", "service": "payments", "kind": "rollb',
        "",
    ]))
    code, summary = run_ingest(capsys, str(events), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and (result["accepted"], result["rejected"]) == ({"changes": 2}, 6)
    reasons = {r["line"]: r["reason"] for r in result["rejections"]}
    assert "unknown field 'colour'" in reasons[2] and "known: id, time" in reasons[2]
    assert "version must be a string" in reasons[3] and "quote it" in reasons[3]
    assert "'yesterday' is not an RFC 3339 time" in reasons[4]
    assert "missing time" in reasons[5]
    assert "kind 'hotfix' is not one of deploy" in reasons[6]
    assert reasons[8].startswith("truncated JSON")
    assert all(r["file"] == str(events) for r in result["rejections"])
    with duckdb.connect(str(store_of(tmp_path)), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT id FROM changes ORDER BY timestamp").fetchall()]
    assert ids == ["dep-payments-4.2.0", "cfg-payments-20260312T102800Z"]  # stable ids for events that name none


def test_incident_files_reject_bad_declarations_by_line(tmp_path, capsys):
    declared = tmp_path / "incidents.yml"
    declared.write_text("""\
- id: INC-1
  title: fine
  service: checkout
  started_at: 2026-03-12T10:31:00Z
- title: no id
  service: checkout
  started_at: 2026-03-12T10:31:00Z
- id: INC-3
  title: typo
  service: checkout
  started_at: 2026-03-12T10:31:00Z
  sympthoms: [slow]
- id: INC-4
  title: backwards
  service: checkout
  started_at: 2026-03-12T10:31:00Z
  window: {start: 2026-03-12T11:00:00Z, end: 2026-03-12T10:00:00Z}
- id: 5
  title: number id
  service: checkout
  started_at: 2026-03-12T10:31:00+02:00
- id: INC-6
  title: baseline typo
  service: checkout
  started_at: 2026-03-12T10:31:00Z
  baseline: {begin: 2026-03-11T10:00:00Z}
- id: INC-7
  title: baseline offset
  service: checkout
  started_at: 2026-03-12T10:31:00Z
  baseline: {offset: soon}
- id: INC-8
  title: compared with the same time yesterday
  service: checkout
  started_at: 2026-03-12T10:31:00Z
  baseline: {offset: 1d}
""")
    code, summary = run_ingest(capsys, str(declared), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and result["accepted"] == {"incidents": 2} and result["rejected"] == 6
    reasons = {r["line"]: r["reason"] for r in result["rejections"]}
    assert reasons[5] == "missing id"
    assert "unknown field 'sympthoms'" in reasons[8]  # the line where that incident starts
    assert "window.end (2026-03-12T10:00:00+00:00) is not after window.start" in reasons[13]
    assert "id must be a string" in reasons[18]
    assert reasons[22].startswith("baseline: unknown field 'begin' (known: start, end, offset)")
    assert reasons[27].startswith("baseline.offset: 'soon' is not a duration")
    assert summary["incidents"] == ["INC-1", "INC-8"]
    [pinned] = [i for i in EmbeddedStore(store_of(tmp_path)).incidents() if i.id == "INC-8"]
    assert str(pinned.baseline) == "2026-03-11 10:16–10:46 UTC"  # the default window, a day earlier


def test_alert_payload_edge_cases(tmp_path, capsys):
    payload = json.loads((EXAMPLES / "alertmanager.json").read_text())
    first = payload["alerts"][0]
    payload["commonLabels"], payload["commonAnnotations"] = {}, {}
    payload["alerts"] = [
        {**first, "annotations": {**first["annotations"], "ticket": "OPS-77"}},
        {**first, "labels": {"alertname": "NoOwner"}, "fingerprint": "aa"},
        {**first, "startsAt": "soon", "fingerprint": "bb"},
        {**first, "fingerprint": None, "labels": {"alertname": "Up", "job": "inventory"}, "annotations": {}},
    ]
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(payload))
    code, summary = run_ingest(capsys, "--alert", str(path), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and result["kind"] == "alertmanager" and result["rejected"] == 1
    assert [r["reason"][:10] for r in result["rejections"]] == ["alerts[2]:"]
    # An alert naming no service still becomes an incident, and the summary says why it has none.
    assert [n["note"][:10] for n in result["notes"]] == ["alerts[1] "]
    assert "none of the labels service, service.name" in result["notes"][0]["note"]
    assert summary["incidents"][0] == ALERT_ID and len(summary["incidents"]) == 3
    main(["incidents", "--format", "json", "--config", config_for(tmp_path)])
    listed = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    assert listed[ALERT_ID]["ticket"] == "OPS-77"
    assert listed[summary["incidents"][1]]["service"] == ""
    derived = listed[summary["incidents"][2]]
    assert (derived["title"], derived["service"]) == ("Up", "inventory")


def test_a_very_long_line_is_rejected_and_the_lines_around_it_load(tmp_path, capsys):
    lines = (EXAMPLES / "traces.json").read_text().splitlines()
    path = tmp_path / "long.jsonl"
    with path.open("w") as out:
        out.write(lines[0] + "\n")
        out.write('{"resourceSpans": [], "padding": "' + "x" * (21 * 1024 * 1024) + '"}\n')
        out.write(lines[1] + "\n")
    code, summary = run_ingest(capsys, str(path), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and result["rejected"] == 1
    assert result["rejections"][0]["line"] == 2 and "longer than 20,971,520 bytes" in result["rejections"][0]["reason"]
    expected = sum(len(s["spans"]) for line in lines[:2] for r in json.loads(line)["resourceSpans"]
                   for s in r["scopeSpans"])
    assert result["accepted"] == {"spans": expected}


def test_empty_and_binary_files(tmp_path, capsys):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "blank.ndjson").write_text("\n\n  \n")
    (tmp_path / "photo.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    code, summary = run_ingest(capsys, str(tmp_path / "empty.json"), str(tmp_path / "blank.ndjson"),
                               str(tmp_path / "photo.json"), str(EXAMPLES / "changes.ndjson"),
                               "--config", config_for(tmp_path))
    by_name = {Path(f["path"]).name: f for f in summary["files"]}
    assert code == 2  # one file could not be read at all
    assert by_name["empty.json"]["accepted"] == {} and by_name["empty.json"]["error"] is None
    assert by_name["blank.ndjson"]["accepted"] == {} and by_name["blank.ndjson"]["rejected"] == 0
    assert "binary content" in by_name["photo.json"]["error"]
    assert by_name["changes.ndjson"]["accepted"] == {"changes": 6}  # the files after it still load


def test_a_truncated_gzip_file_loads_up_to_where_it_breaks(tmp_path, capsys):
    data = (EXAMPLES / "traces-earlier.json.gz").read_bytes()
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    code, summary = run_ingest(capsys, str(path), "--config", config_for(tmp_path))
    result = summary["files"][0]
    assert code == 1 and result["rejected"] == 1 and result["accepted"]["spans"] > 100
    assert "the file ends early" in result["rejections"][0]["reason"]


def test_a_file_of_unknown_kind_is_not_guessed(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("remember to check payments\n")
    (tmp_path / "changes.json").write_text((EXAMPLES / "changes.ndjson").read_text())
    code, summary = run_ingest(capsys, str(tmp_path / "notes.txt"), str(tmp_path / "changes.json"),
                               "--config", config_for(tmp_path))
    notes, changes = summary["files"]
    assert code == 2 and "cannot tell what this file holds" in notes["error"]
    assert changes["kind"] == "changes" and changes["accepted"] == {"changes": 6}  # recognised by content


def test_nothing_stored_is_lost_when_later_input_is_bad(ingested, tmp_path, capsys):
    folder, config = ingested
    before = counts(store_of(folder))
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "x"}]}]}]}\n{"resourceLogs": [\n')
    (tmp_path / "junk.yaml").write_text("id: [unclosed\n")
    code, _ = run_ingest(capsys, str(bad), str(tmp_path / "junk.yaml"), "--config", config)
    assert code == 1 and counts(store_of(folder)) == before


def test_a_batch_the_store_refuses_leaves_the_store_as_it_was(tmp_path, capsys, monkeypatch):
    config = config_for(tmp_path)
    assert main(["ingest", str(EXAMPLES / "changes.ndjson"), "--config", config]) == 0
    before = counts(store_of(tmp_path))

    def refuse(con, new):
        raise duckdb.ConstraintException("disk full, say")

    monkeypatch.setattr(ingest_module, "insert_spans", refuse)
    code = main(["ingest", str(EXAMPLES / "traces.json"), "--config", config])
    assert code == 2 and "the store is unchanged by them" in capsys.readouterr().err
    assert counts(store_of(tmp_path)) == before


def test_self_time_is_derived_across_batches_and_files(tmp_path):
    """Small batches split traces, and a second file brings children of spans already stored: self time
    must come out as a full rebuild computes it."""
    lines = (EXAMPLES / "traces.json").read_text().splitlines()
    parents, children = tmp_path / "parents.json", tmp_path / "children.json"
    kept, moved = [], []
    for line in lines:
        document = json.loads(line)
        for res in document["resourceSpans"]:
            (moved if res["resource"]["attributes"][0]["value"]["stringValue"] == "payments" else kept).append(res)
    parents.write_text(json.dumps({"resourceSpans": kept}) + "\n")
    children.write_text(json.dumps({"resourceSpans": moved}) + "\n")
    store = tmp_path / "store.duckdb"
    ingest(store, [parents], batch_rows=7)
    ingest(store, [children], batch_rows=11)
    with duckdb.connect(str(store)) as con:
        incremental = con.execute("SELECT span_id, self_ms FROM spans ORDER BY span_id").fetchall()
        con.execute(SELF_TIME_SQL)
        rebuilt = con.execute("SELECT span_id, self_ms FROM spans ORDER BY span_id").fetchall()
    assert len(incremental) == 225 and incremental == rebuilt
    assert all(self_ms is not None for _, self_ms in incremental)


def test_ingest_into_a_missing_demo_store_does_not_build_the_demo(tmp_path, capsys):
    config = config_for(tmp_path, demo=True)
    assert main(["ingest", str(EXAMPLES / "incident.yaml"), "--config", config]) == 0
    out = capsys.readouterr().out
    assert "created" in out and "demo world" in out
    assert sorted(p.name for p in store_of(tmp_path).parent.iterdir()) == ["telemetry.duckdb"]
    assert counts(store_of(tmp_path))["incidents"] == 1


def test_the_examples_are_what_generate_py_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_examples", EXAMPLES / "generate.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.write_examples(tmp_path)
    for written in tmp_path.iterdir():
        committed = EXAMPLES / written.name
        if written.suffix == ".gz":
            assert gzip.decompress(written.read_bytes()) == gzip.decompress(committed.read_bytes()), written.name
        else:
            assert written.read_text() == committed.read_text(), written.name


def test_a_span_sent_again_with_another_start_time_is_stored_once(tmp_path):
    """OTLP names a span by its trace and span ids: a re-sent span whose clock moved is the same span (the first
    version stays), however far apart the two start times are."""
    first = json.loads((EXAMPLES / "traces.json").read_text().splitlines()[0])
    again = json.loads(json.dumps(first))
    for res in again["resourceSpans"]:
        for scope in res["scopeSpans"]:
            for span in scope["spans"]:
                for field in ("startTimeUnixNano", "endTimeUnixNano"):
                    span[field] = str(int(span[field]) + 3_600_000_000_000)  # an hour later
    (tmp_path / "first.json").write_text((json.dumps(first) + "\n") * 2)  # a batch that repeats its spans
    (tmp_path / "again.json").write_text(json.dumps(again) + "\n")
    store = tmp_path / "store.duckdb"
    ingest(store, [tmp_path / "first.json"])
    before = counts(store)["spans"]
    result = ingest(store, [tmp_path / "again.json"])
    assert before == sum(len(scope["spans"]) for res in first["resourceSpans"] for scope in res["scopeSpans"])
    assert counts(store)["spans"] == before and result.files[0].added["spans"] == 0
