"""What the fusion reads from the agents' findings: per-service anomalies and the call graph.

For now every agent is read through a thin adapter: each service-level hypothesis it supports with
evidence becomes one anomaly of the signal its fault names, scored on the common scale (confidence ×
the score cap), from a source private to that agent and signal. The agents' own `Anomaly` values are
not fused yet. Read raw they rank OnlineBoutique worse (AS@1 0.55 against 0.875 through the adapter),
for reasons measured there: a metric's latency score has no noise floor (a p99 over a few minutes
against a short baseline reaches the cap on 101 of 501 services that were not the cause), bytes on
the wire and syscalls (network, disk) follow traffic and are symptoms, and client latency sits on the
caller. Dropping those (latency from spans only, no client latency, no entry latency, no inner
traffic, network or disk) gives 0.839 AS@1 and 0.929 AS@3: better at 3, worse at 1, so the switch
waits for a per-series noise floor; nothing downstream depends on which path an anomaly came by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inquest.core import ANOMALY_SCORE_CAP, Anomaly, Finding, Modality
from inquest.faults import Fault, lookup

_MODALITY: dict[str, Modality] = {"trace": "traces", "metrics": "metrics", "logs": "logs", "db": "db"}


def _signal(fault: str | None) -> str:
    """A hypothesis's fault, as the signal it was read from (inquest.faults); an unknown label is its own."""
    known = lookup(fault)
    return known.signal if known else fault or "unspecified"


def _derived(finding: Finding, loaded_by: dict[str, str], external: set[str]) -> list[Anomaly]:
    modality = _MODALITY.get(finding.agent, "changes")
    out = []
    for hyp in finding.hypotheses:
        if hyp.change is not None or not hyp.service or not hyp.supports:
            continue
        service = hyp.service
        signal = _signal(hyp.fault)
        if service in loaded_by and service not in external and signal not in ("traffic", "amplification"):
            service = loaded_by[service]  # blame follows the load to where it comes from
        out.append(Anomaly(service=service, signal=signal, modality=modality,
                           score=min(ANOMALY_SCORE_CAP, hyp.confidence * ANOMALY_SCORE_CAP),
                           source=f"{finding.agent}:{signal}", evidence=hyp.supports[0]))
    return out


def anomalies_of(findings: Sequence[Finding]) -> list[Anomaly]:
    ok = [f for f in findings if f.status == "ok"]
    loaded_by = {svc: source.caller for f in ok for svc, source in f.loaded_by.items()}
    external = {h.service for f in ok for h in f.hypotheses
                if lookup(h.fault) is Fault.DEPENDENCY_OUTAGE and h.service and h.change is None}
    out: list[Anomaly] = []
    for finding in ok:
        out.extend(_derived(finding, loaded_by, external))
    return out


def call_edges(findings: Sequence[Finding], extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(caller, callee) pairs from every finding's call graph, plus any the caller already knows."""
    edges = dict.fromkeys(extra)
    for finding in findings:
        for edge in finding.call_graph:
            if edge.caller and edge.callee:
                edges[(edge.caller, edge.callee)] = None
    return list(edges)
