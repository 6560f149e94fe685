"""Building blocks for asking a cluster the embedded store's GROUP BY questions as aggregations.

A GROUP BY over several columns becomes nested `terms` aggregations, one level per column, read back
as rows. Only `terms`, `filter(s)`, `histogram`, `min`/`max`/`avg`/`sum`, `cardinality` and `top_hits`
are used, which every Elasticsearch and OpenSearch version and both test servers answer alike
(`composite` and `multi_terms` would be shorter; not every server has them). SQL groups NULL as a
value of its own, and `terms` skips documents without the field, so the groups where a nullable field
is missing are counted under a `filter` of their own (the `missing` option of `terms` is not honoured
everywhere). Counts by a flag (errors) come from a sibling `terms` on the field, not a `filter`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inquest.errors import BackendError
from inquest.tools.backends.elasticsearch.percentiles import merge, quantile

Query = dict[str, Any]
Group = tuple[tuple[Any, ...], Mapping[str, Any]]  # one group's key values and its aggregation bucket


@dataclass(frozen=True)
class Key:
    """One GROUP BY column: the field's value, or (exists=True) whether the document has the field."""

    column: str
    field: str
    nullable: bool = False
    exists: bool = False


def term(field: str, value: Any) -> Query:
    return {"term": {field: value}}


def exists(field: str) -> Query:
    return {"exists": {"field": field}}


def missing(field: str) -> Query:
    return {"bool": {"must_not": [exists(field)]}}


def within(field: str, start: datetime, end: datetime) -> Query:
    return {"range": {field: {"gte": iso(start), "lt": iso(end)}}}


def not_within(field: str, start: datetime, end: datetime) -> Query:
    return {"bool": {"must_not": [within(field, start, end)]}}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def group_aggs(keys: Sequence[Key], leaf: Mapping[str, Any], size: int,
               order: Mapping[str, str] | None = None, last_size: int | None = None) -> dict[str, Any]:
    """Aggregations grouping by `keys` with `leaf` computed per group; `order` and `last_size` apply to
    the innermost level (e.g. ORDER BY sum(x) DESC LIMIT 100 within each outer group).

    Whether optional fields are present is decided once, by a top-level `filter` per combination,
    with `terms` levels below: a `filter` under a `terms` bucket costs a pass over the whole index per
    bucket on some servers, where a top-level one costs one pass."""
    optional = [k for k in keys if k.nullable or k.exists]
    aggs: dict[str, Any] = {}
    for combo in itertools.product((True, False), repeat=len(optional)):
        present = dict(zip((k.column for k in optional), combo))
        levels = [k for k in keys if not k.exists and present.get(k.column, True)]
        nested: dict[str, Any] = dict(leaf)
        for depth in range(len(levels) - 1, -1, -1):
            innermost = depth == len(levels) - 1
            terms: dict[str, Any] = {"field": levels[depth].field,
                                     "size": last_size if innermost and last_size else size}
            if innermost and order:
                terms["order"] = dict(order)
            nested = {f"by_{levels[depth].column}": {"terms": terms, **({"aggs": nested} if nested else {})}}
        if not optional:
            return nested
        clauses = {"filter": [exists(k.field) for k in optional if present[k.column]],
                   "must_not": [exists(k.field) for k in optional if not present[k.column]]}
        aggs[_combo_name(combo)] = {"filter": {"bool": {c: v for c, v in clauses.items() if v}},
                                    **({"aggs": nested} if nested else {})}
    return aggs


def _combo_name(combo: Sequence[bool]) -> str:
    return "has_" + "".join("1" if present else "0" for present in combo)


def group_rows(result: Mapping[str, Any], keys: Sequence[Key]) -> Iterator[Group]:
    """(group key values, the group's bucket) for every non-empty group, NULL as None."""
    optional = [k for k in keys if k.nullable or k.exists]
    for combo in itertools.product((True, False), repeat=len(optional)):
        present = dict(zip((k.column for k in optional), combo))
        node = result[_combo_name(combo)] if optional else result
        if optional and not node["doc_count"]:
            continue
        levels = [k for k in keys if not k.exists and present.get(k.column, True)]
        for values, bucket in _walk(node, levels, ()):
            found = dict(zip((k.column for k in levels), values))
            yield tuple(present[k.column] if k.exists else found.get(k.column) for k in keys), bucket


def _walk(node: Mapping[str, Any], levels: Sequence[Key], prefix: tuple[Any, ...]) -> Iterator[Group]:
    if not levels:
        yield prefix, node
        return
    for bucket in node[f"by_{levels[0].column}"]["buckets"]:
        yield from _walk(bucket, levels[1:], prefix + (bucket["key"],))


