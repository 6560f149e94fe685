"""The model's structured output: parsed, validated, and held to the evidence it cites.

Pure: text in, values out. An answer that is not the JSON object asked for, or breaks its schema, is
`InvalidAnswer` (the caller retries once with the reason). A valid answer is then grounded: a hypothesis
or narrative claim that cites no evidence, cites an id that does not exist, or blames a change that does
not exist is dropped and counted — the report only says what the evidence says. A hypothesis must also
cite evidence about the service and the change it names, and the change must be that service's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inquest.errors import InquestError


class InvalidAnswer(InquestError):
    """The model's answer is not the structured output asked for; the message says why."""


class _Answer(BaseModel):
    # Extra keys a model adds are harmless and ignored; missing or mistyped ones are errors.
    model_config = ConfigDict(extra="ignore")


class ModelHypothesis(_Answer):
    summary: str = Field(min_length=1, max_length=600)
    service: str | None = None
    change_id: str | None = None  # the id of the change it blames, as the evidence names it
    fault: str | None = None  # n_plus_one, slow_query, bad_deploy, config, capacity, dependency, ...
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    contradicting: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list, max_length=6)


class ModelClaim(_Answer):
    text: str = Field(min_length=1, max_length=600)
    evidence: list[str] = Field(default_factory=list)


class SpecialistAnswer(_Answer):
    """What one specialist agent hands the coordinator."""

    hypotheses: list[ModelHypothesis] = Field(default_factory=list, max_length=8)
    observations: list[ModelClaim] = Field(default_factory=list, max_length=12)


class CoordinatorAnswer(_Answer):
    """The merged ranking, best first, and the narrative for the on-call engineer."""

    ranking: list[ModelHypothesis] = Field(max_length=12)
    narrative: list[ModelClaim] = Field(default_factory=list, max_length=12)


A = TypeVar("A", bound=_Answer)


def _json_object(text: str) -> object:
    """The JSON object in a model's answer, which may sit inside a code fence or after a sentence."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidAnswer("the answer holds no JSON object")
    try:
        return json.loads(text[start:end + 1])
    except ValueError as exc:
        raise InvalidAnswer(f"the answer's JSON does not parse: {exc}") from None


def parse_answer(text: str, shape: type[A]) -> A:
    try:
        return shape.model_validate(_json_object(text))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise InvalidAnswer(f"the answer does not match the schema: {problems}") from None


@dataclass(frozen=True)
class Grounded:
    hypotheses: tuple[ModelHypothesis, ...]
    claims: tuple[ModelClaim, ...]
    dropped: int  # hypotheses and claims thrown out for citing nothing or what does not exist
    reasons: tuple[str, ...]  # one line per dropped item, for the report's notes


@dataclass(frozen=True)
class Subjects:
    """What one piece of evidence is about: the services and change ids it was tied to."""

    services: frozenset[str] = frozenset()
    changes: frozenset[str] = frozenset()


def _problem(cited: Iterable[str], contradicting: Iterable[str], known: Collection[str]) -> str | None:
    cited = list(cited)
    if not cited:
        return "cites no evidence"
    missing = sorted({i for i in [*cited, *contradicting] if i not in known})
    if missing:
        return f"cites evidence that does not exist ({', '.join(missing[:3])})"
    return None


def _mismatch(h: ModelHypothesis, about: Mapping[str, Subjects], owners: Mapping[str, str | None]) -> str | None:
    """Why the hypothesis's evidence does not concern what it names, if it does not: existing evidence
    about something else (an impact figure, another service's deploy) proves nothing about this."""
    if h.change_id and h.change_id not in owners:
        return f"blames a change that does not exist ({h.change_id})"
    owner = owners.get(h.change_id) if h.change_id else None
    if h.service and owner and owner != h.service:
        return f"names service {h.service} but change {h.change_id} is {owner}'s"
    cited = [about.get(i, Subjects()) for i in h.evidence]
    if h.service and not any(h.service in c.services for c in cited):
        return f"cites no evidence about service {h.service}"
    if h.change_id and not any(h.change_id in c.changes for c in cited):
        return f"cites no evidence about change {h.change_id}"
    return None


def ground(hypotheses: Iterable[ModelHypothesis], claims: Iterable[ModelClaim], about: Mapping[str, Subjects],
           owners: Mapping[str, str | None]) -> Grounded:
    """Keeps what cites existing evidence about what it names. `about` maps every citable evidence id
    to its subjects; `owners` maps every known change id to its service."""
    kept_h, kept_c, why = [], [], []
    for h in hypotheses:
        problem = _problem(h.evidence, h.contradicting, about) or _mismatch(h, about, owners)
        if problem:
            why.append(f"hypothesis {h.summary[:80]!r} {problem}")
        else:
            kept_h.append(h)
    for c in claims:
        problem = _problem(c.evidence, (), about)
        if problem:
            why.append(f"claim {c.text[:80]!r} {problem}")
        else:
            kept_c.append(c)
    return Grounded(tuple(kept_h), tuple(kept_c), len(why), tuple(why))
