"""The simulator's scenario library, as an investigator would meet each world: through the embedded
store's questions and git. Every scenario builds, deterministically; its planted fault shows where it
should and not in the baseline; the page fires on the service that alerted; the everyday noise is in
both windows. Whether the engine ranks the truth first is the analysis' business, not these tests':
they only check that an investigation runs on every world and print where the truth ranked."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import duckdb
import git
import pytest
from conftest import deps_for

from inquest.config import InvestigationConfig
from inquest.coordinator.investigation import investigate
from inquest.coordinator.triage import plan_scope
from inquest.core import Window
from inquest.evals.scenarios import SCENARIOS
from inquest.evals.sim import LIBRARY, build_world
from inquest.evals.sim.build import simulate
from inquest.evals.sim.library import case_file
from inquest.evals.sim.model import ScenarioError
from inquest.evals.sim.repo import build_repo
from inquest.evals.sim.shop import SQL_ITEMS, SQL_PRICE_ONE
from inquest.evals.sim.sources import MIGRATION_DDL, SQL_ITEMS_JOIN
from inquest.replay.cases import LIBRARY as CASES
from inquest.replay.cases import Truth, load_case
from inquest.replay.scoring import rank_of_truth
from inquest.tools.backends.embedded_store import EmbeddedStore

SCALE = 0.25
FAULT_KINDS = {"n_plus_one", "pool_exhaustion", "feature_flag", "lock_wait", "memory_leak", "noisy_neighbour",
               "dependency_outage", "retry_storm", "bad_deploy", "traffic_surge", "slow_query"}


class Built:
    """One scenario's world, its store, and the windows an investigation would compare."""

    def __init__(self, scenario, world) -> None:
        self.scenario, self.world = scenario, world
        self.store = EmbeddedStore(world.store_path)
        [self.incident] = self.store.incidents()
        scope = plan_scope(self.incident, InvestigationConfig())
        self.window, self.baseline, self.lookback = scope.window, scope.baseline, scope.lookback

    def sql(self, query: str) -> list[tuple]:
        with duckdb.connect(str(self.world.store_path), read_only=True) as con:
            return con.execute(query).fetchall()

    def origins(self, window: Window) -> dict[tuple[str, str], dict]:
        return {(r["service"], r["operation"]): r for r in self.store.error_origins(window).records()}

    def metrics(self, window: Window, name: str, service: str) -> list[dict]:
        return [r for r in self.store.metric_stats(window, [name]).records() if r["service"] == service]

    def spans(self, window: Window, service: str, operation: str, kind: str = "SERVER") -> dict:
        return next(r for r in self.store.span_stats(window, service).records()
                    if r["operation"] == operation and r["kind"] == kind)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Built]:
    root = tmp_path_factory.mktemp("sim")
    worlds = {name: Built(scenario, build_world(scenario, root / name, seed=7, scale=SCALE))
              for name, scenario in LIBRARY.items()}
    yield worlds
    for world in worlds.values():
        world.store.close()


# -- the library as a whole ------------------------------------------------------------------------


def test_the_library_covers_every_fault_kind_and_each_scenario_is_a_replayable_case():
    assert len(LIBRARY) >= 12
    assert {s.truth.fault for s in LIBRARY.values()} >= FAULT_KINDS
    for name, scenario in LIBRARY.items():
        assert name in SCENARIOS
        case = load_case(CASES / scenario.case_id)
        assert case.world is not None and case.world.scenario == name and case.incident == scenario.alert.incident_id
        assert case.truth == Truth(scenario.truth.service, scenario.truth.change, scenario.truth.fault)
        assert len(case.notes) > 200  # the story, and what a naive analysis would get wrong
        assert (CASES / scenario.case_id / "case.yaml").read_text() == case_file(scenario), \
            f"{scenario.case_id}/case.yaml is stale: run inquest.evals.sim.library.write_case_files()"


