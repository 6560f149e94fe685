"""Reading from a cluster for the telemetry backend: searches whose fields are known to be mapped,
documents paged with search_after under a hard bound, and a record of what was transferred.

Before the first question about a kind of data (spans, logs, ...), the mapping of its configured
index is read once for every field the configuration names; a question whose field is not mapped then
fails with one error naming the field, the index and the host, instead of quietly counting nothing
(a search on an unmapped field matches no document, it does not fail).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from elasticsearch import Elasticsearch

from inquest.config import ES_FIELDS, ElasticsearchBackend
from inquest.errors import BackendError
from inquest.tools.backends.elasticsearch.aggs import Query
from inquest.tools.backends.elasticsearch.connection import (
    TransferMeter,
    hosts_of,
    malformed,
    within_deadline,
)

# Fields the loader derives (ingest/es_loader.py); the mapping check says where they come from.
DERIVED = {
    "spans": ("inquest.self_ms", "inquest.duration_bucket", "inquest.parent.service", "inquest.parent.start",
              "inquest.parent.duration_ms", "inquest.parent.duration_bucket", "inquest.children.first_start",
              "inquest.children.first_failed_start", "inquest.self_bucket", "inquest.credited",
              "inquest.parent.client", "inquest.gap_ms", "inquest.gap_bucket"),
    "logs": ("inquest.template",),
}
PAGE = 500  # documents per search_after page


class ClusterReader:
    def __init__(self, settings: ElasticsearchBackend, client: Elasticsearch, meter: TransferMeter) -> None:
        self.settings = settings
        self.client = client
        self.meter = meter
        self._mapped: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def _ask(self, what: str, send: Callable[[Elasticsearch], Any]) -> Any:
        return within_deadline(self.client, self.settings, what, send)

    def field(self, kind: str, name: str) -> str:
        """The cluster's name for a logical field; derived `inquest.*` fields are named as they are."""
        return name if name.startswith("inquest.") else self.settings.field(kind, name)

    def search(self, question: str, kind: str, fields: Iterable[str], body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One search after checking its fields are mapped: (the request as console text, the response)."""
        index = self.settings.index(kind)
        self.require(kind, fields, question)
        what = f"{question} on {index}"
        response = self._ask(what, lambda client: client.search(index=index, body=body).body)
        hits = response.get("hits") if isinstance(response, dict) else None
        if not isinstance(hits, dict) or not isinstance(hits.get("hits", []), list) or (
                "aggs" in body and not isinstance(response.get("aggregations", {}), dict)):
            raise malformed(self.settings, what, response)
        self.meter.add(documents=len(response.get("hits", {}).get("hits", [])))
        return f"POST {index}/_search {json.dumps(body, separators=(',', ':'))}", response

    def documents(self, question: str, kind: str, fields: Iterable[str], query: Query, sort: list[Any],
                  limit: int | None = None) -> tuple[str, list[dict[str, Any]]]:
        """_source of the matching documents in `sort` order, paged with search_after. At most `limit`;
        without a limit, more than max_documents is an error rather than a silently shortened answer."""
        bound = limit or self.settings.max_documents
        page = min(bound + 1, PAGE)
        found: list[dict[str, Any]] = []
        text, after = "", None
        while len(found) <= bound:
            body: dict[str, Any] = {"size": page, "query": query, "sort": sort, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            request, response = self.search(question, kind, fields, body)
            text = text or request
            hits = response["hits"]["hits"]
            found.extend(hit["_source"] for hit in hits)
            if len(hits) < page:
                break
            after = hits[-1]["sort"]
        if len(found) > bound and limit is None:
            raise BackendError(f"{question}: more than {bound} documents match in {self.settings.index(kind)}; "
                               "narrow the window or raise backend.elasticsearch.max_documents")
        return text, found[:bound]

    def count_documents(self, question: str, documents: int) -> None:
        """Documents brought back inside aggregations (top_hits), held to the same bound."""
        if documents > self.settings.max_documents:
            raise BackendError(f"{question}: would bring back {documents} documents, more than "
                               f"backend.elasticsearch.max_documents ({self.settings.max_documents}); "
                               "narrow the question or raise the bound")
        self.meter.add(documents=documents)

    def require(self, kind: str, fields: Iterable[str], question: str) -> None:
        mapped = self._mapping(kind, question)
        for name in fields:
            field = self.field(kind, name)
            if field not in mapped:
                where = ("derived at ingest by `investigate ingest --to elasticsearch`" if name.startswith("inquest.")
                         else f"configured as backend.elasticsearch.{kind}.fields.{name}")
                raise BackendError(f"{question}: field '{field}' is not mapped in index '{self.settings.index(kind)}' "
                                   f"on {hosts_of(self.settings)} ({where})")

    def _mapping(self, kind: str, question: str) -> frozenset[str]:
        with self._lock:
            if kind not in self._mapped:
                self._mapped[kind] = self._read_mapping(kind, question)
            return self._mapped[kind]

    def _read_mapping(self, kind: str, question: str) -> frozenset[str]:
        index = self.settings.index(kind)
        wanted = sorted({self.field(kind, name) for name in ES_FIELDS[kind]} | set(DERIVED.get(kind, ())))
        what = f"{question}: reading the mapping of {index}"
        response = self._ask(what, lambda client: client.indices.get_field_mapping(index=index, fields=",".join(wanted)).body)
        if not isinstance(response, dict) or not all(isinstance(m, dict) for m in response.values()):
            raise malformed(self.settings, what, response)
        if not response:
            raise BackendError(f"{question}: no index matches '{index}' on {hosts_of(self.settings)} "
                               f"(backend.elasticsearch.{kind}.index)")
        return frozenset(field for mapping in response.values() for field in mapping.get("mappings", {}))
