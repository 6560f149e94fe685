"""Alertmanager's webhook body (version 4), checked field by field into a typed `AlertGroup`.

The documented shape (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
`version`, `groupKey`, `truncatedAlerts`, `status` (firing|resolved), `receiver`, `groupLabels`,
`commonLabels`, `commonAnnotations`, `externalURL` and `alerts`, each alert with `status`, `labels`,
`annotations`, `startsAt`, `endsAt`, `generatorURL` and `fingerprint`. Unknown fields are kept out of the
way rather than rejected: Alertmanager adds fields over time and an older receiver must not drop pages.
A body that is not this shape raises `PayloadError` with one line saying what and where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from inquest.config import AlertsConfig
from inquest.errors import InputError
from inquest.ingest.alerts import DEFAULT_ALERTS, AlertIncident, alert_incident
from inquest.ingest.incident_files import Invalid

SUPPORTED_VERSION = "4"
# Requests larger than this are not an alert group; Alertmanager's own max_alerts keeps real ones far below.
MAX_BODY_BYTES = 4 * 1024 * 1024
Status = Literal["firing", "resolved"]


class PayloadError(InputError):
    """The webhook body is not an Alertmanager v4 notification; the message is one line naming the field."""


@dataclass(frozen=True)
class Alert:
    status: Status
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None  # None: still firing (Alertmanager sends 0001-01-01T00:00:00Z)
    fingerprint: str
    raw: Mapping[str, Any]  # the alert as sent, for the ingest mapping


@dataclass(frozen=True)
class AlertGroup:
    key: str  # groupKey: what deduplication and the incident id hang on
    status: Status
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    truncated: int
    raw: Mapping[str, Any]  # the body as sent: what the queue persists, re-read with parse_group on restart

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved_at(self) -> datetime | None:
        ends = [a.ends_at for a in self.alerts if a.ends_at is not None]
        return max(ends) if self.status == "resolved" and ends else None


def parse_body(body: bytes) -> AlertGroup:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"body of {len(body):,} bytes exceeds the {MAX_BODY_BYTES:,} an alert group may have")
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 text") from None
    except ValueError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    return parse_group(document)


def parse_group(document: Any) -> AlertGroup:
    if not isinstance(document, dict):
        raise PayloadError(f"expected a JSON object (an Alertmanager notification), got {_kind(document)}")
    version = document.get("version")
    if version != SUPPORTED_VERSION:
        raise PayloadError(f"version: {version!r} is not the webhook payload version {SUPPORTED_VERSION!r} this "
                           "receiver reads")
    key = _string(document, "groupKey")
    status = _status(document.get("status"), "status")
    alerts = document.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError(f"alerts: expected a non-empty list, got {_kind(alerts)}")
    truncated = document.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError(f"truncatedAlerts: expected a count, got {_kind(truncated)}")
    group = AlertGroup(key=key, status=status, receiver=str(document.get("receiver") or ""),
                       group_labels=_labels(document.get("groupLabels"), "groupLabels"),
                       common_labels=_labels(document.get("commonLabels"), "commonLabels"),
                       alerts=tuple(_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)),
                       truncated=truncated, raw=document)
    group_incident(group)  # a group that cannot become an incident (no title) is refused now, not in a worker
    return group


def group_incident(group: AlertGroup, episode_start: datetime | None = None,
                   settings: AlertsConfig = DEFAULT_ALERTS) -> AlertIncident:
    """The incident a group stands for: `investigate ingest --alert`'s mapping (inquest.ingest.alerts) of its
    earliest firing alert, the common labels and annotations filling in, named by the group so every
    notification of one episode (first firing, fired again, resolved) updates the same report.
    `episode_start` is when the episode began, kept by the server; without it the earliest alert's start."""
    alerts = sorted(group.firing or group.alerts, key=lambda a: a.starts_at)
    try:
        made = alert_incident(dict(alerts[0].raw), group.raw, settings)
    except Invalid as exc:
        raise PayloadError(f"alerts: {exc}") from None
    started = episode_start or alerts[0].starts_at
    digest = hashlib.sha256(group.key.encode("utf-8")).hexdigest()[:12]
    return replace(made, incident=replace(made.incident, id=f"AM-{digest}-{started.astimezone(UTC):%Y%m%dT%H%M%SZ}"))


def _alert(value: Any, where: str) -> Alert:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {_kind(value)}")
    starts = _time(value.get("startsAt"), f"{where}.startsAt")
    ends = _time(value.get("endsAt"), f"{where}.endsAt") if value.get("endsAt") not in (None, "") else None
    fingerprint = value.get("fingerprint")
    if not isinstance(fingerprint, str):
        fingerprint = hashlib.sha256(json.dumps(value.get("labels"), sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Alert(status=_status(value.get("status"), f"{where}.status"), labels=_labels(value.get("labels"), f"{where}.labels"),
                 annotations=_labels(value.get("annotations"), f"{where}.annotations"), starts_at=starts,
                 ends_at=ends if ends is not None and ends.year > 1 else None, fingerprint=fingerprint, raw=value)


def _string(document: Mapping[str, Any], field: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{field}: expected a non-empty string, got {_kind(value)}")
    return value


def _status(value: Any, where: str) -> Status:
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    raise PayloadError(f"{where}: expected 'firing' or 'resolved', got {value!r}"[:200])


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise PayloadError(f"{where}: expected an object of strings, got {_kind(value)}")
    return {str(k): v for k, v in value.items()}


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected an RFC 3339 time, got {_kind(value)}")
    text = value.strip()  # Go writes nanoseconds: Python 3.11 reads any number of digits
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{where}: {value!r} is not an RFC 3339 time"[:200]) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)
