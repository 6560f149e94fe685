"""What a user of each output format would notice: the right answer first, cited evidence present,
reproducible queries, and no surprises for scripts parsing the JSON."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest

from inquest.core import (
    AgentProgress,
    AgentRun,
    ChangeRef,
    Evidence,
    Impact,
    Incident,
    RankedHypothesis,
    Report,
    Scope,
    Usage,
    Window,
)
from inquest.render import FORMATS, jsonable, render
from inquest.render.json_report import report_to_dict
from inquest.render.markdown import render_markdown

T0 = datetime(2024, 11, 12, 14, 0, tzinfo=UTC)
ORDERS_COMMIT = "abc123f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3"
N_PLUS_ONE_SQL = "SELECT statement, calls, p95_ms\nFROM db_query_stats\nWHERE service = 'orders'\nORDER BY calls DESC"

TOP_LEVEL_KEYS = {
    "schema_version", "incident", "root_cause_found", "hypotheses", "evidence", "agents", "impact", "scope",
    "timing", "usage", "notes",
}


@pytest.fixture
def report() -> Report:
    incident = Incident(
        id="INC-1042",
        title="Checkout returns 5xx",
        service="checkout",
        started_at=T0 + timedelta(minutes=4),
        window=Window(T0, T0 + timedelta(minutes=30)),
        symptoms=("HTTP 5xx on POST /checkout", "p95 latency 8.2 s"),
        ticket="acme/shop#812",
    )
    evidence = (
        Evidence("ev-trace-1", "trace", "telemetry:spans",
                 "SELECT service, count(*) FROM spans WHERE trace_id IN (...) GROUP BY service",
                 "Failing checkout traces spend 91% of their time in orders: 212 db spans per request",
                 MappingProxyType({"spans_per_request": 212, "share": Decimal("0.91"),
                                   "slowest": ("orders.get_items", "orders.get_item")})),
        Evidence("ev-db-1", "db", "telemetry:db_query_stats", N_PLUS_ONE_SQL,
                 "SELECT * FROM order_items WHERE id = ? ran 48x more often than in the baseline",
                 {"calls": 96_110, "baseline_calls": 2_002, "first_seen": T0 + timedelta(minutes=3)}),
        Evidence("ev-deploy-1", "deployment", "deploys",
                 "SELECT * FROM changes WHERE at BETWEEN '2024-11-12T12:00Z' AND '2024-11-12T14:30Z'",
                 "orders v2.14.0 deployed at 13:58 UTC, 5 minutes before onset",
                 {"at": T0 - timedelta(minutes=2), "version": "v2.14.0"}),
        Evidence("ev-diff-1", "code_diff", "git", f"git show {ORDERS_COMMIT[:12]} -- orders/repository.py",
                 "Diff loads each line item separately | one query per item inside a loop",
                 {"files": ["orders/repository.py"], "lines_added": 14}),
        Evidence("ev-deploy-2", "deployment", "deploys",
                 "SELECT * FROM changes WHERE service = 'frontend'",
                 "frontend v5.2.0 deployed at 14:07 UTC, 4 minutes after onset",
                 {"at": T0 + timedelta(minutes=7)}),
        Evidence("ev-impact-1", "impact", "telemetry:spans",
                 "SELECT endpoint, count(*) FILTER (WHERE status >= 500) FROM spans GROUP BY endpoint",
                 "12.7% of checkout requests failed, against 0.3% in the baseline",
                 {"error_rate": 0.127, "nan": float("nan")}),
    )
    top = RankedHypothesis(
        rank=1,
        summary="orders v2.14.0 introduced an N+1 query on order_items, saturating the database pool",
        service="orders",
        confidence=0.8734,
        evidence=("ev-trace-1", "ev-db-1", "ev-deploy-1", "ev-diff-1"),
        agents=("trace", "db", "deployment", "code_diff"),
        change=ChangeRef(id="chg-311", kind="deploy", version="v2.14.0", commit=ORDERS_COMMIT),
        query="SELECT * FROM order_items WHERE id = ?",
        fault="n_plus_one",
        reasons=("Deployed 5 minutes before onset, the only change in the failing call path",
                 "Four independent agents point at it"),
        mitigation="Roll back orders to v2.13.2",
    )
    runner_up = RankedHypothesis(
        rank=2,
        summary="frontend v5.2.0 broke the checkout form",
        service="frontend",
        confidence=0.21,
        evidence=("ev-deploy-2",),
        contradicting=("ev-trace-1",),
        agents=("deployment",),
        change=ChangeRef(id="chg-315", kind="deploy", version="v5.2.0", commit="def4567890"),
        fault="bad_deploy",
        reasons=("Deployed 4 minutes after the errors began, so it cannot have started them",),
        mitigation="Roll back frontend to v5.1.9",
    )
    agents = (
        AgentRun("trace", "ok", 1840, 1),
        AgentRun("db", "ok", 920, 1),
        AgentRun("deployment", "ok", 310, 2),
        AgentRun("code_diff", "ok", 2210, 1),
        AgentRun("impact", "ok", 640, 1),
        AgentRun("logs", "timeout", 30_000, 0, error="no answer from the log backend within 30 s"),
    )
    impact = Impact(
        requests=48_210, failed_requests=6_123, slow_requests=9_870, users=1_875, tenants=42,
        endpoints=(MappingProxyType({"endpoint": "POST /checkout", "requests": 19_020, "failed": 5_904,
                                     "error_rate": 0.3104}),
                   {"endpoint": "GET /orders/{id}", "requests": 29_190, "failed": 219, "error_rate": 0.0075}),
        error_rate=0.127, baseline_error_rate=0.003, error_budget_burn=42.3,
        onset=T0 + timedelta(minutes=3), peak=T0 + timedelta(minutes=11), peak_error_rate=0.31,
    )
    scope = Scope(window=incident.window, baseline=Window(T0 - timedelta(hours=1), T0),
                  lookback=Window(T0 - timedelta(hours=24), T0 + timedelta(minutes=30)))
    return Report(
        incident=incident, scope=scope, hypotheses=(top, runner_up), evidence=evidence, agents=agents,
        impact=impact, started_at=T0 + timedelta(minutes=40), duration_ms=4_210,
        usage=Usage(tool_calls=17), notes=("logs timed out; its evidence is missing from this report",),
    )


# --- JSON -------------------------------------------------------------------------------------------


def test_json_has_exactly_the_documented_top_level_keys(report):
    document = json.loads(render(report, "json"))
    assert set(document) == TOP_LEVEL_KEYS
    assert document["schema_version"] == "1"
    assert document["root_cause_found"] is True


def test_json_round_trips_and_orders_hypotheses_by_rank(report):
    shuffled = Report(**{**report.__dict__, "hypotheses": tuple(reversed(report.hypotheses))})
    document = json.loads(render(shuffled, "json"))
    assert [h["rank"] for h in document["hypotheses"]] == [1, 2]
    top = document["hypotheses"][0]
    assert top["change"] == {"id": "chg-311", "kind": "deploy", "version": "v2.14.0", "commit": ORDERS_COMMIT}
    assert top["confidence"] == 0.873
    assert json.loads(json.dumps(document)) == document


def test_json_cited_evidence_exists(report):
    document = report_to_dict(report)
    ids = {e["id"] for e in document["evidence"]}
    for hypothesis in document["hypotheses"]:
        assert set(hypothesis["evidence"]) | set(hypothesis["contradicting"]) <= ids


def test_json_datetimes_are_utc_with_z(report):
    document = report_to_dict(report)
    moments = [
        document["incident"]["started_at"], document["incident"]["window"]["start"],
        document["impact"]["onset"], document["impact"]["peak"], document["timing"]["started_at"],
        document["scope"]["lookback"]["end"],
        document["evidence"][1]["data"]["first_seen"],
    ]
    assert all(m.endswith("Z") for m in moments), moments
    assert document["incident"]["started_at"] == "2024-11-12T14:04:00Z"


def test_json_agents_are_keyed_by_name(report):
    agents = report_to_dict(report)["agents"]
    assert agents["logs"] == {"status": "timeout", "duration_ms": 30_000, "evidence_count": 0,
                              "error": "no answer from the log backend within 30 s", "note": None}


def test_json_evidence_data_is_plain_json(report):
    data = {e["id"]: e["data"] for e in report_to_dict(report)["evidence"]}
    assert data["ev-trace-1"] == {"spans_per_request": 212, "share": 0.91,
                                  "slowest": ["orders.get_items", "orders.get_item"]}
    assert data["ev-impact-1"]["nan"] is None  # NaN is not JSON


def test_jsonable_handles_nesting_and_unknowns():
    value = {1: (Decimal("3"), {frozenset({"b", "a"})}), "when": datetime(2024, 1, 1, 12), "x": object}
    converted = jsonable(value)
    assert converted["1"] == [3, [["a", "b"]]]
    assert converted["when"] == "2024-01-01T12:00:00Z"
    assert isinstance(converted["x"], str)
    json.dumps(converted, allow_nan=False)


def test_json_without_root_cause(report):
    weak = Report(**{**report.__dict__, "hypotheses": (RankedHypothesis(1, "maybe the cache", "cache", 0.2, ()),)})
    assert report_to_dict(weak)["root_cause_found"] is False


# --- Markdown ---------------------------------------------------------------------------------------


def test_markdown_leads_with_the_root_cause_and_mitigation(report):
    markdown = render_markdown(report)
    assert markdown.startswith("# INC-1042: Checkout returns 5xx")
    assert "**Root cause** (87% confidence)" in markdown
    assert "**Try first:** Roll back orders to v2.13.2" in markdown


def test_markdown_table_lists_the_orders_change_first(report):
    rows = [line for line in render_markdown(report).splitlines() if line.startswith("| ") and "deploy v" in line]
    assert "deploy v2.14.0 @ abc123f" in rows[0]
    assert "deploy v5.2.0" in rows[1]


def test_markdown_queries_are_in_collapsed_code_blocks(report):
    markdown = render_markdown(report)
    assert "<details><summary>Reproduce</summary>" in markdown
    block = "```sql\n" + "\n".join("  " + line for line in N_PLUS_ONE_SQL.splitlines()) + "\n  ```"
    assert block in markdown
    assert "```shell" in markdown and f"git show {ORDERS_COMMIT[:12]}" in markdown


def test_markdown_escapes_pipes_in_table_cells():
    cell_text = "a | b"
    from inquest.render.markdown import _cell

    assert _cell(cell_text) == "a \\| b"


def test_markdown_escapes_a_pipe_in_a_summary(report):
    piped = RankedHypothesis(3, "pool exhausted | retries amplify", "orders", 0.1, ())
    markdown = render_markdown(Report(**{**report.__dict__, "hypotheses": report.hypotheses + (piped,)}))
    row = next(line for line in markdown.splitlines() if line.startswith("| 3 |"))
    assert "pool exhausted \\| retries amplify" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # five cells: the escaped pipe added no column


def test_markdown_has_impact_agents_and_scope(report):
    markdown = render_markdown(report)
    assert "## Impact" in markdown and "1,875 across 42 tenants" in markdown and "42.3×" in markdown
    assert "| POST /checkout | 19,020 | 5,904 | 31.0% |" in markdown
    assert "| logs | ⏱️ timeout |" in markdown
    assert "## Scope" in markdown and "logs timed out" in markdown


def test_markdown_without_root_cause_says_so(report):
    weak = Report(**{**report.__dict__, "hypotheses": (RankedHypothesis(1, "maybe the cache", "cache", 0.2, ()),)})
    markdown = render_markdown(weak)
    assert "**No root cause found.**" in markdown
    assert "Try first" not in markdown


def test_an_inconclusive_verdict_names_no_root_cause_in_any_format(report):
    from dataclasses import replace

    why = "the baseline 2024-11-12 13:15–13:55 UTC holds no spans or logs, so there is no normal to compare with"
    withheld = replace(report, scope=replace(report.scope, inconclusive=why))
    assert report.root_cause is not None and withheld.root_cause is None  # the same 95% ranking
    document = report_to_dict(withheld)
    assert document["root_cause_found"] is False and document["scope"]["inconclusive"] == why
    markdown = render_markdown(withheld)
    assert f"**Inconclusive: {why}.** Give a known-good period with `--baseline" in markdown
    assert "Unconfirmed lead (no confidence without a usable baseline): " in markdown
    text = render(withheld, "text")
    headline = text.split("Ranked hypotheses")[0]
    assert "INCONCLUSIVE" in headline and "ROOT CAUSE" not in headline and "%" not in headline
    html = render(withheld, "html")
    assert "Inconclusive: the baseline" in html and "Root cause</strong> (" not in html
    assert "Unconfirmed: these confidences assume a normal the baseline does not show" in html


# --- text -------------------------------------------------------------------------------------------


def test_text_shows_mitigation_top_change_runner_up_and_timeout(report):
    text = render(report, "text")
    assert "\x1b[" not in text
    assert "Try first: Roll back orders to v2.13.2" in text
    assert "deploy v2.14.0 @ abc123f" in text
    assert "cannot have started them" in text
    assert "logs" in text and "timeout" in text
    assert "[ev-db-1]" in text  # ids in brackets survive: agent text is never parsed as markup


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_an_llm_run_says_how_long_its_stage_took_apart_from_the_models_latency(report, fmt):
    usage = Usage(tool_calls=17, llm_calls=14, cost_usd=0.13, model="claude-sonnet-4-6", llm_stage_ms=6_100,
                  llm_model_ms=4_200)
    shown = " ".join(render(replace(report, mode="llm", usage=usage), fmt).split())  # as read, across a wrap
    assert "14 LLM calls ($0.13), LLM stage 6.1 s (the model 4.2 s, Inquest 1.9 s)" in shown
    assert json.loads(render(replace(report, usage=usage), "json"))["usage"]["llm_stage_ms"] == 6_100
    assert "LLM stage" not in render(report, fmt)  # no model, nothing to say about one


@pytest.mark.parametrize("width", [80, 100])
def test_text_fits_the_terminal(report, width):
    from rich.console import Console

    from inquest.render.text import render_text

    buffer = io.StringIO()
    render_text(report, Console(file=buffer, width=width, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    assert "ROOT CAUSE" in buffer.getvalue()


def test_text_without_hypotheses(report):
    empty = Report(**{**report.__dict__, "hypotheses": ()})
    assert "NO ROOT CAUSE FOUND" in render(empty, "text")


# --- dispatch and imports ---------------------------------------------------------------------------


def test_unknown_format_names_the_valid_ones(report):
    with pytest.raises(ValueError) as error:
        render(report, "xml")
    for fmt in FORMATS:
        assert fmt in str(error.value)


def test_json_rendering_does_not_import_rich():
    program = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "from inquest.core import Impact, Incident, Report, Scope, Window\n"
        "from inquest.render import render\n"
        "w = Window(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 2, tzinfo=timezone.utc))\n"
        "i = Incident('INC-1', 't', 's', w.start, w)\n"
        "r = Report(i, Scope(w, w, w), (), (), (), Impact(), w.start, 1)\n"
        "render(r, 'json')\n"
        "assert 'rich' not in sys.modules, sorted(m for m in sys.modules if m.startswith('rich'))\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True)


# --- live view --------------------------------------------------------------------------------------


def test_live_view_prints_nothing_off_a_terminal():
    from rich.console import Console

    from inquest.render.live import LiveAgentView

    buffer = io.StringIO()
    with LiveAgentView(["trace", "db"], Console(file=buffer, force_terminal=False)) as view:
        view.update(AgentProgress("trace", "running"))
        view.update(AgentProgress("trace", "ok", 1200, "orders N+1"))
        view.update(AgentProgress("surprise", "error", 5, "boom"))
    assert buffer.getvalue() == ""


def test_live_view_shows_each_agent_on_a_terminal():
    import threading

    from rich.console import Console

    from inquest.render.live import LiveAgentView

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    names = ["trace", "db", "deployment", "logs"]
    with LiveAgentView(names, console) as view:
        workers = [
            threading.Thread(target=view.update, args=(AgentProgress(name, "running"),)) for name in names
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        view.update(AgentProgress("logs", "timeout", 30_000, "gave up"))
        view.update(AgentProgress("db", "ok", 900, "order_items query 48x baseline"))
    output = buffer.getvalue()
    assert all(name in output for name in names)
    assert "order_items query 48x baseline" in output


def test_documented_example_has_the_shape_of_a_real_report(report):
    from pathlib import Path

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if k not in ("data", "agents") or isinstance(v, list)}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return None

    doc = (Path(__file__).parent.parent / "docs" / "report-schema.md").read_text(encoding="utf-8")
    example = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    actual = report_to_dict(report)
    assert shape(example) == shape(actual)
    assert example["agents"]["logs"].keys() == actual["agents"]["logs"].keys()
