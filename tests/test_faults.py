"""One faults module: what agents may name, and what ranking and mitigation make of each name."""

import pytest

from inquest.agents.base import Notebook
from inquest.coordinator.mitigation import mitigation_for
from inquest.coordinator.ranking import rank
from inquest.core import ChangeRef, Finding, Hypothesis, LoadSource
from inquest.faults import Fault, lookup

GUILTY = ChangeRef("dep-catalog-3", "deploy", "3.0", "abc1234")


def test_an_agent_naming_a_fault_the_module_does_not_know_fails_loudly():
    book = Notebook("db")
    book.suspect("orders N+1", "orders", 0.8, ["db-1"], fault=Fault.N_PLUS_ONE)
    book.suspect("orders slow", "orders", 0.5, ["db-2"], fault="slow_query")
    assert [h.fault for h in book.finding().hypotheses] == ["n_plus_one", "slow_query"]
    assert type(book.finding().hypotheses[0].fault) is str  # the report carries plain names
    with pytest.raises(ValueError, match="unknown fault 'n_plus_two'"):
        book.suspect("orders N+2", "orders", 0.8, ["db-3"], fault="n_plus_two")


def test_a_label_the_model_made_up_travels_on_but_earns_no_wording_or_mitigation():
    assert lookup("cosmic_rays") is None and lookup(None) is None
    ranked = rank([Finding("llm-db", "ok", hypotheses=(Hypothesis("cosmic rays", "orders", 0.6, ("e-1",),
                                                                   fault="cosmic_rays"),))], {})
    assert ranked[0].summary == "cosmic rays"
    assert mitigation_for("orders", None, "cosmic_rays", {}) == "page the owners of orders with this report"
    assert mitigation_for("orders", None, Fault.POOL_EXHAUSTION, {}).startswith("raise orders's connection-pool")


def test_an_external_fault_keeps_its_own_candidate_beside_a_deploy_on_the_same_service():
    findings = [
        Finding("deployment", "ok", hypotheses=(Hypothesis("catalog deploy", "catalog", 0.6, ("d-1",), change=GUILTY),)),
        Finding("metrics", "ok", hypotheses=(Hypothesis("catalog host hot", "catalog", 0.7, ("m-1",),
                                                        fault=Fault.NOISY_NEIGHBOUR),)),
    ]
    ranked = rank(findings, {})
    external = next(h for h in ranked if h.change is None)
    assert external.service == "catalog" and external.fault == "noisy_neighbour"
    assert "noisy neighbour" in external.summary


def test_blame_follows_typed_load_attribution_to_the_caller():
    findings = [
        Finding("trace", "ok", hypotheses=(Hypothesis("orders slow", "orders", 0.7, ("t-1",), fault=Fault.LATENCY),),
                loaded_by={"orders": LoadSource("checkout", "t-2")}),
        Finding("deployment", "ok", hypotheses=(
            Hypothesis("orders deploy", "orders", 0.5, ("d-1",), change=ChangeRef("dep-orders-2", "deploy")),)),
    ]
    ranked = rank(findings, {})
    orders_deploy = next(h for h in ranked if h.change is not None)
    assert "t-2" in orders_deploy.contradicting  # the loaded service's own change is contradicted by the load
    assert any(h.service == "checkout" for h in ranked)


def test_every_fault_that_shapes_load_or_is_external_is_worded():
    for fault in Fault:
        if fault.external or fault.shapes_load or fault.mitigation("x"):
            assert fault.wording, fault
