"""Servers started by tests and benchmarks die with their parent (tests/server_process.py).

Each test runs an owner in a child process (a script as bench/ runs, or `pytest -m elasticsearch`), waits
until its server answers, kills the owner, and looks for the server: it must be gone, with its data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# An owner as bench/ is one: a plain script holding a server (a stdlib HTTP server: cheap) until killed.
PLAIN_OWNER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from server_process import ServerProcess, free_port
data, note = Path(sys.argv[1]), Path(sys.argv[2])
data.mkdir()
port = free_port()
server = ServerProcess([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                       log=data / "server.log", owned=(data,))
server.wait_for_http(f"http://127.0.0.1:{{port}}/", timeout_s=60)
note.write_text(str(server.pid))
time.sleep(600)
"""

# bench/es_bench.py's own server, started the way `make bench` starts it.
BENCH_OWNER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from es_bench import local_server
server = local_server()
Path(sys.argv[2]).write_text(f"{{server.pid}} {{server.data_dir}}")
time.sleep(600)
"""

# A test of the Elasticsearch suite holding its noida-db server, run by `pytest -m elasticsearch`.
PYTEST_OWNER = """
import sys, time
from pathlib import Path
import pytest
sys.path.insert(0, {tests!r})
from contract.es_server import NoidaServer

@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    with NoidaServer(tmp_path_factory.mktemp("noida")) as server:
        yield server

@pytest.mark.elasticsearch
def test_holds_the_cluster(cluster):
    Path({note!r}).write_text(f"{{cluster.pid}} {{cluster.data_dir}}")
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for a parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _run_owner(argv: list[str], note: Path, cwd: Path) -> tuple[subprocess.Popen, list[str]]:
    """Starts the owner and returns once it has written its server's pid (and data dir) to `note`."""
    owner = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120  # a bound on a hang, not a speed check: noida-db starts in ~1 s
    while not (note.exists() and note.read_text()):
        if owner.poll() is not None or time.monotonic() > deadline:
            os.killpg(owner.pid, signal.SIGKILL)
            pytest.fail(f"the owner never started its server: {owner.communicate()[0].decode()[-2000:]}")
        time.sleep(0.1)
    return owner, note.read_text().split()


def _kill_and_look(owner: subprocess.Popen, sig: signal.Signals, server_pid: int) -> bool:
    """Sends `sig` to the owner alone (not its group: the server must not be hit directly), waits for it
    to end, and reports whether the server outlived it."""
    owner.send_signal(sig)
    owner.wait(timeout=60)
    deadline = time.monotonic() + 30  # the kernel's SIGKILL on parent death is asynchronous
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    survived = _alive(server_pid)
    if survived:
        os.kill(server_pid, signal.SIGKILL)  # leave nothing behind even when the test fails
    return survived


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_killed_owner_takes_its_server_and_data_with_it(tmp_path, sig):
    data, note = tmp_path / "data", tmp_path / "pid"
    owner, (pid,) = _run_owner([sys.executable, "-c", PLAIN_OWNER.format(tests=str(TESTS)), str(data), str(note)],
                               note, tmp_path)
    assert _alive(int(pid))
    assert not _kill_and_look(owner, sig, int(pid)), f"the server outlived its owner killed by {sig.name}"
    if sig != signal.SIGKILL:  # a SIGKILLed owner runs no code; the kernel still kills the server
        assert not data.exists(), "the server's data was left behind"


@pytest.mark.elasticsearch
def test_sigterm_to_the_es_bench_leaves_no_noida_server(tmp_path):
    note = tmp_path / "pid"
    owner, (pid, data) = _run_owner(
        [sys.executable, "-c", BENCH_OWNER.format(bench=str(ROOT / "bench")), "-", str(note)], note, ROOT)
    assert Path(data).is_dir()
    assert not _kill_and_look(owner, signal.SIGTERM, int(pid)), "noida-db outlived the benchmark"
    assert not Path(data).exists(), f"the benchmark's server data was left in {data}"


@pytest.mark.elasticsearch
def test_sigterm_to_pytest_elasticsearch_leaves_no_noida_server(tmp_path):
    note, suite = tmp_path / "pid", tmp_path / "test_holding.py"
    suite.write_text(textwrap.dedent(PYTEST_OWNER.format(tests=str(TESTS), note=str(note))))
    owner, (pid, data) = _run_owner(
        [sys.executable, "-m", "pytest", "-m", "elasticsearch", "-p", "no:cacheprovider", "-q",
         "-o", "markers=elasticsearch", f"--basetemp={tmp_path / 'base'}", str(suite)], note, tmp_path)
    assert not _kill_and_look(owner, signal.SIGTERM, int(pid)), "noida-db outlived `pytest -m elasticsearch`"
    assert not Path(data).exists(), f"the suite's server data was left in {data}"
