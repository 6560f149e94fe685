"""`replay --every`: a real long-lived process on a per-second cron schedule, stopped with SIGTERM.

Waiting here is for events the process writes (a line in a file), never for a span of time: a hang
guard fails the test only if the process stops making progress altogether."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inquest.replay.schedule import ScheduleError, parse_schedule

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ingest"
HANG_GUARD_S = 300

SCRIPTED_JOB = '''
import sys, time
from pathlib import Path
from inquest.replay.schedule import Scheduler

log_file, events = Path(sys.argv[1]), Path(sys.argv[2])
runs = 0

def write(path, line):
    with path.open("a") as f:
        f.write(line + "\\n")

def job():
    global runs
    runs += 1
    n = runs
    write(events, f"start {n}")
    try:
        if n == 2:
            raise RuntimeError("replay exploded")
        if n == 3:
            time.sleep(2.5)  # outlasts the one-second interval
        if n == 4:
            write(events, "inside run 4")
            time.sleep(1.5)  # the test sends SIGTERM meanwhile
        return 0
    finally:
        write(events, f"end {n}")

sys.exit(Scheduler(sys.argv[3], job, lambda m: write(log_file, m)).run())
'''


def wait_for(path: Path, text: str, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(f"the scheduler exited ({process.returncode}) before writing {text!r}:\n{content}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"no {text!r} in {path} after {HANG_GUARD_S} s")


def start_scripted(tmp_path: Path, expression: str) -> tuple[subprocess.Popen, Path, Path]:
    script, log, events = tmp_path / "scheduled.py", tmp_path / "scheduler.log", tmp_path / "events"
    script.write_text(SCRIPTED_JOB)
    process = subprocess.Popen([sys.executable, str(script), str(log), str(events), expression])
    return process, log, events


def test_failed_and_overlong_runs_then_sigterm_finishes_the_current_run(tmp_path):
    process, log, events = start_scripted(tmp_path, "* * * * * *")
    try:
        wait_for(events, "inside run 4", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=HANG_GUARD_S) == 0
    finally:
        process.kill()
    lines = [line for line in events.read_text().splitlines() if not line.startswith("inside")]
    # strictly one run at a time, the failed run did not end the schedule, and run 4 completed after SIGTERM
    assert lines == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3", "start 4", "end 4"]
    logged = log.read_text()
    assert "run failed; the next run is still scheduled" in logged and "RuntimeError: replay exploded" in logged
    assert "the run outlasted its interval: skipped" in logged
    assert "SIGTERM: stopping once the current run finishes" in logged and logged.rstrip().endswith("stopped")


def test_sigterm_while_waiting_for_the_next_slot_stops_at_once(tmp_path):
    process, log, events = start_scripted(tmp_path, "0 3 * * *")
    try:
        wait_for(log, "first run at", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=HANG_GUARD_S) == 0
    finally:
        process.kill()
    assert not events.exists() and log.read_text().rstrip().endswith("stopped")


def test_a_bad_cron_expression_is_refused_naming_the_option():
    assert parse_schedule(" 0 3 * * * ") == "0 3 * * *"
    with pytest.raises(ScheduleError, match=r"--every: '0 25 \* \* \*' is not a cron expression"):
        parse_schedule("0 25 * * *")


def test_the_replay_command_runs_on_schedule_and_stores_every_completed_run(tmp_path):
    """The installed command, end to end: replays a small exported incident every second until SIGTERM."""
    case = tmp_path / "cases" / "payments"
    (case / "telemetry").mkdir(parents=True)
    for name in ("changes.ndjson", "incident.yaml", "logs.json", "metrics.json", "traces.json",
                 "traces-earlier.json.gz"):
        shutil.copy(EXAMPLES / name, case / "telemetry" / name)
    (case / "case.yaml").write_text("id: payments\nincident: INC-2001\nexpected_agent_failures: [code_diff]\n"
                                    "truth: {service: payments, change: dep-payments-4.2.0}\n")
    data = tmp_path / "data"
    (tmp_path / "config.yaml").write_text(f"replay:\n  data_dir: {data}\n")
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        process = subprocess.Popen([f"{sys.prefix}/bin/investigate", "replay", str(case), "--every", "* * * * * *",
                                    "--compare", "last", "--config", str(tmp_path / "config.yaml")],
                                   stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for(stderr, "finished with exit code 0", process)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=HANG_GUARD_S) == 0
        finally:
            process.kill()
    logged = stderr.read_text()
    finished = logged.count("finished with exit code 0")
    with sqlite3.connect(data / "history.sqlite") as con:
        stored = con.execute("SELECT count(*), min(top1) FROM runs").fetchone()
    assert finished >= 1 and stored == (finished, 1.0)  # a run SIGTERM interrupted was finished and stored too
    assert (data / "scorecard.html").is_file() and "replay: stopped" in logged
