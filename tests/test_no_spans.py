"""Agents say what they did not check: with no spans at all, neither the trace agent nor the deployment
agent may claim that no errors originate somewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from span_fixtures import write_store

from inquest.agents.base import Deps
from inquest.agents.deployment import DeploymentAgent
from inquest.agents.trace import TraceAgent
from inquest.config import Config
from inquest.core import Incident, Scope, Window
from inquest.tools.backends.embedded_schema import StoreWriter
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_a_run_with_no_spans_says_so_instead_of_claiming_no_errors_originate_there(tmp_path):
    path = write_store(tmp_path / "s.duckdb", [])
    with StoreWriter(path) as writer:
        writer.load("changes", [("dep-cart-2", T0 + timedelta(minutes=28), "cart", "deploy", "2.0", None, None,
                                 None, "cart 2.0")])
    deps = Deps(backend=EmbeddedStore(path), code=CodeHistory(lambda s: tmp_path), config=Config(base_dir=tmp_path))
    window = Window(T0 + timedelta(minutes=30), T0 + timedelta(minutes=40))
    incident = Incident("INC-1", "checkout is failing", "frontend", window.start, window)
    scope = Scope(window=window, baseline=Window(T0, T0 + timedelta(minutes=25)), lookback=Window(T0, window.end))

    deployment = DeploymentAgent().investigate(incident, scope, deps)
    said = " ".join(e.summary for e in deployment.evidence)
    assert "no errors originate there" not in said
    assert "no spans to check" in said

    trace = TraceAgent().investigate(incident, scope, deps)
    assert trace.status == "no_data"
    assert "no spans to check" in trace.evidence[0].summary
    assert not trace.hypotheses
