"""The demo world, as a user of its data would see it: through the embedded store's questions and git."""

from __future__ import annotations

from datetime import datetime

import duckdb
import git
import pytest

from inquest.core import Window
from inquest.evals.sim.demo import PLANTED_SECRETS, build_demo_world, ensure_demo_world
from inquest.tools.backends.embedded_store import EmbeddedStore

SCALE = 0.25
PER_ITEM = "SELECT price FROM products WHERE sku = $1"
INCIDENT = Window(datetime(2026, 11, 3, 13, 59), datetime(2026, 11, 3, 14, 35))
BASELINE = Window(datetime(2026, 11, 3, 13, 10), datetime(2026, 11, 3, 13, 50))


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("worlds")
    built = {
        "a": build_demo_world(root / "a", seed=7, scale=SCALE),
        "b": build_demo_world(root / "b", seed=7, scale=SCALE),
        "healthy": build_demo_world(root / "healthy", seed=7, scale=SCALE, inject=False),
    }
    stores = {name: EmbeddedStore(world.store_path) for name, world in built.items()}
    yield built, stores
    for store in stores.values():
        store.close()


@pytest.fixture(scope="module")
def world(worlds):
    return worlds[0]["a"]


@pytest.fixture(scope="module")
def store(worlds):
    return worlds[1]["a"]


@pytest.fixture(scope="module")
def healthy(worlds):
    return worlds[0]["healthy"], worlds[1]["healthy"]


def _sql(world, query: str) -> list[tuple]:
    with duckdb.connect(str(world.store_path), read_only=True) as con:
        return con.execute(query).fetchall()


def _origins(store, window) -> dict[tuple[str, str], dict]:
    return {(r["service"], r["operation"]): r for r in store.error_origins(window).records()}


def _statements(store, window) -> dict[str, dict]:
    return {r["statement"]: r for r in store.db_statements(window, "orders").records()}


def _metric_max(store, window, name: str, service: str) -> float:
    return max(r["max"] for r in store.metric_summary(window, [name], service).records())


def test_same_seed_same_world(worlds):
    built, stores = worlds
    a, b = built["a"], built["b"]
    assert a.guilty_change_id == b.guilty_change_id == "dep-orders-2.14.0"
    assert a.guilty_commit == b.guilty_commit and len(a.guilty_commit) == 40
    assert a.incident_id == b.incident_id == "INC-1042"
    whole_day = Window(datetime(2026, 11, 1), datetime(2026, 11, 4))
    assert stores["a"].changes(whole_day).items == stores["b"].changes(whole_day).items
    # Exact aggregates only: a float sum depends on the order DuckDB's threads add it up in.
    fingerprint = ("SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM logs), "
                   "(SELECT count(*) FROM metrics), (SELECT count(*) FROM db_query_stats), "
                   "(SELECT sum(CAST(duration_ms * 1000 AS BIGINT)) FROM spans), (SELECT min(trace_id) FROM spans), "
                   "(SELECT sum(CAST(value * 1000 AS BIGINT)) FROM metrics), (SELECT count(DISTINCT body) FROM logs)")
    assert _sql(a, fingerprint) == _sql(b, fingerprint)


def test_every_deploy_ships_a_real_commit_of_its_service(world, store):
    repo = git.Repo(world.repo_path)
    changes = store.changes(Window(datetime(2026, 11, 1), datetime(2026, 11, 4))).items
    deploys = [c for c in changes if c.kind == "deploy"]
    assert len(deploys) >= 10 and all(c.commit and c.repository == "acme/shop" for c in deploys)
    for change in deploys:
        files = repo.commit(change.commit).stats.files
        assert files and all(path.startswith(f"services/{change.service}/") for path in files), change.id
    assert all(c.commit is None for c in changes if c.kind != "deploy")
    guilty = next(c for c in changes if c.id == world.guilty_change_id)
    assert guilty.commit == world.guilty_commit
    assert store.previous_version("orders", guilty) == "2.13.2"


def test_guilty_commit_drops_the_hint_and_queries_per_item(world):
    repo = git.Repo(world.repo_path)
    diff = repo.git.show(world.guilty_commit, "--format=", "--", "services/orders/orders/repository.py")
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("/*+ IndexScan(order_items order_items_order_id_idx) */" in line for line in removed)
    assert any("sku = ANY(%s)" in line for line in removed)
    assert not any("IndexScan" in line for line in added)
    assert any("for item in items:" in line for line in added)
    assert any("SELECT price FROM products WHERE sku = %s" in line for line in added)


