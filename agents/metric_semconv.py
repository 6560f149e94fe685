"""Which metric names the metrics agent reads, what each means, and in which unit and temporality.

Names follow OpenTelemetry's semantic conventions (HTTP/RPC, system, process, container, k8s) and the
kubelet/cAdvisor names Prometheus scrapes, so telemetry from a stock collector is understood without
configuration. Each entry says which signal the series speaks for (latency, traffic, errors, cpu, memory,
network, ...), its unit (UCUM, as OTel writes it: `s`, `ms`, `By`, `1`, `%`, `{request}/s`) and how it
accumulates: a gauge is read as it is, a cumulative counter is differenced into increases per bucket,
and a histogram is read from its `.sum`, `.count` and `.bucket` (`le`) series — the shape OTLP ingest
stores (ingest/otlp.py). A unit stored with the data points wins over the table's, since an exporter
knows what it sent. Users add names, or correct one, under `metrics.names` in config.yaml.

docs/metrics.md lists this table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

Signal = Literal["latency", "traffic", "errors", "cpu", "memory", "network", "restarts", "pool", "disk"]
Kind = Literal["gauge", "cumulative", "delta", "histogram"]
SIGNALS: tuple[str, ...] = ("latency", "traffic", "errors", "cpu", "memory", "network", "restarts", "pool", "disk")


@dataclass(frozen=True)
class MetricMeaning:
    name: str
    signal: Signal
    unit: str  # UCUM as OTel writes it; the stored unit of a point wins over this
    kind: Kind = "gauge"
    side: Literal["server", "client"] | None = None  # for latency/traffic/errors: who measured it

    @property
    def differenced(self) -> bool:
        """A running total: only its increases say anything about a window."""
        return self.kind == "cumulative"


def _m(signal: Signal, unit: str, kind: Kind = "gauge", side: Literal["server", "client"] | None = None,
       *names: str) -> list[MetricMeaning]:
    return [MetricMeaning(n, signal, unit, kind, side) for n in names]


# Ordered by signal; within a signal, by how directly the name measures it.
TABLE: tuple[MetricMeaning, ...] = (
    # Latency. Stable OTel HTTP durations are histograms in seconds; the pre-1.21 names and RPC's are in ms.
    *_m("latency", "s", "histogram", "server", "http.server.request.duration", "rpc.server.call.duration"),
    *_m("latency", "s", "histogram", "client", "http.client.request.duration", "rpc.client.call.duration"),
    *_m("latency", "ms", "histogram", "server", "http.server.duration", "rpc.server.duration"),
    *_m("latency", "ms", "histogram", "client", "http.client.duration", "rpc.client.duration"),
    # Quantile gauges some pipelines precompute (a summary's quantiles, or a recording rule).
    *_m("latency", "ms", "gauge", "server", "http.server.duration.p50", "http.server.duration.p90",
        "http.server.duration.p95", "http.server.duration.p99"),
    *_m("latency", "ms", "gauge", "client", "http.client.duration.p50", "http.client.duration.p90",
        "http.client.duration.p95", "http.client.duration.p99"),
    *_m("latency", "s", "gauge", "server", "http.server.request.duration.p50", "http.server.request.duration.p90",
        "http.server.request.duration.p95", "http.server.request.duration.p99"),
    *_m("latency", "s", "gauge", "client", "http.client.request.duration.p50", "http.client.request.duration.p90",
        "http.client.request.duration.p95", "http.client.request.duration.p99"),
    # Traffic and errors (RED).
    *_m("traffic", "{request}/s", "gauge", "server", "http.server.request.rate"),
    *_m("traffic", "{request}", "gauge", "server", "http.server.active_requests"),
    *_m("errors", "1", "gauge", "server", "http.server.error.rate"),
    *_m("errors", "1", "gauge", "client", "http.client.error.rate"),
    # CPU: utilisation ratios (0..1), cores in use, and cumulative CPU seconds.
    *_m("cpu", "1", "gauge", None, "process.cpu.utilization", "container.cpu.utilization", "system.cpu.utilization",
        "k8s.pod.cpu.utilization", "k8s.pod.cpu_limit_utilization", "k8s.pod.cpu_request_utilization",
        "k8s.container.cpu_limit_utilization", "container.cpu.limit_utilization"),
    *_m("cpu", "{cpu}", "gauge", None, "container.cpu.usage", "k8s.pod.cpu.usage", "k8s.node.cpu.usage"),
    *_m("cpu", "s", "cumulative", None, "process.cpu.time", "container.cpu.time", "k8s.pod.cpu.time",
        "container_cpu_usage_seconds_total"),
    *_m("cpu", "s", "cumulative", None, "container_cpu_cfs_throttled_seconds_total"),
    # Memory: bytes in use and utilisation ratios (kubelet: working set / limit).
    *_m("memory", "By", "gauge", None, "process.memory.usage", "container.memory.usage", "container.memory.working_set",
        "k8s.pod.memory.usage", "k8s.pod.memory.working_set", "system.memory.usage", "jvm.memory.used",
        "container_memory_working_set_bytes", "process.runtime.jvm.memory.usage"),
    *_m("memory", "1", "gauge", None, "container.memory.utilization", "system.memory.utilization",
        "k8s.pod.memory.utilization", "k8s.pod.memory_limit_utilization", "k8s.container.memory_limit_utilization"),
    # Network: bytes and errors, cumulative in OTel; per-second rates where a pipeline computed them.
    *_m("network", "By", "cumulative", None, "system.network.io", "container.network.io", "k8s.pod.network.io",
        "container_network_receive_bytes_total", "container_network_transmit_bytes_total"),
    *_m("network", "{error}", "cumulative", None, "system.network.errors", "k8s.pod.network.errors",
        "container.network.errors"),
    *_m("network", "{packet}", "cumulative", None, "system.network.dropped", "system.network.packets"),
    *_m("network", "By/s", "gauge", None, "k8s.pod.network.io.receive", "k8s.pod.network.io.transmit",
        "container.network.io.receive", "container.network.io.transmit"),
    # Disk and syscalls.
    *_m("disk", "By", "cumulative", None, "system.disk.io", "container.blockio.io_service_bytes_recursive"),
    *_m("disk", "{syscall}", "gauge", None, "container.syscall.read", "container.syscall.write"),
    # Restarts and connection pools.
    *_m("restarts", "{restart}", "cumulative", None, "k8s.container.restarts", "kube_pod_container_status_restarts_total"),
    *_m("pool", "{request}", "gauge", None, "db.client.connection.pending_requests",
        "db.client.connections.pending_requests"),
    *_m("pool", "ms", "gauge", None, "db.client.connection.wait_time"),
    *_m("pool", "{connection}", "gauge", None, "db.client.connection.count", "db.client.connections.usage"),
)

HISTOGRAM_PARTS = (".sum", ".count", ".bucket")
# Seconds per unit of time, for durations; the agent reports latency in milliseconds.
_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}


class Semconv:
    """The table, plus what config.yaml adds. Looks names up, and histogram part names to their metric."""

    def __init__(self, extra: Iterable[MetricMeaning] = ()) -> None:
        self.by_name: dict[str, MetricMeaning] = {m.name: m for m in TABLE}
        for meaning in extra:
            self.by_name[meaning.name] = meaning

    @classmethod
    def from_config(cls, names: Mapping[str, object]) -> Semconv:
        """`metrics.names` of config.yaml: name -> an object with signal, unit, kind and side."""
        return cls(MetricMeaning(name, v.signal, v.unit, v.kind, v.side)  # type: ignore[attr-defined]
                   for name, v in names.items())

    def stored_names(self) -> tuple[str, ...]:
        """Every name to ask the store for: histograms as their sum, count and bucket series."""
        out: list[str] = []
        for meaning in self.by_name.values():
            if meaning.kind == "histogram":
                out.extend(meaning.name + part for part in HISTOGRAM_PARTS)
                out.append(meaning.name)  # a mean per point, as older ingests stored it
            else:
                out.append(meaning.name)
        return tuple(out)

    def lookup(self, stored: str) -> tuple[MetricMeaning, str] | None:
        """(meaning, part) of a stored name; part is "" or one of HISTOGRAM_PARTS."""
        if stored in self.by_name:
            return self.by_name[stored], ""
        for part in HISTOGRAM_PARTS:
            base = self.by_name.get(stored.removesuffix(part)) if stored.endswith(part) else None
            if base is not None and base.kind == "histogram":
                return base, part
        return None

    def with_unit(self, meaning: MetricMeaning, stored_unit: str | None) -> MetricMeaning:
        return replace(meaning, unit=stored_unit) if stored_unit and stored_unit != meaning.unit else meaning


def to_display(value: float, meaning: MetricMeaning) -> float:
    """The value in the unit the agent reports: durations in ms, percentages as 0..1 ratios."""
    if meaning.signal == "latency" and meaning.unit in _TIME_UNITS:
        return value * _TIME_UNITS[meaning.unit] * 1000.0
    if meaning.unit == "%":
        return value / 100.0
    return value


def display_unit(meaning: MetricMeaning) -> str:
    if meaning.signal == "latency" and meaning.unit in _TIME_UNITS:
        return "ms"
    return "1" if meaning.unit == "%" else meaning.unit


def number_text(value: float) -> str:
    """3 significant digits below 100, whole numbers with separators above, millions as M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.0f}M"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def quantity(value: float, unit: str) -> str:
    """A value with its unit as a person reads it: `1.39 s`, `512 MiB`, `20 connections`."""
    if unit == "By":
        size, prefix = next(((value / 1024 ** p, n) for p, n in ((3, "GiB"), (2, "MiB"), (1, "KiB"))
                             if abs(value) >= 1024 ** p), (value, "B"))
        return f"{number_text(size)} {prefix}"
    # UCUM annotations name what is counted: {request}/s is requests per second.
    word = re.sub(r"\{([^}]*)\}", lambda m: m.group(1) + ("" if value == 1 else "s"), unit)
    return number_text(value) if word in ("", "1") else f"{number_text(value)} {word}"


def quantity_change(before: float, now: float, unit: str) -> str:
    """`0.243 s → 1.39 s`, `0% → 48.6%`: both ends with their unit, so nobody guesses the scale. A
    dimensionless value within 0..1.5 at both ends is a ratio (an error rate, a utilisation): a percentage."""
    if unit == "1" and max(abs(before), abs(now)) <= 1.5:
        return f"{before * 100:.3g}% → {now * 100:.3g}%"
    return f"{quantity(before, unit)} → {quantity(now, unit)}"
