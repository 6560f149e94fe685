"""Fusion on synthetic anomalies: one fact counts once, blame moves to the dependency that explains it,
load blame moves up to where it comes from, a quiet service's change borrows nothing; calibration."""

from dataclasses import replace

from inquest.coordinator.fusion import fuse, rank_services
from inquest.coordinator.ranking import rank
from inquest.core import Anomaly, CallEdge, ChangeRef, Finding, Hypothesis

# frontend → checkout → payments, frontend → catalog
EDGES = [("frontend", "checkout"), ("checkout", "payments"), ("frontend", "catalog")]


def _a(service: str, signal: str, score: float, source: str, modality: str = "traces") -> Anomaly:
    return Anomaly(service=service, signal=signal, modality=modality, score=score, source=source)  # type: ignore[arg-type]


def _order(anomalies, entry="frontend"):
    return [r.service for r in rank_services(anomalies, EDGES, entry)]


def test_the_same_source_counts_once_and_the_same_signal_from_two_sources_once():
    once = fuse([_a("payments", "latency", 4.0, "spans")])
    repeated = fuse([_a("payments", "latency", 4.0, "spans"), _a("payments", "latency", 3.0, "spans")])
    twice_measured = fuse([_a("payments", "latency", 4.0, "spans"),
                           _a("payments", "latency", 4.0, "metric:http.server.request.duration", "metrics")])
    assert repeated["payments"].total == once["payments"].total == twice_measured["payments"].total == 4.0
    both = fuse([_a("payments", "latency", 4.0, "spans"), _a("payments", "errors", 4.0, "logs", "logs")])
    assert 4.0 < both["payments"].total < 8.0  # two signals say more than one, not twice as much


def test_a_caller_whose_latency_a_failing_dependency_explains_ranks_below_it():
    # checkout and frontend are as loud as payments (they wait on it), but payments is where it starts
    ranks = rank_services([_a("checkout", "latency", 4.0, "spans"), _a("frontend", "latency", 4.0, "spans"),
                           _a("payments", "errors", 4.0, "spans")], EDGES, "frontend")
    assert ranks[0].service == "payments"
    assert next(r for r in ranks if r.service == "checkout").explained_by == "payments"


def test_a_callers_own_cpu_is_not_explained_away_by_a_slower_callee():
    order = _order([_a("checkout", "cpu", 8.0, "metric:cpu", "metrics"), _a("checkout", "latency", 3.0, "spans"),
                    _a("payments", "latency", 3.0, "spans")])
    assert order[0] == "checkout"


def test_traffic_inside_the_system_is_a_symptom_and_a_surge_at_the_edge_takes_the_blame():
    assert "catalog" not in fuse([_a("catalog", "traffic", 9.0, "metric:rate")], entries={"frontend"})
    order = _order([_a("frontend", "traffic", 7.0, "spans"), _a("payments", "pool", 5.0, "metric:pool"),
                    _a("checkout", "cpu", 5.0, "metric:cpu")])
    assert order[0] == "frontend"


def test_every_service_of_the_graph_is_ordered_even_without_evidence():
    assert set(_order([_a("checkout", "latency", 5.0, "spans")])) == {"frontend", "checkout", "payments", "catalog"}


def _finding(agent, *hyps, call_graph=()):
    return Finding(agent=agent, status="ok", hypotheses=tuple(hyps), call_graph=call_graph)


def test_a_change_on_a_quiet_service_does_not_borrow_the_blame():
    deploys = _finding("deployment",
                       Hypothesis("deploy of catalog 2 min before onset", "catalog", 0.6, ("d-1",),
                                  change=ChangeRef("dep-catalog", "deploy")),
                       Hypothesis("deploy of payments 20 min before onset", "payments", 0.4, ("d-2",),
                                  change=ChangeRef("dep-payments", "deploy")))
    trace = _finding("trace", Hypothesis("errors start in payments", "payments", 0.6, ("t-1",), fault="errors"),
                     Hypothesis("time is added in checkout", "checkout", 0.5, ("t-2",), fault="latency"),
                     call_graph=tuple(CallEdge(a, b, 0, 0) for a, b in EDGES))
    ranked = rank([deploys, trace], {}, "frontend")
    assert (ranked[0].service, ranked[0].change.id) == ("payments", "dep-payments")
    catalog = next(h for h in ranked if h.change and h.change.id == "dep-catalog")
    assert catalog.confidence < ranked[0].confidence and catalog.rank > 2
    assert ranked == sorted(ranked, key=lambda h: -h.confidence)  # calibrated confidence keeps the order


def test_the_scorecard_draws_one_dot_per_confidence_bin():
    from inquest.render.scorecard import reliability_diagram

    svg = reliability_diagram([(0.25, 0.0, 4), (0.9, 1.0, 9)])
    assert svg.count("<circle") == 2 and "9 case(s): confidence 90%, right 100%" in svg


def test_a_service_with_trouble_of_its_own_is_not_outvoted_by_the_many_callees_it_slows():
    # frontend starved of CPU: every callee's time (as its client spans see it) grows a little
    fan_out = [("frontend", callee) for callee in ("cart", "catalog", "ads", "shipping", "recommend")]
    anomalies = [_a("frontend", "cpu", 7.0, "metric:cpu", "metrics"), _a("frontend", "latency", 3.0, "spans")]
    anomalies += [_a(callee, "latency", 5.0, "spans") for _, callee in fan_out]
    assert rank_services(anomalies, fan_out, "frontend")[0].service == "frontend"


def test_an_anomaly_a_traversal_from_the_alert_reaches_outranks_a_louder_one_it_does_not():
    # web → api → db (api slow too), web → jobs → cache (jobs quiet): cache is louder than db, but only db is
    # linked to the alerting web by anomalous services (the PetShop paper's traversal)
    edges = [("web", "api"), ("api", "db"), ("web", "jobs"), ("jobs", "cache")]
    anomalies = [_a("web", "latency", 3.0, "m"), _a("api", "latency", 3.0, "m"),
                 _a("db", "latency", 5.0, "m"), _a("cache", "latency", 6.0, "m")]
    order = [r.service for r in rank_services(anomalies, edges, None, alerting={"web"})]
    assert order.index("db") < order.index("cache")


def test_a_service_an_agent_measured_unusual_but_named_in_no_hypothesis_is_still_listed():
    # The trace agent names checkout, yet measured payments' own latency clearly unusual too; catalog's
    # traffic is what frontend sends it (a symptom), so it stays off the list.
    trace = replace(_finding("trace", Hypothesis("time is added in checkout", "checkout", 0.6, ("t-1",),
                                                 fault="latency"),
                             call_graph=tuple(CallEdge(a, b, 0, 0) for a, b in EDGES)),
                    anomalies=(_a("checkout", "latency", 6.0, "spans"), _a("payments", "latency", 4.0, "spans"),
                               _a("catalog", "traffic", 9.0, "metric:rate", "metrics")))
    services = [h.service for h in rank([trace], {}, "frontend")]
    assert services[0] == "checkout" and "payments" in services and "catalog" not in services
