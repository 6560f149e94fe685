"""How far the model may move the deterministic ranking. Pure: rankings in, a ranking and its notes out.

The model reviews; it does not replace the analysis. It may reorder only candidates the deterministic run
produced or that its own tool results (evidence about that service) support — anything else is dropped and
counted like an ungrounded claim. It may move the deterministic first choice down only by citing, against
it, evidence about that service or change; then the report says so. Without that, the deterministic first
stays first, whatever the model's prose says.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from inquest.agents.llm.grounding import Subjects
from inquest.core import RankedHypothesis

Key = tuple[str | None, str | None]


@dataclass(frozen=True)
class Held:
    hypotheses: tuple[RankedHypothesis, ...]
    dropped: tuple[str, ...]  # one line per hypothesis outside the candidates, counted as ungrounded
    notes: tuple[str, ...]  # what the report should say about the order


def _key(h: RankedHypothesis) -> Key:
    return h.service, h.change.id if h.change else None


def _label(h: RankedHypothesis) -> str:
    return " / ".join(part for part in _key(h) if part) or repr(h.summary[:60])


def _supported_by_tools(h: RankedHypothesis, about: Mapping[str, Subjects], tool_evidence: Collection[str]) -> bool:
    return any(i in tool_evidence and (h.service is None or h.service in about.get(i, Subjects()).services)
               for i in h.evidence)


def _against(h: RankedHypothesis | None, top: RankedHypothesis, about: Mapping[str, Subjects]) -> list[str]:
    """The evidence the model cited against the deterministic first that is about it."""
    if h is None:
        return []
    return [i for i in h.contradicting if (s := about.get(i)) is not None
            and (top.service in s.services or (top.change is not None and top.change.id in s.changes))]


def hold_to_the_run(model: Sequence[RankedHypothesis], deterministic: Sequence[RankedHypothesis],
                    about: Mapping[str, Subjects], tool_evidence: Collection[str]) -> Held:
    candidates = {_key(h) for h in deterministic}
    kept, dropped = [], []
    for h in model:
        if _key(h) in candidates or _supported_by_tools(h, about, tool_evidence):
            kept.append(h)
        else:
            dropped.append(f"hypothesis {h.summary[:80]!r} is not a candidate of the deterministic run and no "
                           "tool result of the model's is about its service")
    notes = []
    if deterministic and kept and _key(kept[0]) != _key(deterministic[0]):
        top = deterministic[0]
        own = next((h for h in kept if _key(h) == _key(top)), None)
        against = _against(own, top, about)
        if against:
            notes.append(f"the model ranked {_label(kept[0])} above the deterministic first choice {_label(top)}, "
                         f"citing evidence against it: {', '.join(against)}")
        else:
            notes.append(f"the model put {_label(kept[0])} first without citing evidence against the deterministic "
                         f"first choice {_label(top)}, which stays first")
            kept = [own or top, *(h for h in kept if _key(h) != _key(top))]
    ranked = tuple(replace(h, rank=i + 1) for i, h in enumerate(kept))
    return Held(ranked, tuple(dropped), tuple(notes))
