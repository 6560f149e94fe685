"""Merge the agents' hypotheses into candidate root causes and rank them. Pure: values in, values out.

A candidate is a service, or a change on a service. An agent that blames a service without naming a
change (trace, db) lends its weight to that service's most credible change, when there is one, because
"orders is slow" and "orders was deployed a minute before" are the same story told twice.

Within a service, a candidate's support still combines agents' claims (noisy-OR, contradictions cut it),
which decides between two changes on one service. Between services, the order comes from the fused
anomalies walked along the call graph (weigh.py, fusion.py), which counts one fact once and discounts a
service whose trouble a dependency below it explains; the confidence printed is the calibrated
probability (calibration.py), not a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from inquest.coordinator.calibration import Calibration, load_calibration
from inquest.coordinator.weigh import weigh
from inquest.core import ChangeRef, Evidence, Finding, Hypothesis, LoadSource, RankedHypothesis
from inquest.faults import AUTHORITY, lookup

CREDIBLE_CHANGE = 0.3  # a change below this is not a place to hang other agents' service-level blame
CONTRADICTION_FACTOR = 0.6
MAX_CONFIDENCE = 0.98  # evidence is never proof


def _external(hyp: Hypothesis) -> bool:
    """No change of ours causes it: it is never folded into a change on the same service."""
    return (fault := lookup(hyp.fault)) is not None and fault.external


@dataclass
class Candidate:
    service: str | None
    change: ChangeRef | None
    claims: list[tuple[str, Hypothesis]] = field(default_factory=list)  # (agent, hypothesis)

    def best_by_agent(self) -> dict[str, Hypothesis]:
        best: dict[str, Hypothesis] = {}
        for agent, hyp in self.claims:
            if agent not in best or hyp.confidence > best[agent].confidence:
                best[agent] = hyp
        return best

    def supporters(self) -> list[str]:
        return sorted(a for a, h in self.best_by_agent().items() if h.supports)

    def contradicting_agents(self) -> list[str]:
        return sorted(a for a, h in self.best_by_agent().items() if h.contradicts and not h.supports)

    def confidence(self) -> float:
        doubt = 1.0
        for hyp in self.best_by_agent().values():
            if hyp.supports:
                doubt *= 1.0 - hyp.confidence
        score = 1.0 - doubt if self.supporters() else max(h.confidence for _, h in self.claims)
        score *= CONTRADICTION_FACTOR ** len(self.contradicting_agents())
        return round(min(score, MAX_CONFIDENCE), 3)


def merge(findings: Sequence[Finding]) -> list[Candidate]:
    by_key: dict[tuple[str | None, str | None], Candidate] = {}
    service_level: list[tuple[str, Hypothesis]] = []
    loaded_by: dict[str, LoadSource] = {}  # service -> whose load its trouble is
    for finding in findings:
        if finding.status != "ok":
            continue
        loaded_by.update(finding.loaded_by)
        for hyp in finding.hypotheses:
            if hyp.change is None:
                service_level.append((finding.agent, hyp))
                continue
            key = (hyp.service, hyp.change.id)
            by_key.setdefault(key, Candidate(hyp.service, hyp.change)).claims.append((finding.agent, hyp))
    # Faults no change of ours causes keep their own candidate, and draw the other blame on that service.
    external = {h.service for _, h in service_level if _external(h)}
    for agent, hyp in sorted(service_level, key=lambda claim: not _external(claim[1])):
        service = hyp.service
        if service in loaded_by and service not in external:  # blame follows the load to where it comes from
            service = loaded_by[service].caller
        target = by_key.get((service, None)) if service in external else None
        if target is None and service not in external:
            changes = [c for c in by_key.values()
                       if c.change and c.service == service and c.confidence() >= CREDIBLE_CHANGE]
            target = max(changes, key=Candidate.confidence, default=None)
        if target is None:
            target = by_key.setdefault((service, None), Candidate(service, None))
        target.claims.append((agent, hyp))
    for candidate in by_key.values():  # a loaded service's own changes are contradicted by the load
        source = loaded_by.get(candidate.service or "")
        if candidate.change is not None and source:
            candidate.claims.append(("trace", Hypothesis(
                f"{candidate.service}'s trouble is load sent by {source.caller}", candidate.service, 0.0,
                contradicts=(source.evidence,))))
    return list(by_key.values())


def _shapes_load(hyp: Hypothesis) -> bool:
    return (fault := lookup(hyp.fault)) is not None and fault.shapes_load


def _worded(hyp: Hypothesis) -> bool:
    return (fault := lookup(hyp.fault)) is not None and fault.wording is not None


def _fault(candidate: Candidate) -> tuple[str | None, str | None]:
    best = candidate.best_by_agent()
    # Faults about where load or failure comes from say more than the saturation they cause downstream.
    shaping = next((h for _, h in candidate.claims if h.supports and _shapes_load(h)), None)
    if shaping is not None:
        return shaping.fault, next((h.query for h in best.values() if h.query), None)
    for agent in (*AUTHORITY, *sorted(best)):
        hyp = best.get(agent)
        if hyp and hyp.supports and _worded(hyp):
            return hyp.fault, hyp.query or next((h.query for h in best.values() if h.query), None)
    return None, next((h.query for h in best.values() if h.query), None)


def headline(candidate: Candidate) -> str:
    fault, query = _fault(candidate)
    known = lookup(fault)
    cause = known.wording if known else None
    if candidate.change is None:
        top = max((h for _, h in candidate.claims), key=lambda h: h.confidence)
        return f"{candidate.service}: {cause}" + (f" (`{query}`)" if query else "") if cause else top.summary
    ch = candidate.change
    label = f"{ch.kind.replace('_', ' ')} {ch.id} ({candidate.service}" + (f" {ch.version}" if ch.version else "") + \
        (f", commit {ch.commit[:7]}" if ch.commit else "") + ")"
    if cause and candidate.supporters():
        return f"{label} introduced {cause}" + (f": `{query}`" if query else "")
    return max((h for _, h in candidate.claims), key=lambda h: h.confidence).summary


def rank(findings: Sequence[Finding], evidence: dict[str, Evidence], entry_service: str | None = None,
         edges: Sequence[tuple[str, str]] = (), model: Calibration | None = None,
         alerting: str | None = None) -> list[RankedHypothesis]:
    """Candidates come from the agents' hypotheses (merge); their order from the fused anomalies walked
    along the call graph (fusion), and their confidence from the calibration model."""
    candidates = merge(findings)
    weighed = weigh(candidates, findings, entry_service, edges, alerting)
    model = model or load_calibration()
    ranked: list[RankedHypothesis] = []
    leader = weighed[0].candidate if weighed else None
    ceiling = MAX_CONFIDENCE  # evidence is never proof
    for position, item in enumerate(weighed, start=1):
        cand = item.candidate
        best = cand.best_by_agent()
        supports = tuple(dict.fromkeys(e for h in best.values() for e in h.supports))
        contradicts = tuple(dict.fromkeys(e for h in best.values() for e in h.contradicts))
        reasons = [f"{agent}: {hyp.summary} ({hyp.confidence:.0%})" for agent, hyp in sorted(best.items())]
        if cand.supporters():
            reasons.insert(0, f"corroborated by {len(cand.supporters())} independent agent(s): "
                              f"{', '.join(cand.supporters())}")
        reasons.insert(0, item.why)
        reasons.extend(f"against: {evidence[e].summary}" for e in contradicts if e in evidence)
        if leader is not None and cand is not leader:
            reasons.insert(0, _why_lower(cand, leader))
        fault, query = _fault(cand)
        # A candidate the ranking puts lower is never more likely than the one above it: its own
        # anomaly or witnesses may look stronger, but the ranking already weighed them against the call graph.
        ceiling = min(model.probability(item.features), ceiling)
        ranked.append(RankedHypothesis(
            rank=position, summary=item.summary or headline(cand), service=cand.service,
            confidence=ceiling,
            evidence=supports, contradicting=contradicts,
            agents=tuple(cand.supporters()), change=cand.change, query=query, fault=fault, reasons=tuple(reasons),
            features=item.features,
        ))
    return ranked


def _why_lower(candidate: Candidate, leader: Candidate) -> str:
    parts = [f"supported by {len(candidate.supporters())} agent(s) against {len(leader.supporters())} "
             f"for #1"]
    if candidate.contradicting_agents():
        parts.append(f"contradicted by {', '.join(candidate.contradicting_agents())}")
    if candidate.service != leader.service:
        parts.append(f"the evidence points at {leader.service}, not {candidate.service}")
    return "ranks below #1: " + "; ".join(parts)