def test_incident_window_shows_pool_timeouts_and_n_plus_one(store):
    origins = _origins(store, INCIDENT)
    assert ("orders", "pool.acquire") in origins
    assert "timeout acquiring connection from pool" in origins[("orders", "pool.acquire")]["message"]
    assert max(origins, key=lambda k: origins[k]["origins"]) == ("orders", "pool.acquire")
    statements = _statements(store, INCIDENT)
    assert statements[PER_ITEM]["calls_per_trace"] > 3
    assert _metric_max(store, INCIDENT, "db.client.connection.timeouts", "orders") > 0
    assert _metric_max(store, INCIDENT, "db.client.connection.count", "orders") == 20
    summary = store.entry_summary(INCIDENT, "frontend", 1000).records()[0]
    assert summary["failed_users"] > 200  # a quarter of the traffic: ~1,900 users at full scale


def test_baseline_window_has_neither(store):
    assert not any(service == "orders" for service, _ in _origins(store, BASELINE))
    statements = _statements(store, BASELINE)
    assert PER_ITEM not in statements
    assert all(r["calls_per_trace"] == 1 for r in statements.values())
    assert _metric_max(store, BASELINE, "db.client.connection.timeouts", "orders") == 0
    assert store.entry_summary(BASELINE, "frontend", 1000).records()[0]["failed"] == 0


@pytest.mark.parametrize("window", [BASELINE, INCIDENT], ids=["baseline", "incident"])
def test_background_noise_in_every_window(store, window):
    templates = {(r["service"], r["template"]) for r in store.log_templates(window).records()}
    assert any(s == "notifications" and "SMTP <n>" in t for s, t in templates)
    assert any(s == "payments" and t.startswith("card declined") for s, t in templates)
    assert any(s == "inventory" and t.startswith("stock record not found") for s, t in templates)
    assert ("notifications", "smtp.send") in _origins(store, window)
    search = next(r for r in store.span_stats(window, "catalog").records() if r["operation"] == "GET /search")
    assert search["p95_ms"] > 1000


def test_incidents(store):
    incidents = store.incidents()
    assert incidents[0].id == "INC-1042" and incidents[0].service == "checkout"
    assert incidents[0].ticket == "acme/shop#812"
    assert incidents[0].window.contains(incidents[0].started_at)
    assert "INC-1039" in [i.id for i in incidents]


def test_only_the_frontend_starts_traces(world):
    roots = _sql(world, 'SELECT DISTINCT "service.name", kind FROM spans WHERE parent_span_id IS NULL')
    assert roots == [("frontend", "SERVER")]
    orphans = _sql(world, "SELECT count(*) FROM spans c ANTI JOIN spans p ON c.trace_id = p.trace_id "
                          "AND c.parent_span_id = p.span_id WHERE c.parent_span_id IS NOT NULL")
    assert orphans == [(0,)]


def test_planted_secrets_are_in_the_logs(world):
    bodies = " ".join(body for (body,) in _sql(
        world, "SELECT body FROM logs WHERE body LIKE '%postgresql://%' OR body LIKE '%sk_live_%' "
               "OR body LIKE '%eyJ%' OR body LIKE '%@example.%'"))
    assert PLANTED_SECRETS and all(secret in bodies for secret in PLANTED_SECRETS)


def test_healthy_world_looks_like_its_baseline(healthy):
    world, store = healthy
    assert world.guilty_change_id is None and world.guilty_commit is None
    orders_deploy = next(c for c in store.changes(Window(datetime(2026, 11, 3, 13, 55),
                                                          datetime(2026, 11, 3, 14))).items
                         if c.id == "dep-orders-2.14.0")
    diff = git.Repo(world.repo_path).git.show(orders_deploy.commit, "--format=")
    assert "IndexScan" not in diff and "for item in items" not in diff
    for window in (BASELINE, INCIDENT):
        assert set(_origins(store, window)) == {("notifications", "smtp.send")}
        assert PER_ITEM not in _statements(store, window)
        assert _metric_max(store, window, "db.client.connection.timeouts", "orders") == 0
        assert store.entry_summary(window, "frontend", 1000).records()[0]["failed"] == 0
    checkout = {w: next(r for r in store.span_stats(w, "checkout").records() if r["operation"] == "POST /checkout")
                for w in (BASELINE, INCIDENT)}
    assert checkout[INCIDENT]["p95_ms"] < 1.3 * checkout[BASELINE]["p95_ms"]


def test_ensure_builds_once(tmp_path):
    first = ensure_demo_world(tmp_path, scale=0.02)
    stamp = first.store_path.stat().st_mtime_ns
    assert ensure_demo_world(tmp_path, scale=0.02) == first
    assert first.store_path.stat().st_mtime_ns == stamp
    # A world without its completion marker is half-built: it gets rebuilt.
    (tmp_path / "demo-world.json").unlink()
    assert ensure_demo_world(tmp_path, scale=0.02) == first
    assert first.store_path.stat().st_mtime_ns != stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-world.json", "demo.duckdb", "shop-repo"]
