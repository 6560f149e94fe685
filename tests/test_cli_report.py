"""The report as the terminal shows it (issue 14 points 1 and 7), through the installed console script:
every "no root cause" explained, and the answer on the last screen."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_process import ANSI, EXAMPLE, run

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def internal_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-traced batch spans, INTERNAL only, nothing in the baseline window."""
    store = tmp_path_factory.mktemp("internal") / "store.duckdb"
    assert run("ingest", str(FIXTURES / "internal-only"), "--store", str(store)).returncode == 0
    return store


def on_a_terminal(*args: str, width: int = 100) -> str:
    """Runs investigate with stdout on a pty, as a person in a terminal sees it (ANSI codes removed)."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": str(width), "LINES": "50"}
    proc = subprocess.Popen([f"{sys.prefix}/bin/investigate", *args], stdin=subprocess.DEVNULL, stdout=secondary,
                            stderr=subprocess.DEVNULL, env=env)
    os.close(secondary)
    out, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(primary)
    return ANSI.sub("", out.decode(errors="replace")).replace("\r", "")


def test_internal_spans_and_an_empty_baseline_are_both_said(internal_only):
    done = run("INC-7", "--store", str(internal_only), "--no-live")
    text = " ".join(done.stdout.split())
    assert done.returncode == 1
    assert "holds no spans or logs, so there is no normal to compare with" in text and "--baseline" in text
    assert "no root spans in the incident window (span kinds present: INTERNAL)" in text
    # each agent that found nothing says why in its Note column, not only in --format json
    assert re.search(r"db\s+no data\s+\S+ ms\s+\d+\s+no database telemetry", done.stdout)
    assert "Data coverage" in done.stdout and "root spans (requests entering): 0" in text
    # where the data is, so a window or baseline set on the wrong day is seen at once
    assert "the store holds spans 2026-03-12 10:20:00–10:39:00 UTC (20); no logs; no metrics" in text


def test_the_baseline_can_be_pinned_and_a_bad_one_is_a_usage_error(internal_only):
    pinned = run("INC-7", "--store", str(internal_only), "--no-live", "--baseline", "2026-03-12T10:20Z/2026-03-12T10:29Z")
    assert "Window 2026-03-12 10:20–10:40 UTC · baseline 2026-03-12 10:20–10:29 UTC" in pinned.stdout
    assert "holds no spans or logs" not in pinned.stdout
    bad = run("INC-7", "--store", str(internal_only), "--baseline", "2026-03-12T10:20Z")
    assert bad.returncode == 2 and "--baseline" in bad.stderr and bad.stderr.count("\n") == 2  # usage + error


def test_an_incident_file_may_pin_its_own_baseline_and_the_command_line_wins(tmp_path):
    # The same hand-traced spans, declared with a known-good period where the default baseline is empty.
    folder = tmp_path / "pinned"
    folder.mkdir()
    (folder / "traces.json").write_bytes((FIXTURES / "internal-only" / "traces.json").read_bytes())
    (folder / "incident.yaml").write_text(
        "id: INC-7\ntitle: worker batches slow\nservice: worker\nstarted_at: 2026-03-12T10:30:00Z\n"
        "window: {start: 2026-03-12T10:20:00Z, end: 2026-03-12T10:40:00Z}\n"
        "baseline: {start: 2026-03-12T10:20:00Z, end: 2026-03-12T10:29:00Z}\n")
    store = str(tmp_path / "store.duckdb")
    assert run("ingest", str(folder), "--store", store).returncode == 0
    from_file = json.loads(run("INC-7", "--store", store, "--format", "json").stdout)
    assert from_file["scope"]["baseline"]["start"].startswith("2026-03-12T10:20")
    assert from_file["scope"]["baseline"]["end"].startswith("2026-03-12T10:29")
    # the default baseline (09:35-09:55) holds nothing; the pinned one does, so nothing says it is empty
    assert not [note for note in from_file["notes"] if "baseline" in note]
    overridden = run("INC-7", "--store", store, "--no-live", "--baseline", "2026-03-12T10:21Z/2026-03-12T10:28Z")
    assert "baseline 2026-03-12 10:21–10:28 UTC" in overridden.stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("example") / "store.duckdb"
    assert run("ingest", str(EXAMPLE), "--store", str(store)).returncode == 0
    return store


def summary_panel(output: str) -> str:
    """The box the output ends with, which must fit one 24-line screen: how tall it is depends on how its
    notes wrap (paths in them), so it is found by its frame rather than by counting lines from the end."""
    lines = output.rstrip().splitlines()
    top = max(i for i, line in enumerate(lines) if line.startswith("╭"))
    panel = lines[top:]
    assert panel[-1].startswith("╰") and all(line.startswith("│") for line in panel[1:-1]), "output ends with the box"
    assert len(panel) <= 24, f"the summary is {len(panel)} lines, more than a screen"
    return "\n".join(panel)


def test_the_terminal_report_ends_with_the_answer(example):
    compact = on_a_terminal("INC-2001", "--store", str(example), "--no-live")
    last_screen = summary_panel(compact)
    assert "INC-2001 · summary" in last_screen and "Root cause" in last_screen
    assert re.search(r"Confidence\s+\d+%", last_screen) and "Try first" in last_screen
    assert "payments" in last_screen and "--full" in last_screen
    assert "Why #1 ranks first" not in compact and len(compact.splitlines()) < 60
    full = on_a_terminal("INC-2001", "--store", str(example), "--no-live", "--full")
    assert "Why #1 ranks first" in full and "Runners-up" in full
    assert "INC-2001 · summary" in summary_panel(full)


def test_code_diff_without_a_repository_is_skipped_with_the_setting_to_fix_it(example, tmp_path):
    done = run("INC-2001", "--store", str(example), "--format", "json", cwd=tmp_path)
    code_diff = json.loads(done.stdout)["agents"]["code_diff"]
    assert done.returncode == 0 and code_diff["status"] == "skipped" and code_diff["error"] is None
    assert "code.repositories" in code_diff["note"] and "payments" in code_diff["note"]


def test_an_empty_baseline_gives_an_inconclusive_verdict_with_the_fix_first(example):
    # The example ranks the payments deploy first with a confident root cause (the test above); against a
    # baseline where the store holds nothing, it must not claim one.
    done = run("INC-2001", "--store", str(example), "--no-live", "--baseline", "2026-03-11T10:00Z/2026-03-11T10:40Z")
    assert done.returncode == 1  # documented: the investigation completed without a root cause
    headline = done.stdout.split("Ranked hypotheses")[0]
    assert "INCONCLUSIVE" in headline and "ROOT CAUSE" not in headline and "%" not in headline
    assert "holds no spans or logs" in headline and "--baseline START/END" in " ".join(headline.split())
    assert "Unconfirmed lead" in headline
    assert "Try first" not in summary_panel(done.stdout) and "If confirmed" in summary_panel(done.stdout)
