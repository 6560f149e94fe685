"""The metrics specialist: the four golden signals per service and host against the baseline.

Latency, traffic, errors and saturation (CPU, memory, restarts, connection pools) are compared series
by series: the incident window's 90th percentile against the baseline's, in units of the baseline's
own spread (MAD), so a naturally jumpy series needs a bigger move than a flat one. Saturation is the
signal that points at a cause; latency and errors are often symptoms relayed from below, so they
count for less. Saturation on one host of a service, with the others quiet, points at that host's
neighbourhood rather than at the service's code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median

from inquest.agents.base import Deps, Notebook, ask_together, register
from inquest.agents.baseline import MAD_SCALE
from inquest.agents.load import SURGE_FACTOR
from inquest.core import Finding, Incident, Scope
from inquest.tools.telemetry import Table

# metric name -> golden signal. Names follow OpenTelemetry's semantic conventions where they exist.
SIGNALS = {
    "http.server.duration.p95": "latency", "http.server.request.duration": "latency",
    "http.server.request.rate": "traffic",
    "http.server.error.rate": "errors",
    "process.cpu.utilization": "cpu", "container.cpu.utilization": "cpu", "system.cpu.utilization": "cpu",
    "k8s.pod.cpu.utilization": "cpu",
    "process.memory.usage": "memory", "container.memory.usage": "memory", "k8s.pod.memory.working_set": "memory",
    "k8s.container.restarts": "restarts",
    "db.client.connection.pending_requests": "pool", "db.client.connection.wait_time": "pool",
}
SATURATION = {"cpu", "memory", "restarts", "pool"}
COUNTERS = {"k8s.container.restarts"}
MIN_Z = 6.0  # many series are compared at once: only a move this far outside normal counts
# The smallest spread each signal is credited with, so a flat or empty baseline (MAD 0) does not turn
# a move nobody would notice into a huge score: a percentage point of errors, 5 ms, one waiter, 2% CPU.
SPREAD_FLOOR = {"errors": 0.01, "latency": 5.0, "pool": 1.0, "cpu": 0.02, "memory": 0.0, "traffic": 0.0,
                "restarts": 1.0}
RELATIVE_FLOOR = 0.05  # and never less than 5% of the baseline level
FAULT_OF = {"restarts": "memory_leak", "memory": "memory_leak", "cpu": "cpu_saturation", "pool": "pool_exhaustion",
            "traffic": "traffic_shift", "errors": "errors", "latency": "latency"}


@dataclass(frozen=True)
class Move:
    service: str
    host: str | None
    metric: str
    signal: str
    before: float
    now: float
    z: float


def robust_z(now: float, base_level: float, base_mad: float, signal: str) -> float:
    spread = max(MAD_SCALE * base_mad, RELATIVE_FLOOR * abs(base_level), SPREAD_FLOOR.get(signal, 0.0), 1e-9)
    if signal == "traffic":  # arrivals are Poisson: a rate over a 30 s bucket wobbles by sqrt(rate / 30)
        spread = max(spread, (abs(base_level) / 30) ** 0.5)
    return (now - base_level) / spread


def _pooled(rows: list[dict]) -> dict:
    """A service-wide baseline for one metric: the median host's figures."""
    return {key: median(r[key] for r in rows) for key in ("points", "median", "mad", "p90", "first", "last")}


def moves(now: Table, before: Table) -> list[Move]:
    base = {(r["service"], r["host"], r["name"]): r for r in before.records()}
    by_service: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in before.records():
        by_service[(r["service"], r["name"])].append(r)
    found = []
    for row in now.records():
        old = base.get((row["service"], row["host"], row["name"]))
        if old is None and by_service.get((row["service"], row["name"])):
            # A host the baseline never saw (a deploy replaced the pods): compare it with its service's
            # other hosts as they were, the closest thing to its own past.
            old = _pooled(by_service[(row["service"], row["name"])])
        if old is None or not old["points"]:
            continue
        signal = SIGNALS[row["name"]]
        if row["name"] in COUNTERS:
            grew, grew_before = row["last"] - row["first"], old["last"] - old["first"]
            if grew >= 1 and grew > grew_before:
                found.append(Move(row["service"], row["host"], row["name"], signal, grew_before, grew, MIN_Z + grew))
            continue
        if signal == "traffic":  # either way: a surge, or customers unable to reach us
            z = robust_z(row["median"], old["median"], old["mad"], signal)
            value = row["median"]
            if abs(z) >= MIN_Z and abs(value - old["median"]) >= 0.3 * abs(old["median"]):
                found.append(Move(row["service"], row["host"], row["name"], signal, old["median"], value, z))
            continue
        z = robust_z(row["p90"], old["p90"], old["mad"], signal)
        if z >= MIN_Z and row["p90"] >= 1.2 * old["p90"]:
            found.append(Move(row["service"], row["host"], row["name"], signal, old["p90"], row["p90"], z))
    return found


