"""The Nezha benchmark adapter on a tiny dataset written in Nezha's layout, with the real data's quirks:
overlapping minute files, a day without a log folder, a file cut off mid-line, NaN and empty metric
cells, a corrupt TimeStamp, a success-rate column that is 0 everywhere, and a label whose two clocks
disagree. One slow test runs
the real OnlineBoutique archive end to end when it is available."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from inquest.benchmarks.nezha import prepare
from inquest.benchmarks.nezha_bench import CaseResult, accuracy_at, rank_of, ranked_services, summary
from inquest.benchmarks.nezha_layout import pod_service
from inquest.cli import main
from inquest.coordinator.calibration import brier, expected_calibration_error
from inquest.core import Impact, Incident, RankedHypothesis, Report, Scope, Window
from inquest.errors import InputError

DAY = "2022-01-01"
T0 = datetime(2022, 1, 1, tzinfo=UTC)
PODS = {"frontend": "frontend-5d9f8-aaaaa", "cartservice": "cartservice-77c4b-bbbbb",
        "currency-svc": "currency-svc-6f7d8-ccccc"}
FAULT_A = T0 + timedelta(hours=10, minutes=5, seconds=30)  # cartservice, CPU
FAULT_B = T0 + timedelta(hours=10, minutes=12, seconds=10)  # currency-svc; its epoch says 10:11:10
METRIC_COLUMNS = ("Time", "TimeStamp", "PodName", "CpuUsage(m)", "CpuUsageRate(%)", "MemoryUsage(Mi)",
                  "PodServerLatencyP95(s)", "PodWorkload(Ops)", "PodSuccessRate(%)")
CORRUPT_YEARS = 200_000_000  # seconds added to every TimeStamp of one pod: about six years ahead


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def _write(path: Path, header: tuple[str, ...] | None, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        if header:
            out.writerow(header)
        out.writerows(rows)


def _trace_rows(start: datetime, end: datetime) -> list[tuple]:
    """One request every 2 s: frontend root → client calls → cartservice and currency-svc servers."""
    rows = []
    at = start
    while at < end:
        slow_cart = FAULT_A <= at < FAULT_A + timedelta(minutes=3)
        trace = f"{int(at.timestamp()):032x}"
        cart_ms = 40 if slow_cart else 4
        spans = (
            ("a0", "root", PODS["frontend"], "hipstershop.Frontend/Recv.", 0, cart_ms + 12),
            ("a1", "a0", PODS["frontend"], "hipstershop.CartService/GetCart", 1, cart_ms + 2),
            ("a2", "a1", PODS["cartservice"], "hipstershop.CartService/GetCart", 2, cart_ms),
            ("a3", "a0", PODS["frontend"], "hipstershop.CurrencyService/Convert", cart_ms + 4, 6),
            ("a4", "a3", PODS["currency-svc"], "grpc.hipstershop.CurrencyService/Convert", cart_ms + 5, 4),
        )
        for sid, parent, pod, op, offset_ms, ms in spans:
            begin = _ns(at) + offset_ms * 1_000_000
            parent_id = parent if parent == "root" else f"{trace[:8]}{parent}"
            rows.append((trace, f"{trace[:8]}{sid}", parent_id, pod, op, begin, begin + ms * 1_000_000, ms * 1000))
        at += timedelta(seconds=2)
    return rows


def _minute_window(minute: datetime) -> tuple[datetime, datetime]:
    """A file named HH_MM covers the minute before it and ends 20 s after HH:MM: neighbours overlap by 2 s."""
    return minute - timedelta(seconds=42), minute + timedelta(seconds=20)


def _metric_rows(pod: str, service: str) -> list[tuple]:
    rows = []
    for m in range(0, 21):
        at = T0 + timedelta(hours=10, minutes=m, seconds=19, microseconds=512345)
        stamp = int(at.timestamp()) + (CORRUPT_YEARS if service == "currency-svc" else 0)
        hot = service == "cartservice" and FAULT_A < at < FAULT_A + timedelta(minutes=3)
        cpu_rate = 95.0 if hot else 20.0 + (m % 3)
        latency = "NaN" if service == "cartservice" and m == 3 else ("" if m == 4 else 0.05)
        rows.append((f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond:06d}789 +0000 UTC m=+{m * 60}.5", stamp, pod,
                     cpu_rate / 20, cpu_rate, 128.0, latency, 10.0, 0))
    return rows


def _log_rows(start: datetime) -> list[tuple]:
    rows = []
    for i in range(6):
        at = start + timedelta(seconds=i)
        structured = json.dumps({"log": json.dumps({"severity": "error" if i == 0 else "info",
                                                    "message": f"charge failed for order {1000 + i}"}) + "\n"})
        plain = json.dumps({"log": f"{at:%H:%M:%S}.000 WARN  - ad request slow id={i}\n"})
        for pod, text in ((PODS["cartservice"], structured), (PODS["frontend"], plain)):
            rows.append((f"{at:%Y-%m-%dT%H:%M:%S}.000000Z", _ns(at), "10.0.0.1", pod, "server", "t" * 32, "s" * 16,
                         text))
    return rows


TRACE_HEADER = ("TraceID", "SpanID", "ParentID", "PodName", "OperationName", "StartTimeUnixNano", "EndTimeUnixNano",
                "Duration")
LOG_HEADER = ("Timestamp", "TimeUnixNano", "Node", "PodName", "Container", "TraceID", "SpanID", "Log")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nezha") / "nezha-tiny"
    day = root / "rca_data" / DAY
    labels = {"10": [
        {"inject_time": f"{FAULT_A:%Y-%m-%d %H:%M:%S}", "inject_timestamp": str(int(FAULT_A.timestamp())),
         "inject_pod": PODS["cartservice"], "inject_type": "cpu_contention"},
        {"inject_time": f"{FAULT_B:%Y-%m-%d %H:%M:%S}", "inject_timestamp": str(int(FAULT_B.timestamp()) - 60),
         "inject_pod": PODS["currency-svc"], "inject_type": "network_delay"},
    ]}
    day.mkdir(parents=True)
    (day / f"{DAY}-fault_list.json").write_text(json.dumps(labels))
    # Fault A has three trace files; fault B only trace-id files (its traces are missing), and the day
    # has no log folder at all.
    for minute in (5, 6, 7):
        named = T0 + timedelta(hours=10, minutes=minute)
        _write(day / "trace" / f"10_{minute:02d}_trace.csv", TRACE_HEADER, _trace_rows(*_minute_window(named)))
    with (day / "trace" / "10_07_trace.csv").open("a") as cut_off:  # the snapshot ends mid-line
        cut_off.write("f" * 32 + ",ffffffff00,root," + PODS["frontend"] + ",hipstershop.Frontend/Recv.,16410")
    for minute in (5, 6, 7, 12, 13, 14):
        _write(day / "traceid" / f"10_{minute:02d}_traceid.csv", None, [(f"{minute:032x}",)])
    for service, pod in PODS.items():
        _write(day / "metric" / f"{pod}_metric.csv", METRIC_COLUMNS, _metric_rows(pod, service))
    front = [(f"{T0 + timedelta(hours=10, minutes=m, seconds=19):%Y-%m-%d %H:%M:%S}.1 +0000 UTC m=+1.0",
              int((T0 + timedelta(hours=10, minutes=m, seconds=19)).timestamp()), "Frontend",
              90.0 if m == 6 else 100.0, 0.2) for m in range(21)]
    _write(day / "metric" / "front_service.csv", ("Time", "TimeStamp", "ServiceName", "SuccessRate(%)", "LatencyP95(s)"),
           front)
    # The fault-free stretch: two overlapping log files and its own copy of the metrics.
    calm = root / "construct_data" / DAY
    first = T0 + timedelta(hours=9, minutes=30)
    _write(calm / "log" / "09_30_log.csv", LOG_HEADER, _log_rows(first))
    _write(calm / "log" / "09_31_log.csv", LOG_HEADER, _log_rows(first)[-4:] + _log_rows(first + timedelta(seconds=6)))
    for service, pod in PODS.items():
        _write(calm / "metric" / f"{pod}_metric.csv", METRIC_COLUMNS, _metric_rows(pod, service))
    return root


@pytest.fixture(scope="module")
def prepared(dataset, tmp_path_factory):
    return prepare(dataset, tmp_path_factory.mktemp("work"))


def _sql(prepared, query: str) -> list[tuple]:
    with duckdb.connect(str(prepared.store_path), read_only=True) as con:
        return con.execute(query).fetchall()


def test_pods_map_to_services_by_dropping_the_last_two_parts():
    assert pod_service("frontend-579b9bff58-t2dbm") == "frontend"
    assert pod_service("ts-order-service-5d9f8-x2x9q") == "ts-order-service"
    assert pod_service("redis") == "redis"


def test_overlapping_trace_files_keep_each_span_once_with_kind_and_peer(prepared):
    raw = sum(len(_trace_rows(*_minute_window(T0 + timedelta(hours=10, minutes=m)))) for m in (5, 6, 7))
    [(spans, distinct)] = _sql(prepared, "SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM spans")
    assert spans == distinct == raw - prepared.summary.duplicates["trace"]
    assert prepared.summary.duplicates["trace"] > 0 and prepared.summary.dropped["trace"] == 1
    kinds = dict(_sql(prepared, "SELECT name || ' @ ' || \"service.name\", kind || ' ' || coalesce(\"peer.service\", '-') "
                                "FROM spans GROUP BY ALL"))
    assert kinds == {
        "hipstershop.Frontend/Recv. @ frontend": "SERVER -",
        "hipstershop.CartService/GetCart @ frontend": "CLIENT cartservice",
        "hipstershop.CartService/GetCart @ cartservice": "SERVER -",
        "hipstershop.CurrencyService/Convert @ frontend": "CLIENT currency-svc",
        "grpc.hipstershop.CurrencyService/Convert @ currency-svc": "SERVER -",
    }
    [(roots, slow_ms)] = _sql(prepared, "SELECT count(*) FILTER (WHERE parent_span_id IS NULL), "
                                        "max(duration_ms) FILTER (WHERE \"service.name\" = 'cartservice') FROM spans")
    assert roots == spans // 5 and slow_ms == 40.0


def test_logs_get_severity_from_json_or_text_and_are_kept_once(prepared):
    rows = _sql(prepared, 'SELECT "service.name", severity_text, severity_number, count(*) FROM logs GROUP BY ALL '
                          "ORDER BY 1, 3")
    # 12 distinct seconds of lines, each once although the two files overlap by four seconds.
    assert rows == [("cartservice", "INFO", 9, 10), ("cartservice", "ERROR", 17, 2), ("frontend", "WARN", 13, 12)]
    [(body,)] = _sql(prepared, "SELECT min(body) FROM logs WHERE severity_number = 17")
    assert body.startswith("charge failed for order")


def test_a_log_row_with_unescaped_quotes_does_not_stop_the_load(dataset, tmp_path):
    copy = tmp_path / "nezha-tiny"
    shutil.copytree(dataset, copy)
    at = T0 + timedelta(hours=9, minutes=31, seconds=30)
    with (copy / "construct_data" / DAY / "log" / "09_31_log.csv").open("a") as log:
        log.write(f'{at:%Y-%m-%dT%H:%M:%S}.000000Z,{_ns(at)},10.0.0.1,{PODS["frontend"]},server,{"t" * 32},'
                  f'{"s" * 16},"{{"log": "he said "hi" twice"}}"\n')
    with duckdb.connect(str(prepare(copy, tmp_path / "work").store_path), read_only=True) as con:
        services = con.execute('SELECT "service.name", count(*) FROM logs GROUP BY 1 ORDER BY 1').fetchall()
    # The 24 lines of the other rows all load, and the odd row's line with them (its quotes read as text).
    assert services == [("cartservice", 12), ("frontend", 13)]


def test_metrics_use_the_time_string_map_names_and_drop_nan_and_unreported_series(prepared):
    [(first, last)] = _sql(prepared, "SELECT min(timestamp), max(timestamp) FROM metrics "
                                     "WHERE \"host.name\" = 'currency-svc-6f7d8-ccccc'")
    assert (first, last) == (datetime(2022, 1, 1, 10, 0, 19, 512345), datetime(2022, 1, 1, 10, 20, 19, 512345))
    names = dict(_sql(prepared, "SELECT name, count(*) FROM metrics WHERE \"host.name\" = 'cartservice-77c4b-bbbbb' "
                                "GROUP BY 1"))
    # 21 minutes, once each although construct_data repeats the series; the latency column lost its NaN
    # and its empty cell; a success rate of 0 everywhere is not an error rate of 100%.
    assert names["process.cpu.utilization"] == 21 and names["http.server.duration.p95"] == 19
    assert "http.server.error.rate" not in names
    [(cpu, unit, attrs)] = _sql(prepared, "SELECT max(value), min(unit), min(attributes) FROM metrics "
                                          "WHERE name = 'process.cpu.utilization' AND \"service.name\" = 'cartservice'")
    assert cpu == pytest.approx(0.95) and unit == "1" and json.loads(attrs) == {"nezha.column": "CpuUsageRate(%)"}
    [(services,)] = _sql(prepared, "SELECT list(DISTINCT \"service.name\" ORDER BY \"service.name\") FROM metrics")
    assert services == ["cartservice", "currency-svc", "frontend"]
    [(error_rate,)] = _sql(prepared, "SELECT max(value) FROM metrics WHERE name = 'http.server.error.rate' "
                                     "AND \"host.name\" IS NULL AND \"service.name\" = 'frontend'")
    assert error_rate == pytest.approx(0.10)
    assert any("TimeStamp" in note for note in prepared.summary.notes)


def test_incidents_name_the_entry_service_and_keep_the_answer_out_of_the_store(prepared):
    a, b = prepared.cases
    assert [a.id, b.id] == [f"nezha-{DAY}-0", f"nezha-{DAY}-1"]
    assert a.incident.service == b.incident.service == "frontend"
    assert (a.fault.service, b.fault.service) == ("cartservice", "currency-svc")
    stored = _sql(prepared, 'SELECT id, "service.name", title FROM incidents ORDER BY id')
    assert [(i, s) for i, s, _ in stored] == [(a.id, "frontend"), (b.id, "frontend")]
    assert not any("cart" in title or "currency" in title for _, _, title in stored)


def test_windows_run_from_injection_to_the_end_of_the_case_telemetry(prepared):
    a, b = prepared.cases
    assert a.incident.window.start == FAULT_A
    # The last trace file is named 10:07 and reaches 20 s past it.
    assert a.incident.window.end == pytest.approx(T0 + timedelta(hours=10, minutes=7, seconds=20),
                                                  abs=timedelta(seconds=3))
    assert a.modalities == ("traces", "metrics") and a.baseline_spans > 0
    # Fault B's labels disagree by a minute; the files are named for inject_time's minute, so it wins.
    assert b.incident.window.start == FAULT_B and any("disagree by -60 s" in note for note in b.notes)
    assert b.incident.window.end == pytest.approx(T0 + timedelta(hours=10, minutes=14, seconds=20),
                                                  abs=timedelta(seconds=3))
    assert b.modalities == ("metrics",)
    assert prepared.settings.baseline_minutes == 3 and prepared.settings.baseline_gap_minutes == 0


def _report(services: list[str | None]) -> Report:
    window = Window(T0, T0 + timedelta(minutes=2))
    return Report(
        incident=Incident("x", "x", "frontend", T0, window), scope=Scope(window, window, window),
        hypotheses=tuple(RankedHypothesis(rank=i + 1, summary="s", service=s, confidence=0.5, evidence=())
                         for i, s in enumerate(services)),
        evidence=(), agents=(), impact=Impact(), started_at=T0, duration_ms=1)


def test_ranked_services_dedupe_in_rank_order_and_unranked_is_a_miss_at_every_k():
    ranked = ranked_services(_report(["cart", None, "cart", "currency", "frontend"]))
    assert ranked == ("cart", "currency", "frontend")
    assert [rank_of(s, ranked) for s in ("cart", "frontend", "email")] == [1, 3, None]
    ranks = [1, 1, 2, 3, 4, 5, 6, None]
    assert [accuracy_at(ranks, k) for k in (1, 3, 5)] == [2 / 8, 4 / 8, 6 / 8]
    assert accuracy_at([], 1) == 0.0
    results = [CaseResult(str(i), "s", "p", "f", (), r, (), 0.0, None, {}, 0, ()) for i, r in enumerate(ranks)]
    assert summary(results) == {"cases": 8, "as1": 0.25, "as3": 0.5, "as5": 0.75}


def test_cli_json_scores_every_case_even_without_traces(dataset, tmp_path, capsys):
    assert main(["bench", "nezha", str(dataset), "--format", "json", "--work-dir", str(tmp_path), "--jobs", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["summary"]) == {"cases", "as1", "as3", "as5", "ece", "brier"} and out["summary"]["cases"] == 2
    shown, right = [c["confidence"] or 0.0 for c in out["cases"]], [c["rank"] == 1 for c in out["cases"]]
    assert out["summary"]["brier"] == brier(shown, right)  # the top answers' confidences, judged against rank 1
    assert out["summary"]["ece"] == expected_calibration_error(shown, right)
    assert [c["id"] for c in out["cases"]] == [f"nezha-{DAY}-0", f"nezha-{DAY}-1"]
    for case in out["cases"]:
        assert {"id", "truth_service", "fault", "ranked_services", "rank"} <= set(case)
        expected = case["ranked_services"].index(case["truth_service"]) + 1 \
            if case["truth_service"] in case["ranked_services"] else None
        assert case["rank"] == expected
    assert out["cases"][1]["modalities"] == ["metrics"] and out["cases"][1]["truth_service"] == "currency-svc"
    ranks = [c["rank"] for c in out["cases"]]
    assert out["summary"]["as1"] == sum(1 for r in ranks if r == 1) / 2
    assert out["paper"]["rows"] == []  # the tiny dataset's days are neither half of the paper


def test_archive_is_unpacked_once_and_text_output_shows_ranks_and_the_table(dataset, tmp_path, capsys):
    archive = tmp_path / "nezha-tiny.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(dataset, arcname=dataset.name)
    work = tmp_path / "work"
    first = prepare(archive, work)
    again = prepare(archive, work)
    assert (first.reused, again.reused) == ({"unpack": False, "convert": False}, {"unpack": True, "convert": True})
    assert [c.incident for c in first.cases] == [c.incident for c in again.cases]
    assert main(["bench", "nezha", str(archive), "--work-dir", str(work)]) == 0
    text = capsys.readouterr().out
    assert f"nezha-{DAY}-1" in text and "network_delay" in text and "AS@1" in text
    assert "Inquest (this run)" in text and "disagree by -60 s" in text


def test_not_a_dataset_is_a_usage_error_naming_the_folder(tmp_path, capsys):
    assert main(["bench", "nezha", str(tmp_path), "--work-dir", str(tmp_path / "w")]) == 2
    assert "no rca_data/ folder" in capsys.readouterr().err


def test_unreadable_fault_list_is_an_error_naming_the_file(tmp_path):
    day = tmp_path / "broken" / "rca_data" / DAY
    day.mkdir(parents=True)
    (day / f"{DAY}-fault_list.json").write_text('{"10": [{"inject_time": ')
    with pytest.raises(InputError, match=f"{DAY}-fault_list.json: cannot read the fault list"):
        prepare(tmp_path / "broken", tmp_path / "work")
    (day / f"{DAY}-fault_list.json").write_text('{"10": [{"inject_time": "yesterday", "inject_pod": "a-b-c", '
                                                '"inject_type": "return"}]}')
    with pytest.raises(InputError, match="fault #1: inject_time 'yesterday'"):
        prepare(tmp_path / "broken", tmp_path / "work")


def _shared_archive() -> Path | None:
    for base in (Path("/work/shared/datasets"), Path(__file__).resolve().parents[1].parent / "shared" / "datasets"):
        if (base / "nezha-onlineboutique.tar.xz").is_file():
            return base / "nezha-onlineboutique.tar.xz"
    return None


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("INQUEST_NEZHA_E2E") != "1" or _shared_archive() is None,
                    reason="the real Nezha archive takes about a minute cold: set INQUEST_NEZHA_E2E=1 to run it")
def test_real_onlineboutique_archive_end_to_end(tmp_path, capsys):
    assert main(["bench", "nezha", str(_shared_archive()), "--format", "json", "--work-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["cases"] == 56 and len(out["cases"]) == 56
    assert {c["fault"] for c in out["cases"]} >= {"cpu_contention", "network_delay", "return", "exception"}
    without_traces = [c for c in out["cases"] if "traces" not in c["modalities"]]
    assert without_traces and all("rank" in c and "metrics" in c["modalities"] for c in without_traces)
    assert [row["method"] for row in out["paper"]["rows"]][0] == "Nezha"
    assert out["summary"]["as5"] >= out["summary"]["as3"] >= out["summary"]["as1"] > 0
