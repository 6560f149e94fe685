"""Alertmanager webhook payloads as incidents, and which service an alert fired on.

`alert_service` is the one mapping from an alert's labels to a service, shared by `ingest --alert` and
`investigate serve`: the first label of the configured ordered list (`alerts.service_labels`) that names
a workload wins; a label whose value names an exporter (kube-state-metrics, node-exporter, a blackbox
probe) is passed over for a later one, because the scraper is not what is failing. An alert that names
no service is still an incident: the investigation then starts from the entry service, and the notes
say why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inquest.config import AlertsConfig
from inquest.core import Incident
from inquest.ingest.incident_files import Invalid, default_window, incident_row, parse_time, string_map, type_name
from inquest.ingest.ndjson import MAX_LINE_BYTES, Notice, Record, Rejection, iter_json_documents

ALERT_TICKET_KEYS = ("ticket", "issue")
DEFAULT_ALERTS = AlertsConfig()


@dataclass(frozen=True)
class AlertService:
    """The service an alert names, the label it came from, and why it may not be the failing workload."""

    service: str | None  # None: none of the labels is set; the investigation starts from the entry service
    label: str | None
    note: str | None = None


@dataclass(frozen=True)
class AlertIncident:
    """An incident made from one alert, with what a person should know about how it was made."""

    incident: Incident  # its service is "" when the alert named none
    service: AlertService

    @property
    def notes(self) -> tuple[str, ...]:
        return (self.service.note,) if self.service.note else ()


def names_exporter(value: str, settings: AlertsConfig = DEFAULT_ALERTS) -> bool:
    lowered = value.lower()
    return any(token.lower() in lowered for token in settings.exporters)


def alert_service(labels: Mapping[str, str], settings: AlertsConfig = DEFAULT_ALERTS) -> AlertService:
    """The service an alert fired on, from its labels, by `settings.service_labels` in order."""
    present = [(label, labels[label]) for label in settings.service_labels if labels.get(label)]
    if not present:
        return AlertService(None, None, f"the alert has none of the labels {', '.join(settings.service_labels)} "
                                        "(alerts.service_labels): investigating from the entry service")
    workload = next(((label, value) for label, value in present if not names_exporter(value, settings)), None)
    if workload is not None:
        return AlertService(workload[1], workload[0])
    label, value = present[0]
    return AlertService(value, label, f"service {value!r} (label {label}) names an exporter, which reports a "
                                      "workload's metrics rather than being the failing workload; add the "
                                      "workload's label to alerts.service_labels")


def alert_incident(alert: Any, payload: Mapping[str, Any] | None = None,
                   settings: AlertsConfig = DEFAULT_ALERTS) -> AlertIncident:
    """An incident from one alert of a webhook payload: the group's common labels and annotations fill
    in what the alert itself lacks."""
    payload = payload or {}
    if not isinstance(alert, dict):
        raise Invalid(f"an alert is an object, got {type_name(alert)}")
    labels = {**string_map(payload.get("commonLabels"), "commonLabels"), **string_map(alert.get("labels"), "labels")}
    annotations = {**string_map(payload.get("commonAnnotations"), "commonAnnotations"),
                   **string_map(alert.get("annotations"), "annotations")}
    if alert.get("startsAt") in (None, ""):
        raise Invalid("startsAt is missing")
    started = parse_time(alert["startsAt"], "startsAt")
    service = alert_service(labels, settings)
    title = annotations.get("summary") or labels.get("alertname")
    if not title:
        raise Invalid("no title: the alert has neither a summary annotation nor an alertname label")
    symptoms = [annotations["description"]] if annotations.get("description") else []
    ticket = next((annotations[k] for k in ALERT_TICKET_KEYS if annotations.get(k)), None)
    incident = Incident(id=alert_incident_id(alert, labels, payload, started), title=title,
                        service=service.service or "", started_at=started, window=default_window(started),
                        symptoms=tuple(symptoms), ticket=ticket)
    return AlertIncident(incident, service)


def alert_incident_id(alert: Mapping[str, Any], labels: Mapping[str, str], payload: Mapping[str, Any],
                      started: datetime) -> str:
    """`AM-<fingerprint>-<start>`: the same notification delivered twice is one incident, while the same
    alert firing again on another day is a new one. Without a fingerprint, the group key and labels
    stand in for it."""
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        basis = json.dumps([payload.get("groupKey"), sorted(labels.items())], default=str)
        fingerprint = hashlib.sha256(basis.encode()).hexdigest()[:16]
    return f"AM-{fingerprint}-{started.astimezone(UTC):%Y%m%dT%H%MZ}"


def iter_alert_records(path: Path | str, max_line_bytes: int = MAX_LINE_BYTES,
                       settings: AlertsConfig = DEFAULT_ALERTS) -> Iterator[Record | Rejection | Notice]:
    """One incident per alert in an Alertmanager webhook payload (a saved request body, pretty-printed
    or not; a file of several payloads, one per line, works too)."""
    for item in iter_json_documents(path, max_line_bytes):
        if isinstance(item, Rejection):
            yield item
            continue
        line, payload = item
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            yield Rejection(str(path), line, "not an Alertmanager webhook payload: expected an object with an "
                                             "'alerts' list")
            continue
        for index, alert in enumerate(payload["alerts"]):
            try:
                made = alert_incident(alert, payload, settings)
            except Invalid as exc:
                yield Rejection(str(path), line, f"alerts[{index}]: {exc}")
                continue
            yield Record("incidents", incident_row(made.incident))
            for note in made.notes:
                yield Notice(str(path), line, f"alerts[{index}] ({made.incident.id}): {note}")
