"""The command line as a new user meets it, through the installed console script (issue 14): help, typos,
a fresh folder with their own data, clean exits. Each test runs `investigate` as a process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config

from inquest import registry

INVESTIGATE = f"{sys.prefix}/bin/investigate"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ingest"
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[()][0-9A-B]|[=>])")


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INVESTIGATE, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A user with no config anywhere: no ./config.yaml, an empty XDG config folder."""
    (tmp_path / "xdg").mkdir()
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}


@pytest.fixture(scope="module")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's ingest example loaded into a store of its own, through `--store`."""
    store = tmp_path_factory.mktemp("example") / "store.duckdb"
    done = run("ingest", str(EXAMPLE), "--store", str(store), cwd=store.parent)
    assert done.returncode == 0, done.stderr
    return store


def test_help_names_every_command_with_a_line_each():
    done = run("--help")
    assert done.returncode == 0
    listed = dict(re.findall(r"^  (\S+) +(\S.*)$", done.stdout.split("commands")[1], re.M))
    assert set(registry.names(registry.COMMANDS)) <= set(listed)
    assert {"incidents", "ingest", "init", "replay", "bench", "completion"} <= set(listed)


def test_no_arguments_prints_the_help_and_exits_2_as_documented():
    done = run()
    assert done.returncode == 2 and "usage: investigate" in done.stdout and "incidents" in done.stdout
    assert "investigate alone prints this help and exits 2" in done.stdout


def test_version():
    for flag in ("-V", "--version"):
        done = run(flag)
        assert done.returncode == 0 and re.fullmatch(r"inquest \d+\.\d+\.\d+\n", done.stdout)


def test_a_typo_in_a_command_suggests_the_command():
    done = run("incidnets")
    assert done.returncode == 2 and "did you mean `investigate incidents`" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_folder_without_config_builds_nothing_and_says_what_to_do(tmp_path, home):
    work = tmp_path / "work"
    work.mkdir()
    done = run("incidents", cwd=work, env=home)
    assert done.returncode == 2 and "investigate ingest" in done.stderr and done.stderr.count("\n") == 1
    assert list(work.iterdir()) == []


def test_init_ingest_investigate_in_a_fresh_folder(tmp_path, home):
    work = tmp_path / "work"
    work.mkdir()
    assert run("init", cwd=work, env=home).returncode == 0
    assert "demo: false" in (work / "config.yaml").read_text()
    assert run("init", cwd=work, env=home).returncode == 2  # never overwrites what the user edited
    for name in ("traces.json", "traces-earlier.json.gz", "logs.json", "metrics.json", "changes.ndjson", "incident.yaml"):
        (work / name).write_bytes((EXAMPLE / name).read_bytes())
    loaded = run("ingest", ".", cwd=work, env=home)  # the folder holds config.yaml too: not an incident file
    assert loaded.returncode == 0 and "0 rejected" in loaded.stdout and "config.yaml: skipped" in loaded.stdout
    done = run("INC-2001", "--format", "json", cwd=work, env=home)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["hypotheses"][0]["service"] == "payments"
    assert {p.name for p in work.iterdir()} - {"traces.json", "traces-earlier.json.gz", "logs.json", "metrics.json",
                                              "changes.ndjson", "incident.yaml"} == {".inquest", "config.yaml"}


def test_config_from_xdg_and_the_store_from_the_environment(tmp_path, home, example_store):
    work = tmp_path / "work"
    work.mkdir()
    (Path(home["XDG_CONFIG_HOME"]) / "inquest").mkdir()
    (Path(home["XDG_CONFIG_HOME"]) / "inquest" / "config.yaml").write_text("investigation: {agent_timout_s: 3}\n")
    done = run("incidents", cwd=work, env={**home, "INQUEST_STORE": str(example_store)})
    assert done.returncode == 2 and "did you mean 'investigation.agent_timeout_s'" in done.stderr
    (Path(home["XDG_CONFIG_HOME"]) / "inquest" / "config.yaml").write_text("investigation: {agent_timeout_s: 3}\n")
    done = run("incidents", cwd=work, env={**home, "INQUEST_STORE": str(example_store)})
    assert done.returncode == 0 and "INC-2001" in done.stdout


def test_an_incident_id_in_another_case_suggests_the_known_one(example_store):
    done = run("inc-2001", "--store", str(example_store))
    assert done.returncode == 2 and "did you mean INC-2001?" in done.stderr


def test_output_into_a_missing_folder_exits_2_before_any_work(tmp_path, example_store):
    done = run("INC-2001", "--store", str(example_store), "--output", str(tmp_path / "nope" / "r.html"))
    assert done.returncode == 2 and f"the folder {tmp_path / 'nope'} does not exist" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "nope").exists()


def test_an_investigation_ends_with_its_whole_report_and_nothing_else(tmp_path, example_store):
    # The process leaves without tearing the interpreter down (cli._leave): what it printed and wrote is whole,
    # the report on a buffered stdout too.
    done = run("INC-2001", "--store", str(example_store), "--format", "json", "--trace-out", str(tmp_path / "t.json"),
               env={"PYTHONUNBUFFERED": ""})
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["hypotheses"][0]["service"] == "payments"
    spans = json.loads((tmp_path / "t.json").read_text())["resourceSpans"][0]["scopeSpans"]
    assert "investigation" in {span["name"] for scope in spans for span in scope["spans"]}


