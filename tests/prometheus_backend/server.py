"""A real Prometheus on 127.0.0.1 for tests: Debian's /usr/bin/prometheus, its data put in place by
backfill (`promtool tsdb create-blocks-from openmetrics`) before it starts; it dies with the tests
(tests/server_process.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from server_process import ServerProcess, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def backfill(openmetrics: Path, data_dir: Path) -> None:
    """Builds TSDB blocks from OpenMetrics text into `data_dir` (blocks of up to 2 h, as Prometheus cuts them)."""
    done = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data_dir)],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"promtool could not backfill {openmetrics}: {done.stderr[-2000:]}")


class PrometheusServer(ServerProcess):
    """Prometheus on a free loopback port over `data_dir` (removed when it stops); scrapes nothing, keeps
    every block forever (the backfilled afternoon lies in the past, beyond the default 15-day retention)."""

    def __init__(self, data_dir: Path, startup_timeout_s: float = 60.0) -> None:
        data_dir = Path(data_dir)
        config = data_dir.parent / f"{data_dir.name}.yml"
        config.write_text("global: {}\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        super().__init__([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                          f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                         log=data_dir.parent / f"{data_dir.name}.log", owned=(data_dir,))
        self.wait_for_http(f"{self.url}/-/ready", startup_timeout_s)

    def __enter__(self) -> PrometheusServer:
        return self
