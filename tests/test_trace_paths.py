"""A service's code taking another path per request (a step that stopped) is found from span counts alone,
and a caller's changed requests are not blamed on the callee whose branches follow them."""

from inquest.agents.trace_paths import path_changes
from inquest.coordinator.fusion import rank_services
from inquest.core import Anomaly
from inquest.tools.backends.protocol import Table

COLUMNS = ("service", "operation", "kind", "requests")


def _stats(rows):
    return Table("span_stats", "-- test", COLUMNS, tuple(rows))


def _checkout(orders: int, shipped: int, frontend_pages: int):
    return _stats([
        ("frontend", "Recv", "SERVER", frontend_pages), ("frontend", "PlaceOrder", "CLIENT", orders),
        ("checkout", "PlaceOrder", "SERVER", orders), ("checkout", "Charge", "CLIENT", orders),
        ("checkout", "ShipOrder", "CLIENT", shipped), ("checkout", "SendConfirmation", "CLIENT", shipped),
    ])


def test_a_step_that_stopped_after_the_charge_is_a_changed_code_path_of_that_service():
    before, now = _checkout(40, 40, 400), _checkout(30, 2, 300)
    changes = path_changes(now, before)
    assert [c.service for c in changes] == ["checkout"]
    assert changes[0].operation in ("ShipOrder", "SendConfirmation")
    assert changes[0].score > 3 and "stopped" in changes[0].describe()


def test_traffic_that_merely_halves_changes_no_code_path():
    assert path_changes(_checkout(20, 20, 200), _checkout(40, 40, 400)) == []


def test_a_service_whose_callers_ask_for_other_operations_is_not_judged_by_its_mix():
    before = _stats([("catalog", "Get", "SERVER", 500), ("catalog", "List", "SERVER", 100),
                     ("catalog", "query", "INTERNAL", 500)])
    now = _stats([("catalog", "Get", "SERVER", 50), ("catalog", "List", "SERVER", 100),
                  ("catalog", "query", "INTERNAL", 50)])
    assert path_changes(now, before) == []


def test_a_callee_whose_branches_follow_a_callers_changed_requests_ranks_below_the_caller():
    def path(service, score):
        return Anomaly(service=service, signal="code_path", modality="traces", score=score, source="spans:mix")

    ranks = rank_services([path("frontend", 8.0), path("ads", 8.0)], [("frontend", "ads")], "frontend")
    assert [r.service for r in ranks][:2] == ["frontend", "ads"]
