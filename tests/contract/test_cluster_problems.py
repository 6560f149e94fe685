"""What a user sees when the cluster does not hold what the configuration says, on the demo world:
one clear error naming the field (or index) and where, and the agents that do not need it still report."""

from __future__ import annotations

import pytest

from inquest.agents import build_agents
from inquest.coordinator.investigation import investigate
from inquest.errors import BackendError

pytestmark = [pytest.mark.elasticsearch, pytest.mark.parametrize("pair", ["n_plus_one_deploy"], indirect=True)]


def _incident(pair, incident_id="INC-1042"):
    return next(i for i in pair.incidents if i.id == incident_id)


def test_an_unmapped_field_fails_one_agent_by_name_and_the_others_report(pair):
    # Only the impact agent asks about tenants; the db and code-diff agents (cheaper to run than the
    # whole team on the test server) stand for the others.
    spans = pair.settings.spans.model_copy(update={"fields": {"tenant": "attributes.tenant.key"}})
    report = investigate(_incident(pair), pair.deps_with(pair.store(spans=spans)),
                         agents=build_agents(("db", "code_diff", "impact")))
    statuses = {a.agent: a for a in report.agents}
    impact = statuses.pop("impact")
    assert impact.status == "error"
    assert "'attributes.tenant.key' is not mapped in index 'traces-n_plus_one_deploy.otel-default'" in impact.error
    assert "backend.elasticsearch.spans.fields.tenant" in impact.error
    assert {name: run.status for name, run in statuses.items()} == {"db": "ok", "code_diff": "ok"}
    assert any("impact agent failed" in note for note in report.notes)
    assert report.hypotheses and report.hypotheses[0].service == "orders"


def test_an_index_that_matches_nothing_is_named(pair):
    logs = pair.settings.logs.model_copy(update={"index": "logs-nobody-writes-here*"})
    with pytest.raises(BackendError, match=r"no index matches 'logs-nobody-writes-here\*' on http://127\.0\.0\.1:\d+"):
        pair.store(logs=logs).log_templates(_incident(pair).window)


def test_more_changes_than_the_document_bound_is_an_error_not_a_shorter_list(pair):
    store = pair.store(max_documents=3)
    lookback = pair.report("embedded", _incident(pair)).scope.lookback
    with pytest.raises(BackendError, match="changes: more than 3 documents match in n_plus_one_deploy-changes; "
                                           "narrow the window or raise backend.elasticsearch.max_documents"):
        store.changes(lookback)
    report = investigate(_incident(pair), pair.deps_with(store), agents=build_agents(("code_diff",)))
    assert report.agents[0].status == "error" and "max_documents" in report.agents[0].error
    assert any("code_diff agent failed" in note for note in report.notes)


def test_an_unreachable_cluster_is_named_and_no_agent_hangs(pair):
    from contract.es_server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    report = investigate(_incident(pair), pair.deps_with(pair.store(urls=(url,), max_retries=0)))
    failed = [a for a in report.agents if a.status == "error"]
    assert failed and all(f"cannot reach Elasticsearch at {url}" in a.error for a in failed)
    assert report.root_cause is None
