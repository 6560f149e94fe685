"""The contract: whichever backend holds a scenario's data, the investigation ranks the same suspects
the same way and reaches the same verdict, and every question an agent asked got the same answer."""

from __future__ import annotations

import pytest
from conftest import deps_for

from contract.compare import SPECS, differences
from inquest.coordinator.investigation import investigate
from inquest.core import Report
from inquest.tools.backends.embedded_sql import literal

pytestmark = pytest.mark.elasticsearch


def ranked(report: Report) -> list[tuple[str | None, str | None]]:
    return [(h.service, h.change.id if h.change else None) for h in report.hypotheses]


def test_the_same_ranked_answer_from_either_backend(pair, backend):
    for incident in pair.incidents:
        reference = pair.report("embedded", incident)
        if backend == "embedded":  # a second, independent run: the reference itself must be repeatable
            report = investigate(incident, deps_for(pair.world, agent_timeout_s=900))
        else:
            report = pair.report(backend, incident)
        assert [(a.agent, a.status) for a in report.agents] == [(a.agent, a.status) for a in reference.agents], \
            [(a.agent, a.error) for a in report.agents if a.error]
        assert ranked(report) == ranked(reference), incident.id
        assert (report.root_cause is not None) == (reference.root_cause is not None), incident.id
        if pair.scenario == "n_plus_one_deploy" and incident.id == "INC-1042":  # the demo incident's known cause
            assert report.root_cause is not None and report.root_cause.change.id == "dep-orders-2.14.0"
        if pair.scenario == "n_plus_one_deploy" and incident.id == "INC-1039":  # the false alarm
            assert report.root_cause is None


@pytest.mark.parametrize("question", sorted(SPECS))
def test_every_question_gets_the_same_answer(pair, question):
    for incident in pair.incidents:
        pair.report("elasticsearch", incident)  # what the agents asked is recorded on the way
    # Keyed by the call's text: arguments travel by name and some are lists, which cannot key a dict.
    asked = {repr((args, sorted(kwargs.items()))): (args, kwargs, answer)
             for name, args, kwargs, answer in pair.recorder.calls if name == question}
    if not asked:  # a question no agent asked of this world: ask it about the first incident
        incident = pair.incidents[0]
        args = _arguments(question, incident)
        asked = {repr(args): (args, {}, getattr(pair.recorder, question)(*args))}
    for args, kwargs, answer in asked.values():
        expected = getattr(pair.embedded.backend, question)(*args, **kwargs)
        problems = differences(question, expected, answer)
        assert not problems, f"{question}{args}{kwargs}: " + "; ".join(problems[:8])
        if question == "error_origins":
            window = args[0] if args else kwargs["window"]
            for row in answer.records():
                assert row["message"] in most_common_messages(pair, window, row), (args, kwargs, row)


def most_common_messages(pair, window, row) -> set:
    """The status messages tied for most common where `row`'s errors originate (asked of the reference
    store in its own SQL: failed spans of that operation with no failed child in the window)."""
    counts = pair.embedded.backend._ask("messages", f"""
        WITH w AS (SELECT * FROM spans
                   WHERE start_time >= {literal(window.start)} AND start_time < {literal(window.end)}),
        failing_parents AS (SELECT DISTINCT trace_id, parent_span_id AS span_id FROM w
                            WHERE status_code = 'ERROR' AND parent_span_id IS NOT NULL)
        SELECT w.status_message, count(*) FROM w ANTI JOIN failing_parents f ON w.trace_id = f.trace_id
                                                                             AND w.span_id = f.span_id
        WHERE w.status_code = 'ERROR' AND w."service.name" = {literal(row["service"])}
          AND w.name = {literal(row["operation"])} AND w.kind = {literal(row["kind"])}
          AND w."peer.service" IS NOT DISTINCT FROM {literal(row["peer"])}
          AND (w."db.system" IS NOT NULL) = {literal(row["is_db"])}
        GROUP BY 1""").rows  # the reference store's own console
    top = max((n for message, n in counts if message is not None), default=0)
    return {message for message, n in counts if n == top}


def _arguments(question: str, incident) -> tuple:
    window, service = incident.window, incident.service
    return {"services": (window,), "log_templates": (window,), "log_patterns": (window,), "log_origins": (window,), "entry_services": (window,),
            "span_stats": (window,), "error_origins": (window,), "call_graph": (window,), "span_minutes": (window,),
            "db_statements": (window,), "db_query_stats": (window,), "entry_summary": (window, service, 2000.0),
            "entry_endpoints": (window, service), "entry_timeline": (window, service),
            "service_timeline": (window, service), "operation_latency": (window,), "edge_latency": (window,),
            "trace_spectrum": (window, ()),
            "metric_summary": (window, ("db.client.connection.count", "process.cpu.utilization")),
            "metric_stats": (window, ("db.client.connection.count", "process.cpu.utilization")),
            "version_stats": (window, (service,))}[question]


def test_changes_and_incidents_are_the_same(pair):
    assert pair.recorder.incidents() == pair.embedded.backend.incidents()
    for incident in pair.incidents:
        lookback = pair.report("embedded", incident).scope.lookback
        expected, actual = pair.embedded.backend.changes(lookback), pair.recorder.changes(lookback)
        assert actual.items == expected.items
        for change in expected.items:
            assert pair.recorder.previous_version(change.service, change) == \
                pair.embedded.backend.previous_version(change.service, change)
