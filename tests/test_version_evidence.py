"""Spans that carry service.version: a deploy is judged by its new pods against the old ones, same minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from span_fixtures import S, span_rows, write_store

from inquest.agents.base import Deps
from inquest.agents.deployment import DeploymentAgent
from inquest.config import Config
from inquest.coordinator.investigation import investigate
from inquest.core import Incident, Scope, Window
from inquest.tools.backends.embedded_schema import StoreWriter
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEPLOY = T0 + timedelta(minutes=43)
WINDOW = Window(T0 + timedelta(minutes=45), T0 + timedelta(minutes=55))


def traces(tmp_path):
    """frontend → cart every 2 s for 55 min. cart runs 1.9.0 on two pods; at DEPLOY one of them is
    replaced by a 2.0.0 pod, which fails 40% of its requests (and frontend relays the failures)."""
    rows = []
    for i in range(55 * 30):
        at = T0 + timedelta(seconds=2 * i)
        new = at >= DEPLOY and i % 2 == 0
        failed = new and i % 5 < 2
        version = "2.0.0" if new else "1.9.0"
        spans = span_rows(f"t{i}", at, [S("a", None, "frontend", "GET /cart", "SERVER", 0, 30),
                                        S("b", "a", "frontend", "cart.Get", "CLIENT", 2, 20, peer="cart"),
                                        S("c", "b", "cart", "cart.Get", "SERVER", 4, 15)])
        for row in spans:
            row = list(row)
            if row[3] == "cart":
                row[4] = "cart-new" if new else f"cart-old-{i % 2}"
                row[20] = {"service.version": version}
            if failed and row[3] in ("cart", "frontend"):
                row[10] = "ERROR"
            rows.append(tuple(row))
    path = write_store(tmp_path / "s.duckdb", rows)
    with StoreWriter(path) as writer:
        writer.load("changes", [
            ("dep-search-5.1.0", T0 + timedelta(minutes=38), "search", "deploy", "5.1.0", None, None, None, ""),
            ("dep-cart-2.0.0", DEPLOY, "cart", "deploy", "2.0.0", None, None, None, "cart 2.0.0")])
    return Deps(backend=EmbeddedStore(path), code=CodeHistory(lambda s: tmp_path), config=Config(base_dir=tmp_path))


def test_new_version_pods_failing_beside_old_version_pods_make_that_deploy_the_top_cause(tmp_path):
    deps = traces(tmp_path)
    incident = Incident("INC-1", "cart page failing", "frontend", WINDOW.start, WINDOW)
    scope = Scope(window=WINDOW, baseline=Window(T0, T0 + timedelta(minutes=40)), lookback=Window(T0, WINDOW.end),
                  onset=WINDOW.start, entry_service="frontend")
    finding = DeploymentAgent().investigate(incident, scope, deps)
    top = finding.hypotheses[0]
    assert top.change is not None and top.change.id == "dep-cart-2.0.0" and top.confidence >= 0.5
    said = " ".join(e.summary for e in finding.evidence)
    assert "its 2.0.0 pods fail 40%" in said and "1.9.0 pods fail 0%" in said

    report = investigate(incident, deps)
    assert report.hypotheses[0].change is not None and report.hypotheses[0].change.id == "dep-cart-2.0.0"