def test_a_scenario_that_names_something_unknown_is_refused_before_anything_is_built(tmp_path):
    scenario = LIBRARY["stripe_outage"]
    typo = replace(scenario, effects=(replace(scenario.effects[0], peer="strip"),))
    with pytest.raises(ScenarioError, match="stripe_outage: PeerOutage names unknown peer 'strip'"):
        build_world(typo, tmp_path / "typo", scale=0.05)
    flagged = LIBRARY["feature_flag_slow_path"]
    wrong = replace(flagged, alert=replace(flagged.alert, operation="GET /product/{id}"))
    with pytest.raises(ScenarioError, match="unknown operation 'GET /product/{id}' of frontend"):
        build_world(wrong, tmp_path / "wrong", scale=0.05)
    assert not (tmp_path / "typo" / "store.duckdb").exists()


def test_the_same_seed_gives_the_same_telemetry_and_the_same_commits(built, tmp_path):
    def digest(scenario, seed: int) -> str:
        spans = hashlib.sha256()
        sim = simulate(scenario, seed, 0.02, lambda lines: spans.update("".join(lines).encode()))
        spans.update("".join(sim.requests.logs).encode())
        return spans.hexdigest()

    for name, scenario in LIBRARY.items():
        assert digest(scenario, 7) == digest(scenario, 7), name
        assert build_repo(scenario, tmp_path / name) == built[name].world.commits, name
    scenario = LIBRARY["stripe_outage"]
    assert digest(scenario, 7) != digest(scenario, 8)


def test_two_builds_of_a_world_hold_the_same_rows(built, tmp_path):
    again = Built(LIBRARY["memory_leak"], build_world(LIBRARY["memory_leak"], tmp_path, seed=7, scale=SCALE))
    # Exact aggregates only: a float sum depends on the order DuckDB's threads add it up in.
    fingerprint = ("SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM logs), "
                   "(SELECT count(*) FROM metrics), (SELECT sum(calls) FROM db_query_stats), "
                   "(SELECT sum(CAST(duration_ms * 1000 AS BIGINT)) FROM spans), (SELECT min(trace_id) FROM spans), "
                   "(SELECT sum(CAST(value * 1000 AS BIGINT)) FROM metrics), (SELECT count(DISTINCT body) FROM logs), "
                   "(SELECT string_agg(id || commit, ',' ORDER BY id) FROM changes)")
    assert again.sql(fingerprint) == built["memory_leak"].sql(fingerprint)
    again.store.close()


def test_every_incident_is_declared_on_the_alerting_service_without_naming_the_answer(built):
    for name, b in built.items():
        alert, truth, incident = b.scenario.alert, b.scenario.truth, b.incident
        assert incident.id == alert.incident_id and incident.service == alert.service, name
        assert b.window.start < incident.started_at < b.window.end, name
        text = " ".join((incident.title, *incident.symptoms))
        assert alert.operation in text and "%" in text, name
        for secret in filter(None, (truth.change, truth.fault.replace("_", " "), truth.fault)):
            assert secret not in text, (name, secret)
        # the page came after the fault began, and the baseline before it saw nothing of it
        timeline = b.store.service_timeline(Window(b.baseline.start, incident.started_at), alert.service).records()
        before = [r for r in timeline if r["bucket"] < b.baseline.end]
        assert before and sum(r["errors"] for r in before) <= 0.02 * sum(r["requests"] for r in before), name


def test_everyday_noise_is_in_the_baseline_and_in_the_incident(built):
    for name, b in built.items():
        for window in (b.baseline, b.window):
            messages = [r["message"] for r in b.origins(window).values()]
            # SMTP refusals and malformed product ids: unrelated errors, always there (fewer checkouts
            # mean fewer e-mails, so an outage may leave only one of the two)
            assert any(m.startswith(("SMTP 421", "ValueError")) for m in messages), name
            warnings = " ".join(r["template"] for r in b.store.log_templates(window, min_severity=13).records())
            assert "stock record not found" in warnings and "card declined" in warnings, name
            assert b.spans(window, "catalog", "GET /search")["p50_ms"] > 400, name  # search is always slow
        innocent = [c for c in b.store.changes(b.lookback).items if c.id != b.scenario.truth.change]
        assert len(innocent) >= 3, name
        truth_change = b.scenario.truth.change
        if truth_change:
            assert truth_change in {c.id for c in b.store.changes(b.lookback).items}, name


