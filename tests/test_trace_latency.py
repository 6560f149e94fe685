"""Latency-only traces (no status codes anywhere): per-operation baselines, spectrum and PageRank find
where time is added, and client-span vs server-span time tells a slow wire from a slow caller or callee."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from span_fixtures import S, span_rows, write_store

from inquest.agents.base import Deps
from inquest.agents.trace import TraceAgent
from inquest.config import Config
from inquest.core import Incident, Scope, Window
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BASELINE = Window(T0, T0 + timedelta(minutes=10))
WINDOW = Window(T0 + timedelta(minutes=10), T0 + timedelta(minutes=15))


def _request(rng: random.Random, slow: str | None, client_spans: bool) -> list[S]:
    """frontend -> checkout -> payment. `slow` adds 200 ms to checkout's own work ("caller"), to
    payment's ("callee") or to the wire between them ("network")."""
    wire = lambda: rng.uniform(0.5, 1.5)  # noqa: E731
    pay = rng.uniform(4, 6) + (200 if slow == "callee" else 0)
    own = rng.uniform(8, 12) + (200 if slow == "caller" else 0)
    out_gap, back_gap = wire() + (100 if slow == "network" else 0), wire() + (100 if slow == "network" else 0)
    # checkout's server span: its own work, then the call to payment
    call_start = own
    call = out_gap + pay + back_gap
    checkout = own + call + 1
    late = 100 if slow == "frontend_side" else 0  # a frontend starved of CPU reads every answer late
    fe_out, fe_back = wire(), wire() + late
    cart_out, cart, cart_back = wire(), rng.uniform(2, 3), wire() + late
    fe_call = fe_out + checkout + fe_back
    cart_start = 1 + fe_call + 1
    spans = [S("fe", None, "frontend", "GET /checkout", "SERVER", 0, cart_start + cart_out + cart + cart_back + 1),
             S("fc", "fe", "frontend", "checkout.Place", "CLIENT", 1, fe_call, peer="checkout"),
             S("co", "fc", "checkout", "Place", "SERVER", 1 + fe_out, checkout),
             S("fk", "fe", "frontend", "cart.Get", "CLIENT", cart_start, cart_out + cart + cart_back, peer="cart"),
             S("ca", "fk", "cart", "Get", "SERVER", cart_start + cart_out, cart)]
    if client_spans:
        spans += [S("cc", "co", "checkout", "payment.Charge", "CLIENT", 1 + fe_out + call_start, call, peer="payment"),
                  S("pa", "cc", "payment", "Charge", "SERVER", 1 + fe_out + call_start + out_gap, pay)]
    else:  # the payment server span hangs under checkout's own server span
        spans += [S("pa", "co", "payment", "Charge", "SERVER", 1 + fe_out + call_start + out_gap, pay)]
    return spans


def _world(tmp_path, slow: str, client_spans: bool = True) -> tuple[Deps, Incident, Scope]:
    rng = random.Random(7)
    rows = []
    for i in range(1200):  # 2 requests a second for 10 minutes of baseline
        rows += span_rows(f"b{i}", BASELINE.start + timedelta(seconds=i / 2), _request(rng, None, client_spans))
    for i in range(600):
        rows += span_rows(f"w{i}", WINDOW.start + timedelta(seconds=i / 2), _request(rng, slow, client_spans))
    path = write_store(tmp_path / f"{slow}.duckdb", rows)
    deps = Deps(backend=EmbeddedStore(path), code=CodeHistory(lambda s: tmp_path), config=Config(base_dir=tmp_path))
    incident = Incident("INC-7", "checkout is slow", "frontend", WINDOW.start, WINDOW)
    return deps, incident, Scope(window=WINDOW, baseline=BASELINE, lookback=Window(T0, WINDOW.end))


@pytest.mark.parametrize("slow, blamed", [("network", "payment"), ("callee", "payment"), ("caller", "checkout"),
                                          ("frontend_side", "frontend")])
def test_latency_only_traces_blame_the_right_side_of_the_slow_edge(tmp_path, slow, blamed):
    deps, incident, scope = _world(tmp_path, slow)
    finding = TraceAgent().investigate(incident, scope, deps)
    assert finding.status == "ok"
    top = finding.hypotheses[0]
    assert top.service == blamed, [(h.service, h.confidence) for h in finding.hypotheses]
    others = [h for h in finding.hypotheses if h.service != blamed]
    assert all(h.confidence < top.confidence - 0.1 for h in others)
    # The anomaly channel: the blamed service clearly unusual, the innocent side of the edge not.
    scores = {a.service: a.score for a in finding.anomalies if a.signal == "latency"}
    assert all(a.modality == "traces" and a.source == "spans" for a in finding.anomalies)
    assert scores[blamed] >= 3
    if blamed != "frontend":
        assert scores.get("frontend", 0.0) < 1
    said = {e.id: e.summary for e in finding.evidence}
    if slow == "frontend_side":  # every call out of frontend is late: frontend's side, not its callees'
        assert scores.get("checkout", 0.0) < 1 and scores.get("cart", 0.0) < 1
        assert any("frontend's side" in s for s in said.values())
    if slow == "network":
        assert scores.get("checkout", 0.0) < 1  # the caller's own code did nothing new
        assert any(s.startswith("network delay on checkout → payment") for s in said.values())
    # Every piece of evidence behind the top hypothesis can be re-run in the store.
    for evidence_id in top.supports:
        query = next(e.query for e in finding.evidence if e.id == evidence_id)
        assert deps.backend._ask("replay", query).rows


def test_without_client_spans_the_evidence_says_the_wire_and_the_caller_cannot_be_told_apart(tmp_path):
    deps, incident, scope = _world(tmp_path, "network", client_spans=False)
    finding = TraceAgent().investigate(incident, scope, deps)
    said = " ".join(e.summary for e in finding.evidence)
    assert "cannot be told apart without client spans" in said
    assert not any(s.startswith("network delay") for s in (e.summary for e in finding.evidence))
    # The caller is blamed (its span holds the time), and the blame carries the caveat.
    top = finding.hypotheses[0]
    assert top.service == "checkout"
    assert any("cannot be told apart" in e.summary for e in finding.evidence if e.id in top.supports)


def test_nothing_slow_means_no_latency_suspect(tmp_path):
    deps, incident, scope = _world(tmp_path, "none")
    finding = TraceAgent().investigate(incident, scope, deps)
    assert not finding.hypotheses
    assert all(a.score < 3 for a in finding.anomalies)
