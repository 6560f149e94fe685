"""Which service an Alertmanager alert fired on: the workload, not the exporter that scraped it."""

from __future__ import annotations

import json
from pathlib import Path

from inquest.cli import main
from inquest.config import AlertsConfig
from inquest.ingest.alerts import alert_incident, alert_service

# What kube-prometheus-stack puts on a kube-state-metrics alert: every target label names the exporter,
# only `deployment` names the workload in trouble.
KUBE_STATE_METRICS = {"alertname": "KubeDeploymentReplicasMismatch", "deployment": "orders", "namespace": "shop",
                      "job": "kube-state-metrics", "container": "kube-state-metrics",
                      "service": "kube-prometheus-stack-kube-state-metrics", "pod": "kube-state-metrics-7d9f"}


def test_a_kube_state_metrics_alert_maps_to_the_deployment_not_the_exporter():
    mapped = alert_service(KUBE_STATE_METRICS)
    assert (mapped.service, mapped.label, mapped.note) == ("orders", "deployment", None)
    assert alert_service({"deployment": "orders", "job": "kube-state-metrics"}).service == "orders"


def test_the_ordered_list_decides_and_is_configurable():
    labels = {"app.kubernetes.io/name": "checkout", "app": "checkout-v2", "job": "checkout-metrics"}
    assert alert_service(labels).service == "checkout"
    assert alert_service(labels, AlertsConfig(service_labels=("app", "job"))).service == "checkout-v2"
    assert alert_service({"service.name": "cart", "job": "cart"}).label == "service.name"


def test_only_an_exporter_named_is_taken_with_a_warning():
    mapped = alert_service({"alertname": "NodeDown", "job": "node-exporter"})
    assert mapped.service == "node-exporter"
    assert mapped.note is not None and "names an exporter" in mapped.note and "alerts.service_labels" in mapped.note


def test_an_alert_naming_no_service_is_accepted_with_the_reason():
    made = alert_incident({"labels": {"alertname": "Watchdog"}, "startsAt": "2026-03-12T10:00:00Z"})
    assert made.incident.service == "" and made.incident.title == "Watchdog"
    assert made.notes and "none of the labels service, service.name, app.kubernetes.io/name" in made.notes[0]


def test_ingest_reads_the_mapping_from_config(tmp_path, capsys):
    payload = {"alerts": [{"labels": {"alertname": "Lag", "team": "payments", "job": "kube-state-metrics"},
                           "startsAt": "2026-03-12T10:00:00Z", "fingerprint": "ab12"}]}
    (tmp_path / "alert.json").write_text(json.dumps(payload))
    config = tmp_path / "config.yaml"
    config.write_text(f"backend:\n  embedded:\n    path: {tmp_path / 'store.duckdb'}\n    demo: false\n"
                      "alerts:\n  service_labels: [team, job]\n")
    assert main(["ingest", "--alert", str(tmp_path / "alert.json"), "--config", str(config)]) == 0
    capsys.readouterr()
    main(["incidents", "--format", "json", "--config", str(config)])
    assert [i["service"] for i in json.loads(capsys.readouterr().out)] == ["payments"]


def test_an_incident_without_a_service_is_investigated_from_the_entry_service(tmp_path, capsys):
    examples = Path(__file__).resolve().parent.parent / "examples" / "ingest"
    payload = json.loads((examples / "alertmanager.json").read_text())
    payload["commonLabels"] = {}
    payload["alerts"][0]["labels"] = {"alertname": "CheckoutSlow"}
    (tmp_path / "alert.json").write_text(json.dumps(payload))
    config = tmp_path / "config.yaml"
    config.write_text(f"backend:\n  embedded:\n    path: {tmp_path / 'store.duckdb'}\n    demo: false\n"
                      f"code:\n  repository: {tmp_path / 'no-repo'}\n")
    paths = [str(p) for p in sorted(examples.iterdir())
             if p.suffix in (".json", ".ndjson", ".gz") and p.name != "alertmanager.json"]
    assert main(["ingest", *paths, "--alert", str(tmp_path / "alert.json"), "--config", str(config)]) == 0
    capsys.readouterr()
    main(["AM-3f1c9a8e2b7d6054-20260312T1029Z", "--format", "json", "--config", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert any("names no service; investigating from the entry service" in n for n in report["notes"])
    assert report["incident"]["service"] and report["hypotheses"][0]["service"] == "payments"


def test_the_console_script_maps_a_kube_state_metrics_alert_to_its_deployment(tmp_path):
    import subprocess
    import sys

    payload = {"version": "4", "status": "firing", "commonLabels": {}, "alerts": [
        {"labels": KUBE_STATE_METRICS, "annotations": {"summary": "orders has 1 of 3 replicas available"},
         "startsAt": "2026-03-12T10:00:00Z", "fingerprint": "5e1c"}]}
    (tmp_path / "alert.json").write_text(json.dumps(payload))
    config = tmp_path / "config.yaml"
    config.write_text(f"backend:\n  embedded:\n    path: {tmp_path / 'store.duckdb'}\n    demo: false\n")
    investigate = f"{sys.prefix}/bin/investigate"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([investigate, *args, "--config", str(config)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    loaded = run("ingest", "--alert", str(tmp_path / "alert.json"))
    assert loaded.returncode == 0, loaded.stderr
    assert "note:" not in loaded.stdout  # a workload was named: nothing to warn about
    listed = run("incidents", "--format", "json")
    assert [(i["service"], i["title"]) for i in json.loads(listed.stdout)] == [
        ("orders", "orders has 1 of 3 replicas available")]
    (tmp_path / "bare.json").write_text(json.dumps({"alerts": [{"labels": {"alertname": "Watchdog"},
                                                                "startsAt": "2026-03-12T11:00:00Z"}]}))
    bare = run("ingest", "--alert", str(tmp_path / "bare.json"))
    assert bare.returncode == 0 and "note: " in bare.stdout and "investigating from the entry service" in bare.stdout
