"""A faulty cluster cannot stall the report: with a backend that never answers, answers 10 s late, returns
500s or garbage (tests/es_stand_in.py, its own process on 127.0.0.1), the report is written within the
configured deadline plus 2 s and names each view that is missing, and why."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from server_process import ServerProcess, free_port

from inquest.agents import build_agents
from inquest.agents.base import Deps
from inquest.config import CodeConfig, Config, ElasticsearchBackend, InvestigationConfig
from inquest.coordinator.investigation import investigate
from inquest.core import Incident, Window
from inquest.render import render
from inquest.tools.backends.elasticsearch.store import ElasticsearchStore
from inquest.tools.code_history import CodeHistory

STAND_IN = Path(__file__).resolve().parent / "es_stand_in.py"
DEADLINE_S = 3.0  # short, to keep the test quick; the bound under test is this plus 2 s
START = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
INCIDENT = Incident(id="INC-77", title="checkout is slow", service="frontend", started_at=START,
                    window=Window(START, START + timedelta(minutes=30)))
# What each fault must be called in the report: a malformed answer is not an unreachable cluster.
# A request cut at the deadline ends with the agent's, so a silent cluster may show as the agent's timeout.
SILENT = ("did not answer", "no answer within")
NAMED = {"hang": SILENT, "late": SILENT, "500": ("(500: stand_in_exception: it broke)",),
         "garbage": ("malformed response",), "shape": ("malformed response",)}


@pytest.fixture(scope="module", params=list(NAMED))
def faulty_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    mode, port, folder = request.param, free_port(), tmp_path_factory.mktemp(f"stand-in-{request.param}")
    with ServerProcess([sys.executable, STAND_IN, mode, str(port)], log=folder / "stand-in.log") as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/", timeout_s=30)
        yield mode, f"http://127.0.0.1:{port}"


def test_a_faulty_cluster_gives_a_report_by_the_deadline_naming_what_is_missing(faulty_cluster, tmp_path):
    mode, url = faulty_cluster
    # Generous per-request settings, as a user might have: the deadline, not these, must bound the wait.
    settings = ElasticsearchBackend(urls=(url,), request_timeout_s=30, max_retries=3, retry_backoff_s=0.5)
    config = Config(base_dir=tmp_path, code=CodeConfig(repository=tmp_path / "repo"),
                    investigation=InvestigationConfig(agent_timeout_s=20, deadline_s=DEADLINE_S))
    deps = Deps(backend=ElasticsearchStore(settings, tmp_path), code=CodeHistory(config.repository_for), config=config)
    build_agents(config.investigation.agents)  # imported once per process, as a long-running server has them
    started = time.monotonic()
    report = investigate(INCIDENT, deps)
    written = render(report, "json")
    elapsed = time.monotonic() - started

    assert elapsed <= DEADLINE_S + 2, f"the report took {elapsed:.1f} s against a {DEADLINE_S:g} s deadline"
    assert json.loads(written)["incident"]["id"] == "INC-77"
    missing = [run for run in report.agents if run.status in ("error", "timeout")]
    assert {run.agent for run in missing} >= {"trace", "db", "metrics", "logs", "deployment"}
    for run in missing:
        assert any(note.startswith(f"the {run.agent} agent") and "view is missing" in note for note in report.notes)
    errors = " ".join(run.error or "" for run in missing)
    assert any(name in errors for name in NAMED[mode]), errors
    assert "cannot reach" not in errors  # the cluster was reached every time; it answered badly
    assert report.root_cause is None
