"""Servers that tests and benchmarks start on 127.0.0.1, made to die with whoever started them.

A test run or `make bench` killed by a timeout once left noida-db servers holding gigabytes of memory and
/dev/shm for twenty minutes. Three layers keep that from happening again, each covering what the one
before cannot:

- each server runs in a process group of its own, so stopping it stops whatever it forked, and a
  terminal's Ctrl-C (sent to the foreground group) does not reach it before its owner can stop it cleanly;
- the kernel sends it SIGKILL when the thread that started it dies (Linux `PR_SET_PDEATHSIG`, set with
  prctl between fork and exec): this is the only layer that holds when the owner itself is SIGKILLed;
- SIGTERM and SIGINT to the owner, and the interpreter's exit, stop every live server first (its group
  gets SIGTERM, then SIGKILL if it lingers) and remove the directories it owns, then the signal does what
  it did before (pytest's KeyboardInterrupt, or the default termination).

PR_SET_PDEATHSIG follows the *thread* that forked the server: start servers from a thread that lives as
long as they should (the main thread, as pytest fixtures and bench/ do).

    with ServerProcess([binary, "--port", str(port)], log=tmp / "server.log", owned=(tmp,)) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/", timeout_s=30)
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with(parent_pid: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: ask for SIGKILL when the parent dies, and exit at once
    if the parent died before the request was made (the kernel would never send the signal then)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


class ServerProcess:
    """One server process: started in its own group, tied to its parent, stopped with what it owns."""

    def __init__(self, argv: Sequence[str], *, log: Path, owned: Sequence[Path] = (),
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv = [str(arg) for arg in argv]
        self.log = Path(log)
        self.owned = tuple(Path(path) for path in owned)
        self._lock = threading.Lock()
        _Registry.arm()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                env=None if env is None else dict(env), start_new_session=True, preexec_fn=_die_with(os.getpid()))
        _Registry.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_for_http(self, url: str, timeout_s: float, ready: Callable[[httpx.Response], bool] | None = None) -> None:
        """Returns once `url` answers (200, or what `ready` accepts); stops the server and raises if it
        exits or does not answer within `timeout_s`."""
        accept = ready or (lambda response: response.status_code == 200)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if not self.running():
                    raise RuntimeError(f"{Path(self.argv[0]).name} exited ({self.process.returncode}): "
                                       f"{self.log_tail()}")
                try:
                    if accept(httpx.get(url, timeout=2.0)):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            raise RuntimeError(f"{Path(self.argv[0]).name} did not answer on {url} within {timeout_s:g} s")
        except BaseException:
            self.stop()
            raise

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers, then the owned directories are removed.
        Safe to call twice and from any thread; returns once the process is gone."""
        with self._lock:
            if self.running():
                self._signal_group(signal.SIGTERM)
                try:
                    self.process.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.process.wait(timeout=grace_s)
            else:
                self._signal_group(signal.SIGKILL)  # whatever it forked may outlive it
            for path in self.owned:
                shutil.rmtree(path, ignore_errors=True)
            _Registry.discard(self)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is empty already

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Registry:
    """The live servers of this interpreter, and the hooks that stop them when it goes."""

    live: set[ServerProcess] = set()
    previous: dict[int, Any] = {}
    lock = threading.Lock()

    @classmethod
    def add(cls, server: ServerProcess) -> None:
        with cls.lock:
            cls.live.add(server)

    @classmethod
    def discard(cls, server: ServerProcess) -> None:
        with cls.lock:
            cls.live.discard(server)

    @classmethod
    def stop_all(cls) -> None:
        with cls.lock:
            servers = list(cls.live)
        for server in servers:
            server.stop(grace_s=5.0)

    @classmethod
    def arm(cls) -> None:
        """Hooks installed once, on the first server; signal handlers only from the main thread (Python
        allows no other), where pytest and bench/ start their servers."""
        with cls.lock:
            if cls.previous or threading.current_thread() is not threading.main_thread():
                return
            for sig in _STOP_SIGNALS:
                cls.previous[sig] = signal.signal(sig, cls._on_signal)
            atexit.register(cls.stop_all)

    @classmethod
    def _on_signal(cls, signum: int, frame: FrameType | None) -> None:
        cls.stop_all()
        previous = cls.previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            # The default action (termination by this signal, exit status 128+n), as if we were not here.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
