"""Secrets and personal data out of everything Inquest shows or sends: reports and model requests.

Telemetry carries what production leaked into it — a DSN in a start-up log line, a bearer token in a
debug line, a card number in a request dump, customers' email addresses. Each kind has its own rule
(inquest/secret_rules.py), tried in a fixed order (a connection string's password before the generic
`password=` rule, a JWT before a generic token), and each match becomes `[REDACTED:kind]` so a reader still
sees that something was there and what it was.

Redaction runs on whole raw values — a log body before it is templated or cut, a diff before it is split
into hunks — because a key spread over lines, or a token whose digits a template masked, no longer
matches afterwards.

Patterns are specific on purpose: commit SHAs, trace ids, evidence ids, SQL placeholders and version
numbers are what an investigation is made of, so "looks random" is never a reason to redact.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import TypeVar

from inquest.secret_rules import ANY_GATE, ANY_GATE_WITH_IPS, IP_RULES, KINDS, NAMES, RULES


def redact(text: str, ips: bool = False) -> tuple[str, Counter[str]]:
    """`text` with every secret and piece of personal data replaced, and how many of each kind."""
    counts: Counter[str] = Counter()
    if not text:
        return text, counts
    lower = text.lower()
    if not (ANY_GATE_WITH_IPS if ips else ANY_GATE)(text, lower):
        return text, counts
    for rule in RULES + (IP_RULES if ips else ()):
        text, found = rule.apply(text, lower)
        if found:
            counts[rule.kind] += found
            lower = text.lower()
    return text, counts


T = TypeVar("T")
_MARK = re.compile(r"\[REDACTED:(\w+)\]")


class Redactor:
    """Redacts nested values (dataclasses, mappings, sequences, strings) and keeps count across calls."""

    def __init__(self, ips: bool = False, count_marks: bool = False) -> None:
        self.ips = ips
        # Count every [REDACTED:kind] in the result, not only the ones made here: a store redacts log
        # lines at the source, and a report should still say what it holds redacted.
        self.count_marks = count_marks
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # one redactor serves the parallel agents of an investigation

    def text(self, value: str) -> str:
        cleaned, found = redact(value, self.ips)
        if self.count_marks:
            found = Counter(kind for kind in _MARK.findall(cleaned) if kind in NAMES)
        if found:
            with self._lock:
                self.counts.update(found)
        return cleaned

    def value(self, value: T) -> T:
        if isinstance(value, str):
            return self.text(value)  # type: ignore[return-value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self.value(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **changes)
        if isinstance(value, Mapping):
            return {self.value(k) if isinstance(k, str) else k: self.value(v)  # type: ignore[return-value]
                    for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)  # type: ignore[return-value]
        if isinstance(value, list):
            return [self.value(v) for v in value]  # type: ignore[return-value]
        return value  # datetimes, decimals and other scalars carry no text


def describe(counts: Mapping[str, int]) -> str:
    """'3 email addresses, 1 connection string' — for a report note."""
    def plural(name: str, n: int) -> str:
        return name if n == 1 else name + ("es" if name.endswith("ss") else "s")

    return ", ".join(f"{counts[kind]} {plural(NAMES[kind], counts[kind])}" for kind in KINDS if counts.get(kind))


def redact_report(report: T, ips: bool = False) -> tuple[T, Counter[str]]:
    """The report with every string in it redacted — hypotheses, evidence (summaries, queries, data),
    notes, facts, narrative — and the counts; ids and numbers are untouched."""
    redactor = Redactor(ips, count_marks=True)
    return redactor.value(report), redactor.counts