def test_every_deploy_ships_a_real_commit_touching_its_service(built):
    for name, b in built.items():
        repo = git.Repo(b.world.repo_path)
        for change in b.store.changes(b.lookback).items:
            if change.kind != "deploy":
                continue
            commit = repo.commit(change.commit)
            files = list(commit.stats.files)
            assert f"services/{change.service}/{change.service}/__init__.py" in files, (name, change.id)
            assert change.previous_version and change.previous_version != change.version, (name, change.id)
        repo.close()


# -- each planted fault, as the store shows it ------------------------------------------------------


def _statements(b: Built, window: Window, service: str) -> dict[str, dict]:
    return {r["statement"]: r for r in b.store.db_statements(window, service).records()}


def _max(rows: list[dict], key: str = "max") -> float:
    return max((r[key] for r in rows), default=0.0)


def test_n_plus_one_runs_a_price_query_per_line_item_and_drains_orders_pool(built):
    b = built["orders_n_plus_one"]
    now, before = _statements(b, b.window, "orders"), _statements(b, b.baseline, "orders")
    assert now[SQL_PRICE_ONE]["calls_per_trace"] >= 5 and SQL_PRICE_ONE not in before
    assert now[SQL_ITEMS]["mean_ms"] > 10 * next(r["mean_ms"] for s, r in before.items() if "order_items" in s)
    assert _max(b.metrics(b.window, "db.client.connection.timeouts", "orders")) > 0
    assert _max(b.metrics(b.baseline, "db.client.connection.timeouts", "orders")) == 0
    assert b.origins(b.window)[("orders", "pool.acquire")]["message"].startswith("timeout acquiring connection")


def test_pool_exhaustion_pins_orders_connections_at_the_new_maximum(built):
    b = built["pool_exhaustion_config"]
    assert _max(b.metrics(b.baseline, "db.client.connection.max", "orders")) == 10
    limits = b.metrics(b.window, "db.client.connection.max", "orders")
    assert {r["last"] for r in limits} == {3.0}
    assert _max(b.metrics(b.window, "db.client.connection.count", "orders")) == 3
    assert _max(b.metrics(b.window, "db.client.connection.pending_requests", "orders"), "p90") > 0
    assert b.origins(b.window)[("orders", "pool.acquire")]["message"].endswith("(pool size 3)")
    now, before = _statements(b, b.window, "orders"), _statements(b, b.baseline, "orders")
    for statement, row in before.items():  # the queries themselves are as fast as ever
        assert now[statement]["mean_ms"] < 1.5 * row["mean_ms"] + 1


def test_the_feature_flag_multiplies_inventory_calls_from_catalog(built):
    b = built["feature_flag_slow_path"]

    def stock_calls_per_product_page(window: Window) -> float:
        graph = {(r["caller"], r["callee"]): r["calls"] for r in b.store.call_graph(window).records()}
        return graph[("catalog", "inventory")] / b.spans(window, "catalog", "GET /products/{id}")["requests"]

    assert stock_calls_per_product_page(b.baseline) == pytest.approx(1.0, abs=0.05)
    assert stock_calls_per_product_page(b.window) > 3
    assert b.spans(b.window, "frontend", "GET /products/{id}")["p95_ms"] > 3 * \
        b.spans(b.baseline, "frontend", "GET /products/{id}")["p95_ms"]
    [flag] = [c for c in b.store.changes(b.lookback).items if c.kind == "feature_flag" and c.service == "catalog"]
    assert "live-stock-badges" in flag.description and flag.commit


