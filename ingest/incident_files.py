"""Change events (NDJSON) and incidents (YAML), as store rows (Alertmanager payloads: alerts.py).

These are declarations a person or a pipeline writes, so they are checked strictly: an unknown field
is rejected (it is usually a typo that would otherwise silently lose information), and so is a value
of the wrong type. Times are RFC 3339 / ISO 8601; one without a UTC offset is taken as UTC. The
formats are documented with examples in docs/ingest.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from inquest import safe_yaml
from inquest.core import CHANGE_KINDS, Incident, Window
from inquest.errors import InputError
from inquest.ingest.ndjson import MAX_LINE_BYTES, Record, Rejection, iter_json_documents, iter_lines

CHANGE_FIELDS = ("id", "time", "service", "kind", "version", "commit", "repository", "author", "description")
INCIDENT_FIELDS = ("id", "title", "service", "started_at", "window", "symptoms", "ticket", "baseline")
# Where to look around an incident that does not say: wide enough to hold an onset that preceded the
# alert by the usual `for:` delay and evaluation interval, short enough to keep the comparison sharp.
DEFAULT_WINDOW_BEFORE = timedelta(minutes=15)
DEFAULT_WINDOW_AFTER = timedelta(minutes=15)
_ID_PREFIX = {"deploy": "dep", "config": "cfg", "feature_flag": "flag", "migration": "mig", "scale": "scale",
              "rollback": "rb"}


class Invalid(ValueError):
    """One declaration is not valid; the message says which field and why."""


# -- change events ----------------------------------------------------------------------------------------------

def iter_change_records(path: Path | str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Record | Rejection]:
    """Rows for the changes table, one per line of NDJSON, or Rejections."""
    for item in iter_json_documents(path, max_line_bytes):
        if isinstance(item, Rejection):
            yield item
            continue
        line, document = item
        try:
            yield Record("changes", change_row(document))
        except Invalid as exc:
            yield Rejection(str(path), line, str(exc))


def change_row(document: Any) -> tuple[Any, ...]:
    fields = _fields(document, "change event", CHANGE_FIELDS, required=("time", "service", "kind"))
    at = parse_time(fields["time"], "time")
    service = _text(fields["service"], "service", required=True)
    kind = _text(fields["kind"], "kind", required=True)
    if kind not in CHANGE_KINDS:
        raise Invalid(f"kind {kind!r} is not one of {', '.join(CHANGE_KINDS)}")
    version = _text(fields.get("version"), "version")
    change_id = _text(fields.get("id"), "id") or default_change_id(kind, service, version, at)
    return (change_id, _naive(at), service, kind, version, _text(fields.get("commit"), "commit"),
            _text(fields.get("repository"), "repository"), _text(fields.get("author"), "author"),
            _text(fields.get("description"), "description") or "")


def default_change_id(kind: str, service: str, version: str | None, at: datetime) -> str:
    """A stable id for a change that names none, so ingesting the same events twice adds nothing:
    `dep-orders-2.14.0` for a versioned change, `cfg-catalog-20261103T130500Z` otherwise."""
    suffix = version if version else f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{_ID_PREFIX[kind]}-{service}-{suffix}"


# -- incidents declared in YAML ---------------------------------------------------------------------------------

def iter_incident_records(path: Path | str, max_bytes: int = MAX_LINE_BYTES) -> Iterator[Record | Rejection]:
    """Rows for the incidents table from a YAML file holding one incident, a list of them, or several
    `---`-separated documents. Each incident is checked on its own; line numbers point at its start."""
    name = str(path)
    parts, size = [], 0
    for item in iter_lines(path, max_bytes):
        if isinstance(item, Rejection):
            yield item
            return
        parts.append(item[1] if item[1].endswith("\n") else item[1] + "\n")
        size += len(item[1])
        if size > max_bytes:
            raise InputError(f"{name}: an incident file larger than {max_bytes:,} bytes is not an incident file")
    try:
        documents = list(safe_yaml.compose_all("".join(parts)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        yield Rejection(name, mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return
    for document in documents:
        if document is None:
            continue
        nodes = document.value if isinstance(document, yaml.SequenceNode) else [document]
        for node in nodes:
            line = node.start_mark.line + 1
            try:
                value = safe_yaml.construct(node)
                yield Record("incidents", incident_row(declared_incident(value)))
            except Invalid as exc:
                yield Rejection(name, line, str(exc))
            except yaml.YAMLError as exc:
                yield Rejection(name, line, f"not valid YAML: {exc}")


def declared_incident(document: Any) -> Incident:
    fields = _fields(document, "incident", INCIDENT_FIELDS, required=("id", "title", "service", "started_at"))
    started = parse_time(fields["started_at"], "started_at")
    if fields.get("window") is None:
        window = default_window(started)
    else:
        window = _period(_fields(fields["window"], "window", ("start", "end"), required=("start", "end")), "window")
    baseline = declared_baseline(fields.get("baseline"), window)
    symptoms = fields.get("symptoms") or []
    if isinstance(symptoms, str):
        symptoms = [symptoms]
    if not isinstance(symptoms, list) or not all(isinstance(s, str) for s in symptoms):
        raise Invalid("symptoms must be a list of strings")
    return Incident(id=_text(fields["id"], "id", required=True), title=_text(fields["title"], "title", required=True),
                    service=_text(fields["service"], "service", required=True), started_at=started, window=window,
                    symptoms=tuple(symptoms), ticket=_text(fields.get("ticket"), "ticket"), baseline=baseline)


# A known-good period pinned by offset: "the same window, a day (a week) earlier", the usual comparison when
# traffic follows a daily or weekly rhythm.
_OFFSET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_OFFSET_UNIT = {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "h": timedelta(hours=1),
                "d": timedelta(days=1), "w": timedelta(weeks=1)}


def declared_baseline(value: Any, window: Window) -> Window | None:
    """The incident's own fault-free period: `{start, end}`, or `{offset: 1d}` (the window, that long earlier).
    None: the engine derives one from the window (investigation.baseline_minutes)."""
    if value is None:
        return None
    try:
        span = _fields(value, "baseline", ("start", "end", "offset"), required=())
    except Invalid as exc:
        raise Invalid(f"baseline: {exc}") from None
    if "offset" in span:
        if "start" in span or "end" in span:
            raise Invalid("baseline: give either start and end, or offset, not both")
        match = _OFFSET.match(str(span["offset"]))
        if not match or float(match.group(1)) <= 0:
            raise Invalid(f"baseline.offset: {span['offset']!r} is not a duration before the window such as 1d, 7d, 90m")
        shift = float(match.group(1)) * _OFFSET_UNIT[match.group(2)]
        return Window(window.start - shift, window.end - shift)
    missing = [f"baseline.{k}" for k in ("start", "end") if span.get(k) in (None, "")]
    if missing:
        raise Invalid(f"missing {', '.join(missing)} (or give baseline.offset, e.g. 1d)")
    return _period(span, "baseline")


def _period(span: dict[str, Any], key: str) -> Window:
    """`{start, end}` under `key` as a window, END after START."""
    start, end = parse_time(span["start"], f"{key}.start"), parse_time(span["end"], f"{key}.end")
    if end <= start:
        raise Invalid(f"{key}.end ({end.isoformat()}) is not after {key}.start ({start.isoformat()})")
    return Window(start, end)


def default_window(started_at: datetime) -> Window:
    return Window(started_at - DEFAULT_WINDOW_BEFORE, started_at + DEFAULT_WINDOW_AFTER)


def incident_row(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.title, incident.service, _naive(incident.started_at),
            _naive(incident.window.start), _naive(incident.window.end), list(incident.symptoms), incident.ticket,
            *((_naive(incident.baseline.start), _naive(incident.baseline.end)) if incident.baseline else (None, None)))


# -- field checks -----------------------------------------------------------------------------------------------

def _fields(document: Any, what: str, known: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(document, dict):
        article = "an" if what[0] in "aeiou" else "a"
        raise Invalid(f"{article} {what} is an object of fields, got {type_name(document)}")
    unknown = sorted(str(k) for k in document if k not in known)
    if unknown:
        raise Invalid(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                      f"(known: {', '.join(known)})")
    missing = [k for k in required if document.get(k) in (None, "")]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}")
    return document


def _text(value: Any, field: str, required: bool = False) -> Any:
    if value is None or value == "":
        if required:
            raise Invalid(f"missing {field}")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, got {type_name(value)} {value!r}" +
                      ("; quote it" if isinstance(value, (int, float)) else ""))
    return value


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp itself
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(f"{field}: {value!r} is not an RFC 3339 time such as 2026-03-14T10:31:00Z") from None
    else:
        raise Invalid(f"{field} must be an RFC 3339 time string, got {type_name(value)} {value!r}")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object, got {type_name(value)}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _naive(at: datetime) -> datetime:
    """The store keeps naive UTC timestamps."""
    return at.astimezone(UTC).replace(tzinfo=None)


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
