"""What the calibration reads of a ranking: features that mean the same on any system, so a probability
fitted on some systems holds on others.

None of them names a dataset, a service or a fault. Per candidate, in ranking order:

- `share`: its score over all candidates' score (the walk's mass it holds);
- `margin`: its share minus the best other candidate's: a leader far ahead is surer than one a hair
  ahead of the runner-up, and a runner-up's margin is negative;
- `lead`: that margin over the larger of the two shares (-1..1): the same lead means the same whether
  the walk spreads its mass over seven services or forty, where share and margin shrink with the graph;
- `fused`: its service's own fused anomaly on the common scale (0 as usual, 1 at the cap);
- `modalities`: how many kinds of data (traces, logs, metrics, db, changes) saw its service clearly
  unusual, out of all kinds: independent witnesses agreeing;
- `coverage`: the share of agents that had data to look at: an investigation that saw only metrics
  knows less than one that saw traces, logs and metrics, whatever its ranking says;
- `first`: 1 for the top candidate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import get_args

from inquest.coordinator.anomalies import anomalies_of
from inquest.coordinator.fusion import ServiceRank
from inquest.core import ANOMALY_SCORE_CAP, Finding, Modality

NAMES = ("share", "margin", "lead", "fused", "modalities", "coverage", "first")
# The common anomaly scale's "clearly unusual" (inquest.core.Anomaly): the scale's own definition, the
# same on every system, not a threshold fitted to one.
CLEARLY_UNUSUAL = 3.0
KINDS_OF_DATA = len(get_args(Modality))


def _modalities_by_service(findings: Sequence[Finding]) -> dict[str, set[str]]:
    """Per service, the kinds of data that saw it clearly unusual: the agents' own anomalies and the
    ones their hypotheses imply."""
    ok = [f for f in findings if f.status == "ok"]
    seen: dict[str, set[str]] = defaultdict(set)
    for a in [*anomalies_of(ok), *(a for f in ok for a in f.anomalies)]:
        if a.score >= CLEARLY_UNUSUAL:
            seen[a.service].add(a.modality)
    return seen


def coverage(findings: Sequence[Finding]) -> float:
    """The share of agents that had data to look at (an agent that failed saw nothing either)."""
    return sum(1 for f in findings if f.status == "ok") / len(findings) if findings else 0.0


def features(scored: Sequence[tuple[str | None, float]], ranks: Sequence[ServiceRank],
             findings: Sequence[Finding]) -> list[tuple[float, ...]]:
    """`scored`: (service, score) per candidate, best first. One feature tuple (NAMES) per candidate."""
    total = sum(score for _, score in scored) or 1.0
    shares = [score / total for _, score in scored]
    fused = {r.service: min(1.0, r.evidence.total / ANOMALY_SCORE_CAP) for r in ranks}
    kinds = _modalities_by_service(findings)
    seen = coverage(findings)
    out: list[tuple[float, ...]] = []
    for i, ((service, _), share) in enumerate(zip(scored, shares)):
        others = max((s for j, s in enumerate(shares) if j != i), default=0.0)
        lead = (share - others) / max(share, others) if max(share, others) > 0 else 0.0
        out.append((round(share, 4), round(share - others, 4), round(lead, 4), round(fused.get(service or "", 0.0), 4),
                    round(len(kinds.get(service or "", ())) / KINDS_OF_DATA, 4), round(seen, 4),
                    1.0 if i == 0 else 0.0))
    return out
