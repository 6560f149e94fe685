"""A real server speaking the Elasticsearch REST API on 127.0.0.1, started and stopped by tests and
the benchmark: noida-db (a PyPI package bundling one native binary), run in the foreground in a
process group of its own so that stopping it leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noida_binary() -> Path:
    binary = Path(str(resources.files("noida_db").joinpath("noida-db")))
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)  # as the package's own launcher does
    return binary


class NoidaServer:
    """`noida-db start --only elasticsearch` on a free loopback port, its data in `data_dir`."""

    def __init__(self, data_dir: Path, startup_timeout_s: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.data_dir / "noida.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(noida_binary()), "start", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                 "--only", "elasticsearch", "--elasticsearch-port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_healthy(startup_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_until_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"noida-db exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"noida-db did not answer on {self.url} within {timeout_s:g} s")

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers; returns once the process is gone."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            raise RuntimeError(f"noida-db (pid {self.process.pid}) is still running")

    def __enter__(self) -> NoidaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