def count_of(bucket: Mapping[str, Any], name: str, key: Any) -> int:
    """Documents of `bucket` whose sibling `terms` aggregation `name` put under `key`."""
    return next((b["doc_count"] for b in bucket[name]["buckets"] if b["key"] == key), 0)


def value(bucket: Mapping[str, Any], name: str) -> Any:
    return bucket[name]["value"]


def first_key(bucket: Mapping[str, Any], name: str) -> Any:
    buckets = bucket[name]["buckets"]
    return buckets[0]["key"] if buckets else None


def rounded(number: float | None, digits: int) -> float | None:
    return None if number is None else round(float(number), digits)


@dataclass(frozen=True)
class Percentiles:
    """p50/p95 of a duration, as bucket counts (default) or the cluster's own `percentiles`."""

    value_field: str  # the duration as stored
    bucket_field: str  # its log-scale bucket, derived at ingest
    per_ms: float  # stored units per millisecond
    native: bool = False
    name: str = "d"
    percents: tuple[float, ...] = (50, 95)  # what the native aggregation is asked for

    def aggs(self) -> dict[str, Any]:
        if self.native:
            return {f"{self.name}_pct": {"percentiles": {"field": self.value_field, "percents": list(self.percents)}}}
        return {f"{self.name}_hist": {"histogram": {"field": self.bucket_field, "interval": 1, "min_doc_count": 1}},
                f"{self.name}_min": {"min": {"field": self.value_field}},
                f"{self.name}_max": {"max": {"field": self.value_field}}}

    def sketch(self, bucket: Mapping[str, Any]) -> Sketch:
        if self.native:
            values = bucket[f"{self.name}_pct"]["values"]
            found = {float(p): (None if v is None else v / self.per_ms) for p, v in values.items()}
            return Sketch(exact={p / 100: found.get(float(p)) for p in self.percents})
        counts = {int(b["key"]): b["doc_count"] for b in bucket[f"{self.name}_hist"]["buckets"]}
        low, high = bucket[f"{self.name}_min"]["value"], bucket[f"{self.name}_max"]["value"]
        return Sketch(counts=counts, low=None if low is None else low / self.per_ms,
                      high=None if high is None else high / self.per_ms)


@dataclass(frozen=True)
class Sketch:
    """One group's duration distribution as the cluster summarised it; sketches of groups can be merged."""

    counts: Mapping[int, int] | None = None
    low: float | None = None
    high: float | None = None
    exact: Mapping[float, float | None] | None = None  # from the native aggregation: not mergeable

    def quantile(self, q: float) -> float | None:
        if self.exact is not None:
            return rounded(self.exact.get(q), 2)
        return rounded(quantile(self.counts or {}, q, self.low, self.high), 2)

    def __add__(self, other: Sketch) -> Sketch:
        if self.exact is not None or other.exact is not None:
            # Native percentiles cannot be combined: keep the larger group's, which dominates.
            return self
        lows = [v for v in (self.low, other.low) if v is not None]
        highs = [v for v in (self.high, other.high) if v is not None]
        return Sketch(counts=merge([self.counts or {}, other.counts or {}]), low=min(lows, default=None),
                      high=max(highs, default=None))


def source_value(source: Mapping[str, Any], field: str) -> Any:
    """A field of a document's _source, whether it was sent with dotted keys or as nested objects."""
    if field in source:
        return source[field]
    head, dot, rest = field.partition(".")
    while dot:
        inner = source.get(head)
        if isinstance(inner, Mapping):
            found = source_value(inner, rest)
            if found is not None:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def required_time(raw: Any, what: str) -> datetime:
    """A time the engine cannot do without (an incident's start, a change's moment, a bucket's key): a
    document lacking it is a one-line error naming what, not a None that fails later."""
    at = parse_time(raw)
    if at is None:
        raise BackendError(f"Elasticsearch: {what} is missing (not a time: {raw!r})")
    return at


def parse_time(raw: Any) -> datetime | None:
    """A date from _source or a bucket key: epoch milliseconds, or ISO 8601 with up to nanoseconds."""
    if raw is None:
        return None
    if isinstance(raw, (int, float)):
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    text = str(raw).replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:  # Python reads at most microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{main}.{rest[:min(digits, 6)]}{rest[digits:]}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

# DuckDB's time_bucket counts buckets from 2000-01-03 00:00 UTC; date_histogram from the epoch: the offset
# that makes a cluster's buckets fall where the embedded store's do.
TIME_BUCKET_ORIGIN_S = 946857600