@register("metrics")
class MetricsAgent:
    name = "metrics"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        now, before = ask_together(lambda: deps.backend.metric_stats(scope.window, tuple(SIGNALS)),
                                   lambda: deps.backend.metric_stats(scope.baseline, tuple(SIGNALS)))
        if not now.rows:
            book.record("telemetry:metrics", now, "no golden-signal metrics in the incident window")
            return book.finding("no_data")
        hosts_of: dict[str, set[str]] = defaultdict(set)
        for row in now.records():
            if row["host"]:
                hosts_of[row["service"]].add(row["host"])
        by_service: dict[str, list[Move]] = defaultdict(list)
        for move in moves(now, before):
            by_service[move.service].append(move)
        book.facts["moved"] = {s: sorted({m.signal for m in ms}) for s, ms in by_service.items()}
        surge = max((m.now / m.before for m in by_service.get(scope.entry_service or "", ())
                     if m.signal == "traffic" and m.before > 0), default=1.0)
        for service, found in sorted(by_service.items()):
            if surge >= SURGE_FACTOR and service == scope.entry_service:
                self._surge(book, service, found, surge, now, before)
            else:  # in a surge, saturation downstream is what the load does, not a fault of its own
                self._judge(book, service, found, hosts_of[service], now, before,
                            discount=surge if surge >= SURGE_FACTOR else 1.0)
        return book.finding("ok")

    def _surge(self, book: Notebook, service: str, found: list[Move], factor: float, now: Table,
               before: Table) -> None:
        move = next(m for m in found if m.signal == "traffic")
        evidence = book.record(
            "telemetry:metrics", now,
            f"{service}, where requests enter, serves {factor:.1f}× its usual traffic ({move.metric} "
            f"{_fmt(move.before)} → {_fmt(move.now)}): saturation downstream follows from the load",
            {"service": service, "signal": "traffic", "factor": round(factor, 2), "before": move.before,
             "now": move.now, "baseline_query": before.query})
        book.suspect(f"a traffic surge at {service}: {factor:.1f}× the usual requests", service,
                     min(0.85, 0.55 + 0.1 * factor), supports=[evidence], fault="traffic_surge")

    def _judge(self, book: Notebook, service: str, found: list[Move], hosts: set[str], now: Table,
               before: Table, discount: float = 1.0) -> None:
        signals = {m.signal for m in found}
        evidence, local_signals = [], set()
        for signal in sorted(signals):
            strongest = sorted((m for m in found if m.signal == signal), key=lambda m: -abs(m.z))
            where = sorted({m.host for m in strongest if m.host})
            top = strongest[0]
            local = bool(where) and len(hosts) > 1 and len(where) == 1
            if local:
                local_signals.add(signal)
            scope_text = f"on {where[0]} only, not on its other {len(hosts) - 1} host(s)" if local else \
                f"on {len(where)} of {len(hosts)} host(s)" if where else "service-wide"
            evidence.append(book.record(
                "telemetry:metrics", now,
                f"{service} {signal}: {top.metric} {_fmt(top.before)} → {_fmt(top.now)} "
                f"({top.z:+.0f}× its normal spread), {scope_text}",
                {"service": service, "signal": signal, "metric": top.metric, "before": top.before, "now": top.now,
                 "z": round(top.z, 1), "hosts": where, "host_local": local, "baseline_query": before.query}))
        saturated = signals & SATURATION
        lead = next(s for s in ("restarts", "memory", "pool", "cpu", "traffic", "errors", "latency") if s in signals)
        fault = "noisy_neighbour" if lead == "cpu" and "cpu" in local_signals else FAULT_OF[lead]
        strength = min(1.0, max(abs(m.z) for m in found) / 30)
        confidence = (0.35 + 0.1 * len(saturated) + 0.2 * strength) if saturated else (0.15 + 0.1 * strength)
        book.suspect(f"{service}'s golden signals moved: {', '.join(sorted(signals))}", service,
                     min(confidence, 0.85) / discount, supports=evidence, fault=fault)


def _fmt(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.0f}M"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
