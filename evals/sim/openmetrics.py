"""A world's metrics as OpenMetrics text, the input of `promtool tsdb create-blocks-from openmetrics`.

Prometheus is fed by backfill rather than by scraping: a world's afternoon lies in the past, and only
blocks built from timestamped samples can put it there. Names follow the usual OpenTelemetry→Prometheus
translation (every character outside [a-zA-Z0-9_:] becomes `_`); the resource becomes labels the way a
scrape labels them: `service` (service.name), `instance` (host.name), `version` (service.version), and
every other attribute under its sanitised name (`le` stays `le`). Every family is declared `gauge`: the
store keeps running totals as plain values, and PromQL's `increase` reads any series as a counter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_RESOURCE_LABELS = {"service.version": "version"}


def prometheus_name(name: str) -> str:
    """`http.server.request.rate` → `http_server_request_rate`."""
    cleaned = _INVALID.sub("_", name)
    return "_" + cleaned if cleaned[:1].isdigit() else cleaned


def _label_value(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(service: str | None, host: str | None, attributes: str | None) -> str:
    pairs: dict[str, str] = {}
    if service:
        pairs["service"] = service
    if host:
        pairs["instance"] = host
    for key, value in sorted((json.loads(attributes) if attributes else {}).items()):
        if value is not None and not key.startswith("inquest."):
            pairs[_RESOURCE_LABELS.get(key, prometheus_name(key))] = str(value)
    return ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(pairs.items()))


def openmetrics_lines(store_path: Path) -> Iterator[str]:
    """Every finite point of the store's `metrics` table, one family per name, each series in time order."""
    with duckdb.connect(str(store_path), read_only=True) as con:
        rows = con.execute("""
            SELECT name, "service.name", "host.name", CAST(attributes AS VARCHAR), epoch_ms(timestamp), value
            FROM metrics WHERE value IS NOT NULL AND NOT isnan(value)
            ORDER BY name, 2, 3, 4, timestamp""").fetchall()
    family = None
    for name, service, host, attributes, millis, value in rows:
        metric = prometheus_name(name)
        if metric != family:
            family = metric
            yield f"# TYPE {metric} gauge"
        if math.isfinite(value):
            labels = _labels(service, host, attributes)
            yield f"{metric}{{{labels}}} {value!r} {millis / 1000:.3f}"
    yield "# EOF"


def write_openmetrics(store_path: Path, out: Path) -> Path:
    with open(out, "w", encoding="utf-8") as handle:
        for line in openmetrics_lines(store_path):
            handle.write(line + "\n")
    return out
