"""The command line against a cluster: `investigate --backend elasticsearch` on the demo incident, and
`investigate ingest --to elasticsearch` of OTLP files, both through a config.yaml as a user writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inquest.cli import main
from inquest.config import ES_FIELDS

pytestmark = [pytest.mark.elasticsearch, pytest.mark.parametrize("pair", ["n_plus_one_deploy"], indirect=True)]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ingest"


def _config(tmp_path: Path, pair, indices: dict, **backend) -> str:
    elasticsearch = {"urls": list(pair.connection["urls"]), "request_timeout_s": 300, **indices}
    if pair.connection.get("api_key"):
        elasticsearch["api_key"] = "${INQUEST_ES_API_KEY}"
    text = {"backend": {"kind": "embedded", "elasticsearch": elasticsearch, **backend},
            "code": {"repository": str(pair.world.repo_path)},
            "investigation": {"agent_timeout_s": 900}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(text))
    return str(path)


def test_backend_elasticsearch_reproduces_the_embedded_answer_on_the_demo_incident(pair, tmp_path, capsys):
    config = _config(tmp_path, pair, {kind: {"index": pair.settings.index(kind)} for kind in ES_FIELDS},
                     embedded={"path": str(pair.world.store_path), "demo": False})
    answers = {}
    for backend in ("embedded", "elasticsearch"):
        code = main(["INC-1042", "--backend", backend, "--format", "json", "--no-live", "--config", config])
        answers[backend] = (code, json.loads(capsys.readouterr().out))
    (code_e, embedded), (code_es, clustered) = answers["embedded"], answers["elasticsearch"]
    assert code_es == code_e == 0
    def ranked(report: dict) -> list:
        return [(h["service"], (h.get("change") or {}).get("id")) for h in report["hypotheses"]]

    assert ranked(clustered) == ranked(embedded)
    assert clustered["hypotheses"][0]["change"]["id"] == "dep-orders-2.14.0"
    queries = [e["query"] for e in clustered["evidence"] if e["source"].startswith("telemetry")]
    assert queries and all(q.startswith("POST ") and "/_search {" in q for q in queries)


@pytest.mark.skipif(not (EXAMPLES / "traces.json").exists(), reason="the example OTLP files are not there")
def test_ingest_to_elasticsearch_loads_otlp_files_and_a_second_load_adds_nothing(pair, tmp_path, capsys):
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore
    from inquest.tools.backends.embedded_store import EmbeddedStore

    prefix = f"{pair.settings.index('changes').split('-changes')[0]}-ingest"
    indices = {"spans": f"traces-{prefix}.otel-default", "logs": f"logs-{prefix}.otel-default",
               "metrics": f"metrics-{prefix}.otel-default", "changes": f"{prefix}-changes",
               "db_query_stats": f"{prefix}-db-query-stats", "incidents": f"{prefix}-incidents"}
    config = _config(tmp_path, pair, {k: {"index": v, "write_index": v} for k, v in indices.items()},
                     embedded={"path": str(tmp_path / "local.duckdb"), "demo": False})
    pinned = tmp_path / "pinned.yaml"  # an incident carrying its own baseline travels with it
    pinned.write_text("id: INC-2002\ntitle: same time yesterday\nservice: checkout\n"
                      "started_at: 2026-03-12T10:31:00Z\nbaseline: {offset: 1d}\n")
    assert main(["ingest", str(EXAMPLES), str(pinned), "--to", "elasticsearch", "--format", "json",
                 "--config", config]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["store"].startswith("Elasticsearch at http")
    assert first["documents_stored"]["spans"] > 0 and first["documents_stored"]["incidents"] >= 1
    assert main(["ingest", str(EXAMPLES), "--to", "elasticsearch", "--format", "json", "--config", config]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again["documents_stored"].items() if k not in ("changes", "incidents")} == \
        {k: 0 for k in again["documents_stored"] if k not in ("changes", "incidents")}

    # The cluster now answers as the embedded store does after the same ingest.
    assert main(["ingest", str(EXAMPLES), str(pinned), "--config", config]) == 0
    capsys.readouterr()
    from inquest.config import load_config

    settings = load_config(config).backend.elasticsearch
    cluster, local = ElasticsearchStore(settings), EmbeddedStore(tmp_path / "local.duckdb")
    incidents = local.incidents()
    assert [(i.id, i.baseline) for i in cluster.incidents()] == [(i.id, i.baseline) for i in incidents]
    assert str({i.id: i for i in incidents}["INC-2002"].baseline) == "2026-03-11 10:16–10:46 UTC"
    # The store's time range, first and last record per kind, as the cluster and DuckDB each find it.
    held = local.time_range().rows
    assert cluster.time_range().rows == held and held[0][0] == "spans" and held[0][1] > 0 and held[0][2] is not None
    window = incidents[0].window
    assert cluster.entry_services(window).rows == local.entry_services(window).rows
    assert cluster.changes(window).items == local.changes(window).items

    # The example holds no database statistics: the db agent finds no such rows, it does not fail on a
    # missing index (the loader creates an empty one for every kind it had nothing for).
    incident = incidents[0].id
    assert main([incident, "--backend", "elasticsearch", "--format", "json", "--no-live", "--config", config]) in (0, 1)
    agents = json.loads(capsys.readouterr().out)["agents"]
    assert agents["db"]["status"] in ("ok", "no_data"), agents["db"]
