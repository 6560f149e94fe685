"""Log template mining: Drain (drain3's prefix tree) over masked messages, then a post-merge.

Pure functions of the lines handed in; no I/O. Three techniques, each generic (no per-system rule):

1. **Masking before mining.** Values that vary between occurrences of one event (URLs, e-mails, UUIDs,
   host:port, IPs, paths, hex, long ids, timestamps, durations, numbers) are replaced by `<*>` before Drain
   sees the line, so the prefix tree and the similarity compare the words that name the event. Users add
   their own masks (config `logs.extra_masks`), applied first.
2. **Similarity over constant tokens.** drain3 counts a `<*>` position as a mismatch, so a well-masked line
   looks *less* like its own template. Here only the template's constant positions are compared; with the
   variables masked out, a line belongs to a template when nearly all those words agree (`similarity`).
3. **Post-merge of templates that differ only in masked tokens.** Drain cannot join lines of different
   token counts ("12 bytes sent" / "12 bytes (0.1 KB) sent"); clusters whose constant words are the same
   sequence are one template.

Scored on the loghub-2k sample by `investigate bench loghub` (grouping accuracy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

WILDCARD = "<*>"


@dataclass(frozen=True)
class Mask:
    name: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, name: str, regex: str) -> Mask:
        return cls(name, re.compile(regex))


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_UNITS = r"(?:ns|us|µs|ms|s|sec|secs|seconds|min|mins|minutes|h|hours)"

# Order matters: a larger structure (a URL, a path) is masked before the numbers inside it.
DEFAULT_MASKS: tuple[Mask, ...] = (
    Mask.of("url", r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+"),
    Mask.of("email", r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"),
    Mask.of("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    Mask.of("host_port", r"(?<![\w.\-])(?:[\w\-]+\.)+[\w\-]+:\d+\b"),
    Mask.of("ip", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\w.])"),
    Mask.of("path", r"(?<![\w/\\])(?:[A-Za-z]:)?(?:[/\\][\w.\-@$~+%]+){2,}[/\\]?"),
    Mask.of("hex", r"\b0[xX][0-9a-fA-F]+\b"),
    Mask.of("hex_id", r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    Mask.of("datetime", rf"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)?\s*{_MONTH}\s+\d{{1,2}}\s+\d{{1,2}}:\d{{2}}:\d{{2}}"
                        r"(?:\s+\d{4})?\b"),
    Mask.of("iso_time", r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b"),
    # An id: one long token mixing letters and digits (request ids, container ids, session keys).
    Mask.of("id", r"\b(?=[\w\-]*\d)(?=[\w\-]*[A-Za-z])[\w\-]{8,}\b"),
    Mask.of("duration", rf"\b\d+(?:\.\d+)?\s?{_UNITS}\b"),
    Mask.of("host", r"\b(?:[a-zA-Z0-9\-]+\.)+(?:com|net|org|edu|gov|io|info|biz|local|internal|lan|[a-z]{2})"
                    r"\b(?![.\-\w])"),
    Mask.of("number", r"(?<![A-Za-z0-9])[-+]?\d+(?:[.,_:\-]\d+)*(?![A-Za-z0-9])"),
    # A short parenthesised aside around a value, "(0.1 KB)", "(seq 12)": one variable, not three tokens.
    Mask.of("aside", r"\((?:[^()\s]*\s?){0,2}<\*>(?:\s?[^()\s]*){0,2}\)"),
)


@dataclass(frozen=True)
class TemplateSettings:
    """One configuration for every log source. `depth` and `similarity` are Drain's tree depth and
    similarity threshold; the threshold is over constant tokens only (see the module doc), which is why it
    sits above Drain's customary 0.4-0.7 over all tokens."""

    depth: int = 5
    similarity: float = 0.85
    max_children: int = 100
    extra_masks: tuple[Mask, ...] = ()

    @property
    def masks(self) -> tuple[Mask, ...]:
        return self.extra_masks + DEFAULT_MASKS


def mask(line: str, masks: Sequence[Mask] = DEFAULT_MASKS) -> str:
    for m in masks:
        line = m.pattern.sub(WILDCARD, line)
    return line


@cache
def _constant_drain() -> type:
    """drain3's Drain with the similarity measured over the template's constant tokens only. Built on first
    use: importing drain3 is not free, and an investigation without logs should not pay for it."""
    from drain3.drain import Drain

    class ConstantDrain(Drain):
        def get_seq_distance(self, seq1: Sequence[str], seq2: Sequence[str],
                             include_params: bool) -> tuple[float, int]:
            pairs = [(a, b) for a, b in zip(seq1, seq2) if a != self.param_str]
            params = len(seq1) - len(pairs)
            if not pairs:
                return 1.0, params
            return sum(a == b for a, b in pairs) / len(pairs), params

    return ConstantDrain


def _constant_words(tokens: Iterable[str]) -> tuple[str, ...]:
    """A template's identity for the post-merge: its tokens with variables removed, keeping only those
    that still hold a letter or digit ("onExtend:<*>" keeps "onExtend:", "(<*>" vanishes)."""
    words = (t.replace(WILDCARD, "") for t in tokens)
    return tuple(w for w in words if any(ch.isalnum() for ch in w))


@dataclass
class TemplateMiner:
    """Mines templates line by line; `template_of` gives the merged template id of a mined line."""

    settings: TemplateSettings = field(default_factory=TemplateSettings)

    def __post_init__(self) -> None:
        self._drain: Any = _constant_drain()(depth=self.settings.depth, sim_th=self.settings.similarity,
                                     max_children=self.settings.max_children)
        self._merged: dict[int, int] | None = None

    def add(self, line: str) -> int:
        """Mines one line; returns its Drain cluster id (resolve with `template_of` after the last line)."""
        self._merged = None
        cluster, _ = self._drain.add_log_message(mask(line, self.settings.masks))
        return int(cluster.cluster_id)

    def _merge(self) -> dict[int, int]:
        if self._merged is None:
            first: dict[tuple[str, ...], int] = {}
            self._merged = {c.cluster_id: first.setdefault(_constant_words(c.log_template_tokens), c.cluster_id)
                            for c in self._drain.clusters}
        return self._merged

    def template_of(self, cluster_id: int) -> int:
        return self._merge()[cluster_id]

    def templates(self) -> dict[int, str]:
        """Merged template id → its text (the first cluster's template stands for the merged group)."""
        merged = self._merge()
        return {c.cluster_id: c.get_template() for c in self._drain.clusters if merged[c.cluster_id] == c.cluster_id}


@dataclass(frozen=True)
class Mined:
    assignments: tuple[int, ...]  # per input line, its template id
    templates: dict[int, str]  # template id → text


def mine(lines: Iterable[str], settings: TemplateSettings | None = None) -> Mined:
    miner = TemplateMiner(settings or TemplateSettings())
    clusters = [miner.add(line) for line in lines]
    return Mined(tuple(miner.template_of(c) for c in clusters), miner.templates())
