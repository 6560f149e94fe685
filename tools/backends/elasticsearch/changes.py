"""Incidents and changes from a cluster: the questions answered with documents, not aggregations.

A listing of incidents, the changes in a window and, for a deploy or a rollback, the version of the
service's rollout before it (what a rollback returns to), each at most `max_documents` documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from inquest.core import Change, Incident, Window
from inquest.tools.backends.elasticsearch.aggs import (
    exists,
    iso,
    parse_time,
    required_time,
    source_value,
    term,
)
from inquest.tools.backends.protocol import Changes

if TYPE_CHECKING:
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore

_ROLLOUTS = ("deploy", "rollback")


def incidents(store: ElasticsearchStore) -> list[Incident]:
    f = partial(store.f, "incidents")  # the field names of one index
    # A listing: the newest max_documents incidents, shortened without complaint.
    _, docs = store._reader.documents("incidents", "incidents", ("id", "started_at"), {"match_all": {}},
                                     [{f("started_at"): "desc"}, {f("id"): "asc"}],
                                     limit=store.settings.max_documents)
    out = []
    for doc in docs:
        v = {n: source_value(doc, f(n)) for n in ("id", "title", "service", "started_at", "window_start",
                                                  "window_end", "symptoms", "ticket", "baseline_start",
                                                  "baseline_end")}
        symptoms = v["symptoms"] or ()
        out.append(Incident(id=v["id"], title=v["title"] or "", service=v["service"],
                            started_at=required_time(v["started_at"], f"incident {v['id']}'s started_at"),
                            window=Window(required_time(v["window_start"], f"incident {v['id']}'s window_start"),
                                          required_time(v["window_end"], f"incident {v['id']}'s window_end")),
                            symptoms=tuple([symptoms] if isinstance(symptoms, str) else symptoms),
                            ticket=v["ticket"], baseline=_pinned(v["baseline_start"], v["baseline_end"])))
    return out


def changes(store: ElasticsearchStore, window: Window, services: Sequence[str] | None = None) -> Changes:
    f = partial(store.f, "changes")  # the field names of one index
    only = [{"terms": {f("service"): list(services)}}] if services else []
    text, docs = store._reader.documents("changes", "changes", ("id", "timestamp", "service"),
                                        store._filters("changes", window, *only),
                                        [{f("timestamp"): "asc"}, {f("id"): "asc"}])
    items = [_change(store, doc) for doc in docs]
    # What a rollback returns to: the version of the service's rollout before, however old.
    previous: dict[str, str | None] = {}
    resolved = []
    for change in items:
        if change.kind in _ROLLOUTS:
            if change.service not in previous:
                previous[change.service], query = _rollout_before(store, change)
                text += f"\n{query}"
            change = replace(change, previous_version=previous[change.service])
            previous[change.service] = change.version
        resolved.append(change)
    return Changes(query=text, items=tuple(resolved))


def _rollout_before(store: ElasticsearchStore, change: Change) -> tuple[str | None, str]:
    f = partial(store.f, "changes")  # the field names of one index
    at = iso(change.at)
    same_time_before = {"bool": {"filter": [term(f("timestamp"), at), {"range": {f("id"): {"lt": change.id}}}]}}
    earlier = {"bool": {"should": [{"range": {f("timestamp"): {"lt": at}}}, same_time_before],
                        "minimum_should_match": 1}}
    query = {"bool": {"filter": [term(f("service"), change.service), {"terms": {f("kind"): list(_ROLLOUTS)}},
                                 earlier]}}
    text, docs = store._reader.documents("changes", "changes", ("id", "timestamp", "service", "kind"), query,
                                        [{f("timestamp"): "desc"}, {f("id"): "desc"}], limit=1)
    return (source_value(docs[0], f("version")) if docs else None), text


def _change(store: ElasticsearchStore, doc: Mapping[str, Any]) -> Change:
    v = {n: source_value(doc, store.f("changes", n)) for n in
         ("id", "timestamp", "service", "kind", "description", "version", "commit", "repository", "author")}
    return Change(id=v["id"], at=required_time(v["timestamp"], f"change {v['id']}'s timestamp"), service=v["service"], kind=v["kind"],
                  description=v["description"] or "", version=v["version"], commit=v["commit"],
                  repository=v["repository"], author=v["author"])


def previous_version(store: ElasticsearchStore, service: str, before: Change) -> str | None:
    f = partial(store.f, "changes")  # the field names of one index
    query = {"bool": {"filter": [term(f("service"), service), {"terms": {f("kind"): list(_ROLLOUTS)}},
                                 exists(f("version")), {"range": {f("timestamp"): {"lt": iso(before.at)}}}]}}
    _, docs = store._reader.documents("previous_version", "changes", ("timestamp", "service", "kind", "version"),
                                     query, [{f("timestamp"): "desc"}], limit=1)
    return source_value(docs[0], f("version")) if docs else None


def _pinned(start: Any, end: Any) -> Window | None:
    """An incident's own baseline, when its document carries one (older documents do not)."""
    begins, ends = parse_time(start), parse_time(end)
    return Window(begins, ends) if begins and ends else None
