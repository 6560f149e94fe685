"""The coordinator with agents that behave, raise and hang; ranking on hand-made findings."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inquest.agents.base import Deps
from inquest.config import Config, InvestigationConfig
from inquest.coordinator.fanout import fan_out
from inquest.coordinator.ranking import rank
from inquest.core import ChangeRef, Evidence, Finding, Hypothesis, Incident, Scope, Window

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
INCIDENT = Incident("INC-1", "checkout failing", "checkout", T0, Window(T0 - timedelta(minutes=5), T0 + timedelta(minutes=25)))
SCOPE = Scope(INCIDENT.window, Window(T0 - timedelta(minutes=50), T0 - timedelta(minutes=10)), INCIDENT.window)
DEPS = Deps(backend=None, code=None, config=Config(base_dir=Path(".")))  # type: ignore[arg-type]


class Steady:
    name = "steady"

    def investigate(self, incident, scope, deps):
        return Finding(agent=self.name, status="ok", hypotheses=(Hypothesis("orders is slow", "orders", 0.7, ("s-1",)),))


class Raising:
    name = "raising"

    def investigate(self, incident, scope, deps):
        raise RuntimeError("backend exploded")


class Hanging:
    name = "hanging"

    def __init__(self):
        self.release = threading.Event()

    def investigate(self, incident, scope, deps):
        self.release.wait(60)
        return Finding(agent=self.name, status="ok")


def test_a_raising_and_a_hanging_agent_become_findings_and_the_rest_still_report():
    hanging = Hanging()
    seen = []
    started = time.perf_counter()
    findings = fan_out([Steady(), Raising(), hanging], INCIDENT, SCOPE, DEPS, timeout_s=0.5, on_progress=seen.append)
    elapsed = time.perf_counter() - started
    hanging.release.set()
    by_agent = {f.agent: f for f in findings}
    assert [f.agent for f in findings] == ["steady", "raising", "hanging"]
    assert by_agent["steady"].status == "ok" and by_agent["steady"].hypotheses
    assert by_agent["raising"].status == "error" and "backend exploded" in by_agent["raising"].error
    assert by_agent["hanging"].status == "timeout" and "0.5" in by_agent["hanging"].error
    assert elapsed < 5  # the hanging agent did not hold the investigation hostage
    assert {(p.agent, p.state) for p in seen} >= {("steady", "ok"), ("raising", "error"), ("hanging", "timeout")}


def test_the_investigation_report_survives_failing_agents(tmp_path):
    from inquest.coordinator.investigation import investigate

    class Backend:
        name = "stub"

        def entry_services(self, window):
            from inquest.errors import BackendError
            raise BackendError("cluster unreachable at 127.0.0.1:9")

    deps = Deps(backend=Backend(), code=None,  # type: ignore[arg-type]
                config=Config(base_dir=tmp_path, investigation=InvestigationConfig(agent_timeout_s=0.5)))
    hanging = Hanging()
    report = investigate(INCIDENT, deps, agents=[Steady(), Raising(), hanging])
    hanging.release.set()
    assert report.hypotheses[0].service == "orders"
    assert {a.agent: a.status for a in report.agents} == {"steady": "ok", "raising": "error", "hanging": "timeout"}
    assert any("raising agent failed" in n for n in report.notes)
    assert any("cluster unreachable" in n for n in report.notes)


def _ev(eid: str, agent: str) -> Evidence:
    return Evidence(eid, agent, "test", "SELECT 1", f"evidence {eid}")


GUILTY = ChangeRef("dep-orders-2", "deploy", "2.0", "abc1234")
HERRING = ChangeRef("dep-frontend-5", "deploy", "5.0", "def5678")


def _findings() -> list[Finding]:
    return [
        Finding("trace", "ok", hypotheses=(Hypothesis("errors start in orders", "orders", 0.8, ("trace-1",), fault="errors"),)),
        Finding("db", "ok", hypotheses=(Hypothesis("orders N+1", "orders", 0.85, ("db-1",), fault="n_plus_one",
                                                   query="SELECT price FROM products WHERE sku = $1"),)),
        Finding("deployment", "ok", hypotheses=(
            Hypothesis("orders deploy 1 min before onset", "orders", 0.8, ("deployment-1",), change=GUILTY),
            Hypothesis("frontend deploy after onset", "frontend", 0.03, (), ("deployment-2",), change=HERRING),
        )),
        Finding("code_diff", "ok", hypotheses=(
            Hypothesis("commit adds a query in a loop", "orders", 0.9, ("code_diff-1",), change=GUILTY, fault="query_in_loop"),)),
        Finding("impact", "timeout", error="no answer"),
    ]


def test_ranking_merges_service_blame_into_the_credible_change_and_explains_the_runner_up():
    evidence = {e: _ev(e, e.split("-")[0]) for e in ("trace-1", "db-1", "deployment-1", "deployment-2", "code_diff-1")}
    ranked = rank(_findings(), evidence)
    top, runner_up = ranked[0], ranked[1]
    assert top.change == GUILTY and top.rank == 1
    assert set(top.agents) == {"trace", "db", "deployment", "code_diff"}
    assert top.fault == "n_plus_one" and "N+1" in top.summary
    assert top.confidence > 0.9 and top.confidence <= 0.98
    assert runner_up.change == HERRING and runner_up.confidence < 0.1
    assert runner_up.reasons[0].startswith("ranks below #1")
    assert any("evidence deployment-2" in r for r in runner_up.reasons)


def test_a_single_agent_alone_ranks_below_a_corroborated_cause():
    lone = Finding("trace", "ok", hypotheses=(Hypothesis("payments slow", "payments", 0.85, ("t-9",)),))
    ranked = rank([*_findings(), lone], {})
    assert ranked[0].service == "orders"
    assert [h.rank for h in ranked] == list(range(1, len(ranked) + 1))