def test_the_migration_shows_lock_waits_on_order_items_only_while_it_runs(built):
    b = built["migration_lock"]

    def locks(window: Window) -> dict[str, float]:
        return {r["statement"]: r["lock_wait_ms"] for r in b.store.db_query_stats(window, "orders").records()}

    now, before = locks(b.window), locks(b.baseline)
    items = next(s for s in now if "FROM order_items" in s)
    assert now[items] > 60_000 and before[items] < 1_000
    assert MIGRATION_DDL in now
    assert all(v < 1_000 for s, v in now.items() if "order_items" not in s)
    # every connection is stuck behind the lock, so requests time out waiting for one
    assert b.origins(b.window)[("orders", "pool.acquire")]["origins"] > 10
    errors_after = b.store.service_timeline(Window(b.window.end - timedelta(minutes=8), b.window.end), "orders")
    assert sum(r["errors"] for r in errors_after.records()) == 0  # the rewrite finished; orders recovered


def test_the_memory_leak_grows_memory_until_containers_restart(built):
    b = built["memory_leak"]
    restarts_now = b.metrics(b.window, "k8s.container.restarts", "inventory")
    assert max(r["last"] - r["first"] for r in restarts_now) >= 1
    assert all(r["last"] == 0 for r in b.metrics(b.baseline, "k8s.container.restarts", "inventory"))
    memory_now = _max(b.metrics(b.window, "process.memory.usage", "inventory"))
    assert memory_now > 1.4 * _max(b.metrics(b.baseline, "process.memory.usage", "inventory"))
    refused = [r for r in b.origins(b.window).values()
               if r["peer"] == "inventory" and "connection failure" in r["message"]]
    assert refused  # callers saw connections refused while a container restarted
    assert all(r["last"] == 0 for s in ("catalog", "orders") for r in b.metrics(b.window, "k8s.container.restarts", s))


def test_the_noisy_neighbour_saturates_one_catalog_host_only(built):
    b = built["noisy_neighbour"]
    cpu = sorted(b.metrics(b.window, "process.cpu.utilization", "catalog"), key=lambda r: -r["p90"])
    assert len(cpu) == 3 and cpu[0]["p90"] > 0.9 and all(r["p90"] < 0.6 for r in cpu[1:])
    assert all(r["p90"] < 0.6 for r in b.metrics(b.baseline, "process.cpu.utilization", "catalog"))
    assert not [c for c in b.store.changes(b.window).items if c.service == "catalog" and c.at > b.window.start]


def test_the_stripe_outage_fails_payments_calls_to_stripe(built):
    b = built["stripe_outage"]
    now = b.origins(b.window)[("payments", "POST")]
    assert now["peer"] == "stripe" and "api.stripe.com" in now["message"]
    assert ("payments", "POST") not in b.origins(b.baseline)
    stripe = [r for r in b.store.call_graph(b.window).records() if r["callee"] == "stripe"]
    assert stripe and stripe[0]["errors"] > 0.25 * stripe[0]["calls"]


def test_the_retry_storm_multiplies_reservation_attempts_at_inventory(built):
    b = built["retry_storm"]

    def attempts_per_checkout(window: Window) -> float:
        return b.spans(window, "checkout", "POST /reservations", "CLIENT")["requests"] / \
            b.spans(window, "checkout", "POST /checkout")["requests"]

    assert attempts_per_checkout(b.baseline) < 1.0  # declined cards never reserve
    assert attempts_per_checkout(b.window) > 2.0
    cpu = b.metrics(b.window, "process.cpu.utilization", "inventory")
    assert all(r["p90"] > 0.9 for r in cpu if r["points"] > 40)  # the pods that ran through the storm
    # the trigger, a 45 s failover, is long over when the incident window ends; the storm is not
    late = Window(b.window.end - timedelta(minutes=10), b.window.end)
    assert b.spans(late, "inventory", "POST /reservations")["errors"] > 0


