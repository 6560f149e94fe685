"""Each specialist on the demo incident, where it must find the fault, and on the healthy world,
where the same window holds nothing wrong and it must blame nothing."""

from __future__ import annotations

from datetime import UTC

import pytest
from conftest import deps_for

from inquest.agents import build_agents
from inquest.coordinator.triage import triage

AGENTS = ("trace", "db", "metrics", "logs", "deployment", "code_diff", "impact")


def run_agent(world, name: str, incident_id: str = "INC-1042"):
    deps = deps_for(world)
    incident = next(i for i in deps.backend.incidents() if i.id == incident_id)
    scope, _ = triage(incident, deps.backend, deps.config.investigation)
    [agent] = build_agents([name])
    return agent.investigate(incident, scope, deps), scope


@pytest.fixture(scope="module")
def incident(demo_world):
    return {name: run_agent(demo_world, name)[0] for name in AGENTS}


@pytest.fixture(scope="module")
def healthy(healthy_world):
    return {name: run_agent(healthy_world, name)[0] for name in AGENTS}


def test_triage_sees_the_onset_after_the_orders_deploy(demo_world):
    _, scope = run_agent(demo_world, "impact")
    assert scope.entry_service == "frontend"
    assert scope.onset is not None and "13:58" <= f"{scope.onset:%H:%M}" <= "14:02"
    assert scope.baseline.end <= scope.window.start


def test_trace_finds_errors_and_time_starting_in_orders_not_in_the_callers(incident):
    top = incident["trace"].hypotheses[0]
    assert top.service == "orders" and top.confidence >= 0.6
    blamed = {h.service for h in incident["trace"].hypotheses}
    assert not blamed & {"checkout", "frontend", "catalog"}  # they propagate, or are slow as always
    summaries = " ".join(e.summary for e in incident["trace"].evidence)
    assert "pool" in summaries and "propagation" in summaries
    edge = next(e for e in incident["trace"].call_graph if e.callee == "orders")
    assert (edge.caller, edge.callee) == ("checkout", "orders")


def test_db_finds_the_n_plus_one_the_lost_hint_and_the_exhausted_pool(incident):
    finding = incident["db"]
    top = finding.hypotheses[0]
    assert top.service == "orders" and top.fault == "n_plus_one"
    assert top.query == "SELECT price FROM products WHERE sku = $1"
    text = " ".join(e.summary for e in finding.evidence)
    assert "IndexScan" in text and "exhausted" in text


def test_deployment_ranks_the_orders_deploy_first_and_says_why_the_others_are_not(incident):
    hyps = incident["deployment"].hypotheses
    assert hyps[0].change.id == "dep-orders-2.14.0"
    frontend = next(h for h in hyps if h.change.id == "dep-frontend-5.2.0")
    assert frontend.confidence < 0.1 and frontend.contradicts and not frontend.supports
    notifications = next(h for h in hyps if h.change.id == "dep-notifications-1.9.0")
    assert notifications.confidence < hyps[0].confidence / 2


def test_code_diff_names_the_loop_and_links_it_to_what_the_database_ran(incident, demo_world):
    top = incident["code_diff"].hypotheses[0]
    assert top.change.commit == demo_world.guilty_commit
    assert top.fault == "n_plus_one" and top.query == "SELECT price FROM products WHERE sku = $1"
    harmless = [h for h in incident["code_diff"].hypotheses if h.change.id == "dep-notifications-1.9.0"]
    assert harmless and harmless[0].confidence <= 0.1


def test_metrics_sees_orders_saturated_and_only_symptoms_upstream(incident):
    finding = incident["metrics"]
    by_service = {h.service: h for h in finding.hypotheses}
    assert finding.hypotheses[0].service == "orders" and finding.hypotheses[0].fault == "pool_exhaustion"
    assert {"errors", "latency", "pool"} <= set(finding.facts["moved"]["orders"])
    # callers show the symptom but no saturation of their own, so they weigh less
    assert by_service["checkout"].confidence < by_service["orders"].confidence / 2
    assert "payments" not in by_service and "notifications" not in by_service


