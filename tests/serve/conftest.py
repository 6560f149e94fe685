"""`investigate serve` and Alertmanager as real processes on 127.0.0.1, a GitHub stand-in in the test process.

The world is the small checkout incident of examples/ingest, and investigations run two agents, so twenty
alert groups cost seconds, not minutes: what is under test is the path from an alert to a ticket.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from attach.stand_in import StandIn
from attach.test_attach_github import TOKEN as GITHUB_TOKEN
from attach.test_attach_github import GitHubIssue
from server_process import ServerProcess, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ingest"
INVESTIGATE = str(Path(sys.executable).parent / "investigate")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
SERVE_TOKEN = "serve-test-token-7f3a"
# The example world's payments incident: alerts start here so the investigation has data to look at.
ALERT_START = datetime(2026, 3, 12, 10, 29, 30, tzinfo=UTC)
TICKET = "acme/shop#812"


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, log: Path | None = None) -> object:
    """Polls until `condition()` is truthy; fails naming `what`, with the server's log, when it is not in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"gave up waiting for {what}\n--- server log ---\n{tail}")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inquest.ingest.driver import ingest

    store = tmp_path_factory.mktemp("serve-world") / "store.duckdb"
    ingest(store, [EXAMPLES / name for name in ("traces.json", "logs.json", "metrics.json", "changes.ndjson")])
    return store


@pytest.fixture(scope="module")
def github():
    issue = GitHubIssue()
    with StandIn(issue) as server:
        issue.base = server.url
        yield server, issue


@dataclass
class Serve:
    folder: Path
    config: Path
    port: int
    server: ServerProcess | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """This run's log: each start writes its own."""
        return self.folder / f"serve-{self.runs}.log"

    @property
    def reports(self) -> Path:
        return self.folder / "data" / "reports"

    def start(self) -> Serve:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INQUEST_")}
        env.update(INQUEST_SERVE_TOKEN=SERVE_TOKEN, GITHUB_TOKEN=GITHUB_TOKEN)
        self.runs += 1
        self.server = ServerProcess([INVESTIGATE, "serve", "--config", self.config, "--listen", f"127.0.0.1:{self.port}"],
                                    log=self.log, env=env, cwd=self.folder)
        self.server.wait_for_http(f"{self.url}/healthz", timeout_s=90)
        return self

    def stop(self, grace_s: float = 60) -> int:
        """SIGTERM, as systemd or a container runtime sends it; its exit status."""
        assert self.server is not None
        self.server.stop(grace_s=grace_s)
        return self.server.process.returncode

    def kill(self) -> None:
        if self.server is not None:
            self.server.stop(grace_s=5)

    def post(self, body: bytes | dict, token: str | None = SERVE_TOKEN) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(f"{self.url}/alertmanager", content=content, headers=headers, timeout=10)

    def metrics(self) -> dict[str, float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line and not line.startswith("#")}

    def idle(self) -> bool:
        values = self.metrics()
        return values["inquest_serve_queue_depth"] == 0 and values["inquest_serve_investigations_running"] == 0


def make_serve(folder: Path, store: Path, github_url: str, **serve: object) -> Serve:
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"data_dir": str(folder / "data"), "token": "${INQUEST_SERVE_TOKEN}", "quiet_period_s": 0,
                "concurrency": 2, "shutdown_grace_s": 30,
                "routes": [{"match": {"service": "payments", "team": "elsewhere"}, "attach": ["github"],
                            "ticket": "acme/shop#999"},  # an issue the stand-in does not have
                           {"match": {"service": "payments"}, "attach": ["github"], "ticket": TICKET}], **serve}
    config = {
        "backend": {"embedded": {"path": str(store), "demo": False}},
        "code": {"repository": str(folder / "no-repo")},
        "investigation": {"agents": ["deployment", "trace"]},
        "attach": {"github": {"api_url": github_url}, "retries": 0, "state_file": str(folder / "attach-state.json")},
        "serve": settings,
    }
    path = folder / "config.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return Serve(folder, path, free_port())


def notification(alertname: str, instances: tuple[str, ...] = ("pay-1",), status: str = "firing") -> dict:
    """An Alertmanager v4 webhook body, as Alertmanager would send it for group_by [alertname]."""
    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-12T10:50:00Z"
    alerts = [{"status": status, "labels": {"alertname": alertname, "service": "payments", "instance": i},
               "annotations": {"summary": f"{alertname} on payments"}, "startsAt": ALERT_START.isoformat(),
               "endsAt": ends, "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": f"{alertname}-{i}"}
              for i in instances]
    return {"version": "4", "groupKey": f'{{}}:{{alertname="{alertname}"}}', "truncatedAlerts": 0, "status": status,
            "receiver": "inquest", "groupLabels": {"alertname": alertname},
            "commonLabels": {"alertname": alertname, "service": "payments"}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093", "alerts": alerts}


@dataclass
class Alertmanager:
    url: str

    def post(self, *alerts: dict) -> None:
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        assert response.status_code == 200, response.text


def am_alert(alertname: str, instance: str, resolved: bool = False) -> dict:
    """An alert as a Prometheus server posts it to Alertmanager's API (/api/v2/alerts)."""
    now = datetime.now(UTC)
    return {"labels": {"alertname": alertname, "service": "payments", "instance": instance},
            "annotations": {"summary": f"{alertname} on payments"},
            "startsAt": ALERT_START.isoformat(),
            "endsAt": (now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)).isoformat(),
            "generatorURL": "http://127.0.0.1:9090/graph"}


def start_alertmanager(folder: Path, serve: Serve) -> tuple[Alertmanager, ServerProcess]:
    if not Path(ALERTMANAGER).exists():
        pytest.skip("prometheus-alertmanager is not installed (make system-deps installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Short group timings so a test sees a group's first notification, its update and its resolution in seconds.
    config = {
        "route": {"receiver": "inquest", "group_by": ["alertname"], "group_wait": "500ms",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "inquest", "webhook_configs": [{
            "url": f"{serve.url}/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": SERVE_TOKEN}}}]}],
    }
    (folder / "alertmanager.yml").write_text(json.dumps(config), encoding="utf-8")
    server = ServerProcess([ALERTMANAGER, f"--config.file={folder / 'alertmanager.yml'}",
                            f"--storage.path={folder / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
                            "--cluster.listen-address=", "--log.level=warn"],
                           log=folder / "alertmanager.log", owned=(folder / "am-data",))
    url = f"http://127.0.0.1:{port}"
    server.wait_for_http(f"{url}/-/ready", timeout_s=30)
    return Alertmanager(url), server