def test_the_bad_deploy_fails_inventory_and_the_errors_climb_two_hops(built):
    b = built["bad_deploy_two_hops"]
    origins = b.origins(b.window)
    assert "AttributeError" in origins[("inventory", "GET /stock/{sku}")]["message"]
    assert origins[("inventory", "GET /stock/{sku}")]["origins"] > 10 * origins.get(("catalog", "GET /products/{id}"),
                                                                                      {"origins": 1})["origins"]
    catalog = b.spans(b.window, "catalog", "GET /products/{id}")
    frontend = b.spans(b.window, "frontend", "GET /products/{id}")
    assert catalog["errors"] > 0.1 * catalog["requests"] and frontend["errors"] >= catalog["errors"]
    assert b.store.entry_services(b.window).rows[0][0] == "frontend" == b.incident.service


def test_two_deploys_minutes_apart_and_payments_times_out_at_half_a_second(built):
    b = built["two_deploys_minutes_apart"]
    deploys = [c for c in b.store.changes(b.window).items if c.kind == "deploy"]
    assert {c.service for c in deploys} >= {"checkout", "payments"}
    assert abs((deploys[-1].at - deploys[-2].at).total_seconds()) <= 180
    stripe = b.spans(b.window, "payments", "POST", "CLIENT")
    assert stripe["errors"] > 0.2 * stripe["requests"]
    assert "timed out after 0.5s" in b.origins(b.window)[("payments", "POST")]["message"]
    failed = b.sql(f"SELECT max(duration_ms) FROM spans WHERE \"service.name\" = 'payments' AND name = 'POST' "
                   f"AND status_code = 'ERROR' AND start_time >= '{b.window.start:%Y-%m-%d %H:%M:%S}'")[0][0]
    assert failed == pytest.approx(500, abs=1)


def test_the_slow_join_is_the_cause_and_later_deploys_are_innocent(built):
    b = built["most_recent_deploy_innocent"]
    now, before = _statements(b, b.window, "orders"), _statements(b, b.baseline, "orders")
    assert SQL_ITEMS_JOIN in now and SQL_ITEMS_JOIN not in before
    assert now[SQL_ITEMS_JOIN]["mean_ms"] > 10 * max(r["mean_ms"] for s, r in before.items() if "order_items" in s)
    changes = b.store.changes(Window(b.window.start, b.incident.started_at)).items
    assert changes[-1].service in ("frontend", "notifications") and changes[-1].id != b.scenario.truth.change


def test_the_traffic_surge_saturates_everything_downstream_of_the_entry(built):
    b = built["traffic_surge"]
    rate = {w: b.store.entry_summary(w, "frontend", 2000).records()[0]["requests"] / w.minutes
            for w in (b.baseline, b.window)}
    assert rate[b.window] > 2.0 * rate[b.baseline]
    for service in ("frontend", "catalog"):
        assert min(r["p90"] for r in b.metrics(b.window, "process.cpu.utilization", service)) > 0.9, service
    assert _max(b.metrics(b.window, "db.client.connection.timeouts", "orders")) > 0
    assert not [c for c in b.store.changes(b.lookback).items if c.id == b.scenario.truth.change]


# -- the engine on every world (reported, not judged) -----------------------------------------------


def test_an_investigation_runs_on_every_world(built, capsys):
    lines = []
    for name, b in built.items():
        report = investigate(b.incident, deps_for(b.world))
        assert report.hypotheses and report.impact.requests > 0, name
        truth = b.scenario.truth
        rank = rank_of_truth(report.hypotheses, Truth(truth.service, truth.change, truth.fault))
        top = "; ".join(f"{h.service}/{h.change.id if h.change else '-'}/{h.fault} {h.confidence:.2f}"
                        for h in report.hypotheses[:3])
        lines.append(f"{name:30s} truth #{rank or '-'}  top: {top}")
    with capsys.disabled():
        print("\nwhere the truth ranks (reported for the analysis, not asserted):\n" + "\n".join(lines))
