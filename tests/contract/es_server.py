"""A real server speaking the Elasticsearch REST API on 127.0.0.1, started and stopped by tests and
the benchmark: noida-db (a PyPI package bundling one native binary), run as a `ServerProcess`
(tests/server_process.py) so that it dies with whoever started it and takes its data with it."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from server_process import ServerProcess, free_port

__all__ = ["NoidaServer", "free_port", "noida_binary"]


def noida_binary() -> Path:
    binary = Path(str(resources.files("noida_db").joinpath("noida-db")))
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)  # as the package's own launcher does
    return binary


class NoidaServer(ServerProcess):
    """`noida-db start --only elasticsearch` on a free loopback port, its data in `data_dir`, which is
    removed when the server stops (the server keeps every document there: hundreds of MB in a bench)."""

    def __init__(self, data_dir: Path, startup_timeout_s: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [noida_binary(), "start", "--data-dir", self.data_dir, "--host", "127.0.0.1",
             "--only", "elasticsearch", "--elasticsearch-port", str(self.port)],
            log=self.data_dir / "noida.log", owned=(self.data_dir,))
        self.wait_for_http(self.url, startup_timeout_s)

    def __enter__(self) -> NoidaServer:
        return self
