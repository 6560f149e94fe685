"""Order the candidate root causes by the fused, propagated anomaly of the service each one blames.

A candidate's score is the walk's mass on its service (fusion), times how its own support compares with
the best candidate on that same service: so between services the call graph and the anomalies decide,
and between two changes on one service (a deploy and a config edit) what the agents said about each
(timing, version-aware evidence, the code diff) decides. A change on a service with nothing unusual gets
the walk's background mass only: a change that explains nothing does not borrow blame.

Services the walk settles on above a uniform share, but that no agent named (a callee below anomalous
callers, unmeasured itself), are listed too, after the named ones they outrank or not, so a reader (and a
benchmark) sees where else to look. So is a service an agent measured clearly unusual in a signal of its
own (its spans' latency, its CPU) without naming it in a hypothesis: the agent's hypotheses pick the
likeliest origin among its measurements, and the ones it passed over are still measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inquest.agents.metrics import SYMPTOMS
from inquest.coordinator.anomalies import anomalies_of, call_edges
from inquest.coordinator.evidence_features import CLEARLY_UNUSUAL, features
from inquest.coordinator.fusion import ServiceRank, rank_services
from inquest.core import Finding

# Signals a service shows because of others: what its callers send (traffic, and the bytes and syscalls
# that follow it) and what its callees take (latency measured on the client side).
NOT_ITS_OWN = frozenset({*SYMPTOMS, "client_latency"})

if TYPE_CHECKING:
    from inquest.coordinator.ranking import Candidate


@dataclass(frozen=True)
class Weighed:
    candidate: Candidate
    score: float  # the walk's mass on its service × its support relative to the service's best candidate
    features: tuple[float, ...]  # what calibration reads (evidence_features.NAMES)
    why: str
    summary: str | None = None  # for a service no agent named


def _why(rank: ServiceRank, position: int) -> str:
    signals = ", ".join(f"{sig} {score:.1f}" for sig, score in rank.evidence.signals[:4])
    text = f"the walk on the call graph settles {rank.mass:.0%} of its mass on {rank.service} (#{position})"
    if signals:
        text += f"; its anomalies: {signals}"
    if rank.explained_by:
        text += f"; much of it is explained by {rank.explained_by}, below it"
    return text


def weigh(candidates: Sequence[Candidate], findings: Sequence[Finding], entry_service: str | None = None,
          edges: Sequence[tuple[str, str]] = (), alerting: str | None = None) -> list[Weighed]:
    from inquest.coordinator.ranking import Candidate  # a cycle at import time only

    named = {c.service for c in candidates if c.service}
    ranks = rank_services(anomalies_of(findings), call_edges(findings, edges), entry_service, named,
                          {alerting} if alerting else ())
    by_service = {r.service: (position, r) for position, r in enumerate(ranks, start=1)}
    best_on: dict[str, float] = {}
    for c in candidates:
        if c.service and c.claims:
            best_on[c.service] = max(best_on.get(c.service, 0.0), c.confidence())
    scored: list[tuple[Candidate, float, str, str | None]] = []
    for c in candidates:
        position, r = by_service.get(c.service or "", (0, None))
        relative = c.confidence() / best_on[c.service] if c.service and best_on.get(c.service) else 0.0
        scored.append((c, (r.mass if r else 0.0) * relative, _why(r, position) if r else "no service named", None))
    uniform = 1.0 / len(ranks) if ranks else 1.0
    measured = _measured_unusual(findings)
    for position, r in enumerate(ranks, start=1):
        if r.service not in named and (r.mass > uniform or r.service in measured):
            summary = f"{r.service}: unmeasured or quiet itself, but below services whose trouble it may explain"
            scored.append((Candidate(r.service, None), r.mass, _why(r, position), summary))
    scored.sort(key=lambda s: (-s[1], -len(s[0].supporters()), str(s[0].service)))
    calibration_features = features([(c.service, score) for c, score, _, _ in scored], ranks, findings)
    return [Weighed(c, score, feats, why, summary)
            for (c, score, why, summary), feats in zip(scored, calibration_features)]


def _measured_unusual(findings: Sequence[Finding]) -> set[str]:
    """Services some agent measured clearly unusual in a signal of their own."""
    return {a.service for f in findings if f.status == "ok" for a in f.anomalies
            if a.score >= CLEARLY_UNUSUAL and a.signal not in NOT_ITS_OWN}