def test_leaving_early_still_flushes_runs_atexit_and_waits_for_a_working_thread(tmp_path):
    # What a normal exit does that a user would miss: buffered output, atexit handlers (temporary folders,
    # exporters), a non-daemon thread's work.
    code = ("import atexit, sys, threading, time\nfrom inquest import cli\n"
            f"atexit.register(lambda: open({str(tmp_path / 'atexit')!r}, 'w').write('ran'))\n"
            "if sys.argv[1] == 'thread':\n"
            f"    threading.Thread(target=lambda: (time.sleep(0.3), open({str(tmp_path / 'thread')!r}, 'w'))).start()\n"
            "print('report', end='')\nsys.exit(cli._leave(1))")
    for case in ("alone", "thread"):
        done = subprocess.run([sys.executable, "-c", code, case], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONUNBUFFERED": ""})
        assert (done.returncode, done.stdout, done.stderr) == (1, "report", "")
        assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").exists()


def test_an_error_is_one_line_and_debug_shows_the_trace(tmp_path):
    (tmp_path / "bad.yaml").write_text("investigation: {agent_timeout_s: soon}\n")
    plain = run("incidents", "--config", str(tmp_path / "bad.yaml"))
    debug = run("incidents", "--config", str(tmp_path / "bad.yaml"), "--debug")
    assert plain.returncode == debug.returncode == 2
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "investigation.agent_timeout_s" in debug.stderr


def test_bash_completion_completes_command_words(tmp_path, home):
    script = run("completion", "bash").stdout
    done = subprocess.run(["bash", "-c", 'source /dev/stdin; COMP_WORDS=(investigate in); COMP_CWORD=1; '
                           '_investigate; echo "${COMPREPLY[@]}"'], input=script, capture_output=True, text=True,
                          timeout=30, cwd=tmp_path,
                          env={**os.environ, **home, "PATH": f"{sys.prefix}/bin:{os.environ['PATH']}"})
    assert done.stdout.split() == ["incidents", "ingest", "init"]
    # completing asked `investigate incidents` for ids here, a folder without config: it built no demo world
    assert [p.name for p in tmp_path.iterdir()] == ["xdg"]
    for shell in ("zsh", "fish"):
        assert "replay" in run("completion", shell).stdout


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the other side closed
                break
    return seen


@pytest.mark.slow
def test_ctrl_c_during_the_live_view_is_one_line_and_exit_130(demo_world, tmp_path):
    """The live view draws on a terminal (a pty); Ctrl-C while agents query DuckDB on their threads."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([INVESTIGATE, "INC-1042", "--config", write_config(demo_world, tmp_path)],
                            stdin=secondary, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    try:
        drawn = _read_until(primary, b"running", time.monotonic() + 120)
        assert b"running" in drawn, drawn.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        after = _read_until(primary, b"\0never", time.monotonic() + 30)
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
        os.close(primary)
    text = ANSI.sub("", after.decode(errors="replace")).replace("\r", "\n")
    # Frames of the live view drawn before the signal landed are still in the pty's buffer; what is not a
    # row of that table is what the interrupt printed.
    table_row = re.compile(r"^\s*(Agent\s+State|─+$|(trace|db|metrics|logs|deployment|code_diff|impact)\s)")
    lines = [line.strip() for line in text.split("\n") if line.strip() and not table_row.match(line)]
    assert lines == ["investigate: interrupted"], text
    assert "Traceback" not in text and "leaked" not in text


def test_an_unset_variable_breaks_only_the_integration_that_uses_it(tmp_path, example_store):
    config = tmp_path / "config.yaml"
    config.write_text("backend:\n  elasticsearch:\n    api_key: ${ES_API_KEY}\n"
                      "attach:\n  webhook:\n    url: ${HOOK_URL}\n  github:\n    token: ${INQ_GH_TOKEN}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("ES_API_KEY", "HOOK_URL", "INQ_GH_TOKEN")}
    env["INQUEST_WEBHOOK_SECRET"] = "s3cret"
    listed = subprocess.run([INVESTIGATE, "incidents", "--config", str(config), "--store", str(example_store)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0 and "INC-2001" in listed.stdout
    attach = subprocess.run([INVESTIGATE, "INC-2001", "--config", str(config), "--store", str(example_store),
                             "--attach", "webhook"], capture_output=True, text=True, env=env, timeout=120)
    assert attach.returncode == 2 and "attach.webhook.url: environment variable HOOK_URL" in attach.stderr
    assert attach.stdout == ""  # checked before the investigation: no report
    github = subprocess.run([INVESTIGATE, "INC-2001", "--config", str(config), "--store", str(example_store),
                             "--attach", "github"], capture_output=True, text=True, env=env, timeout=120)
    assert github.returncode == 2 and github.stdout == ""
    assert github.stderr.startswith("investigate: error: --attach github: $INQ_GH_TOKEN is not set (attach.github.token)")
    cluster = subprocess.run([INVESTIGATE, "INC-2001", "--config", str(config), "--backend", "elasticsearch"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert cluster.returncode == 2 and "backend.elasticsearch.api_key: environment variable ES_API_KEY" in cluster.stderr