def _checkout_outage_on_a_fake_backend():
    """The impact agent's view of the demo outage, stated as rows: no world is built."""
    from datetime import datetime, timedelta

    from inquest.config import Config
    from inquest.core import Incident, Scope, Window
    from inquest.tools.backends.fake import Endpoint, EntrySummary, FakeBackend, TimelineBucket

    at = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    window, baseline = Window(at, at + timedelta(minutes=30)), Window(at - timedelta(minutes=35), at - timedelta(minutes=5))
    incident = Incident(id="INC-1042", title="Checkout failing", service="checkout", started_at=at, window=window)
    scope = Scope(window=window, baseline=baseline, lookback=Window(at - timedelta(hours=2), at),
                  entry_service="frontend")
    minute = timedelta(minutes=1)
    fake = (FakeBackend(incidents=[incident])
            .answer("entry_summary", window, EntrySummary(requests=30_000, failed=9_000, slow=6_000, users=5_200,
                                                          tenants=80, failed_users=2_600, failed_tenants=61))
            .answer("entry_summary", baseline, EntrySummary(requests=30_000, failed=24, users=5_100, tenants=80,
                                                            failed_users=20, failed_tenants=9))
            .answer("entry_endpoints", window, Endpoint("POST /checkout", 6_000, 5_800, 1_700.0),
                    Endpoint("GET /cart", 9_000, 3_200, 900.0), Endpoint("GET /", 15_000, 0, 80.0))
            .answer("entry_timeline", window, *(TimelineBucket(at + i * minute, 1_000, 10 if i < 5 else 360,
                                                               120.0 if i < 5 else 1_700.0) for i in range(30)))
            .answer("entry_timeline", baseline, *(TimelineBucket(baseline.start + i * minute, 1_000, 1, 120.0)
                                                  for i in range(30))))
    return incident, scope, fake, Config()


@pytest.fixture(scope="module")
def impact_on_a_fake_backend():
    from inquest.agents.base import Deps
    from inquest.tools.code_history import CodeHistory

    incident, scope, fake, config = _checkout_outage_on_a_fake_backend()
    [agent] = build_agents(["impact"])
    return agent.investigate(incident, scope, Deps(backend=fake, code=CodeHistory(config.repository_for), config=config))


def test_impact_counts_thousands_of_customers(impact_on_a_fake_backend):
    impact = impact_on_a_fake_backend.impact
    assert impact.users >= 1000 and impact.failed_requests >= 1000
    assert impact.error_rate > 10 * max(impact.baseline_error_rate, 0.001)
    assert impact.onset is not None and impact.error_budget_burn > 10
    assert impact.endpoints[0]["endpoint"] == "POST /checkout"


def test_logs_find_errors_starting_in_orders_and_its_callers_relaying_them(incident):
    logs = incident["logs"]
    assert [h.service for h in logs.hypotheses] == ["orders"]
    relay = next(e for e in logs.evidence if e.data.get("origin"))
    assert relay.data["origin"] == "orders" and set(relay.data["relays"]) == {"checkout", "frontend"}
    assert "timed out waiting for connection from pool" in " ".join(e.summary for e in logs.evidence)


def test_on_the_healthy_world_no_agent_blames_anything(healthy):
    for name in ("trace", "db", "metrics", "code_diff"):
        confident = [h for h in healthy[name].hypotheses if h.confidence >= 0.3]
        assert healthy[name].status in ("ok", "no_data") and not confident, (name, confident)
    for name in ("logs",):  # the log specialist blames nothing at all where nothing is wrong
        confident = healthy[name].hypotheses
        assert healthy[name].status in ("ok", "no_data") and not confident, (name, confident)
    assert all(h.confidence < 0.5 for h in healthy["deployment"].hypotheses)
    assert healthy["impact"].impact.error_rate < 0.05
