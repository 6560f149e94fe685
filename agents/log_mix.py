"""A service's template mix in the incident window against its baseline, judged by tests. Pure.

The store hands over distinct patterns with counts (`log_patterns`); Drain (agents/log_templates.py)
mines them, weighted by their counts, into templates shared by both windows. Per service and template, the
window's count `a` and the baseline's `b` are compared conditionally on `a + b`: if the template's share of
the service's lines did not move, `a` is Binomial(a + b, N_window / (N_window + N_baseline)) — the exact
test for two Poisson counts (two-sided by doubling the smaller tail), which a change of traffic (both N) does not disturb. Templates too rare to
judge are skipped (Cochran's rule: both expected counts at least 5); p-values are corrected over a
service's templates (Benjamini-Hochberg); and a shift must also double or halve the template's share
(a fold change of 2), so a large volume does not make a trivial move significant.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import SupportsInt

from inquest.agents.log_templates import TemplateMiner, TemplateSettings
from inquest.core import ANOMALY_SCORE_CAP
from inquest.tails import binomial_tail

MIN_EXPECTED = 5.0  # Cochran's rule for count tests
ALPHA = 0.01  # false discovery rate among a service's templates
FOLD = 2.0  # a template's share must at least double or halve
EXCEPTION = re.compile(r"\b((?:[a-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Fault|Panic))\b|\b(panic|Traceback)\b")


# -- the tests, in the standard library (inquest.tails): scipy.stats takes seconds to import, and the
# demo's cold start is under one second. tests/test_log_mix.py checks them against scipy.

def binomial_test(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial test by doubling the smaller tail."""
    return min(1.0, 2.0 * min(binomial_tail(k, n, p, upper=True), binomial_tail(k, n, p, upper=False)))


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (q-values) controlling the false discovery rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Pattern:
    service: str
    pattern: str | None  # None: the service's lines beyond the patterns the store listed
    lines: int
    errors: int
    example: str | None


@dataclass(frozen=True)
class TemplateShift:
    service: str
    template: str
    patterns: tuple[str, ...]  # the store's patterns mined into this template (to ask about them again)
    window: int
    baseline: int
    expected: float  # the window's count had the share not moved
    p_value: float  # corrected (Benjamini-Hochberg over the service's templates)
    errors: int  # of the window's lines, how many at ERROR or above
    exception: str | None  # an exception class (or panic/Traceback) the template names

    @property
    def kind(self) -> str:
        if self.baseline == 0:
            return "new"
        if self.window == 0:
            return "vanished"
        return "more" if self.window > self.expected else "less"

    @property
    def rising(self) -> bool:
        return self.kind in ("new", "more")


@dataclass(frozen=True)
class ServiceMix:
    service: str
    lines: int
    baseline_lines: int
    errors: int
    baseline_errors: int
    shifts: tuple[TemplateShift, ...] = ()
    moved: float = 0.0  # total variation between the mixes, over the significant shifts: 0..1
    error_p_value: float | None = None  # did the share of ERROR lines rise (one-sided binomial test)
    judged: bool = True  # False when either window holds too few lines to say anything

    @property
    def score(self) -> float:
        """Anomaly scale: a tenth of the mix moving is ~1, a third ~3, capped."""
        return round(min(ANOMALY_SCORE_CAP, 10.0 * self.moved), 2)

    @property
    def errors_emerged(self) -> bool:
        return self.error_p_value is not None and self.error_p_value < ALPHA and self.errors >= MIN_EXPECTED

    @property
    def p_value(self) -> float | None:
        values = [s.p_value for s in self.shifts]
        if self.errors_emerged and self.error_p_value is not None:  # errors_emerged implies it is set
            values.append(self.error_p_value)
        return min(values) if values else None


def patterns_of(rows: Iterable[Mapping[str, object]]) -> list[Pattern]:
    return [Pattern(str(r["service"]), _text_or_none(r["pattern"]), _count(r["lines"]), _count(r["errors"]),
                    _text_or_none(r.get("example")))
            for r in rows]


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _count(value: object) -> int:
    """A count cell: an int from the store, NULL (no lines) as 0."""
    return int(value) if isinstance(value, (SupportsInt, str)) else 0


@dataclass
class _Tally:
    counts: dict[tuple[str, int], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    patterns: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    examples: dict[tuple[str, int], str] = field(default_factory=dict)
    totals: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))


def _tally(now: list[Pattern], before: list[Pattern], settings: TemplateSettings) -> tuple[_Tally, dict[int, str]]:
    """Mines both windows' patterns into one set of templates and counts them per service: the order is
    fixed (most lines first) so the same data always gives the same templates."""
    miner = TemplateMiner(settings)
    tally = _Tally()
    rows = [(p, 0) for p in before] + [(p, 1) for p in now]
    rows.sort(key=lambda r: (-r[0].lines, r[0].service, r[0].pattern or "", r[1]))
    mined = []
    for p, which in rows:
        total = tally.totals[p.service]
        total[which] += p.lines
        total[2 + which] += p.errors
        if p.pattern is not None:
            mined.append((p, which, miner.add(p.pattern)))
    for p, which, cluster in mined:
        key = (p.service, miner.template_of(cluster))
        tally.counts[key][which] += p.lines
        if which:
            tally.counts[key][2] += p.errors
            tally.examples.setdefault(key, p.example or p.pattern or "")
        if p.pattern not in tally.patterns[key]:
            tally.patterns[key].append(p.pattern or "")
    return tally, miner.templates()


def compare(now: list[Pattern], before: list[Pattern], settings: TemplateSettings | None = None) -> dict[str, ServiceMix]:
    tally, templates = _tally(now, before, settings or TemplateSettings())
    by_service: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for (service, template), counts in tally.counts.items():
        by_service[service].append((template, counts))
    mixes = {}
    for service, (n_before, n_now, e_before, e_now) in sorted(tally.totals.items()):
        if min(n_before, n_now) < MIN_EXPECTED:
            mixes[service] = ServiceMix(service, n_now, n_before, e_now, e_before, judged=False)
            continue
        share = n_now / (n_now + n_before)
        shifts = _shifts(service, by_service[service], share, templates, tally)
        moved = 0.5 * sum(abs(s.window / n_now - s.baseline / n_before) for s in shifts)
        error_p = binomial_tail(e_now, e_now + e_before, share, upper=True) if e_now + e_before else None
        mixes[service] = ServiceMix(service, n_now, n_before, e_now, e_before, tuple(shifts), round(moved, 4), error_p)
    return mixes


def _shifts(service: str, rows: list[tuple[int, list[int]]], share: float, templates: dict[int, str],
            tally: _Tally) -> list[TemplateShift]:
    judged = []
    for template, (b, a, errors) in rows:
        n = a + b
        if min(n * share, n * (1 - share)) < MIN_EXPECTED:
            continue  # too rare to tell a shift from chance
        judged.append((template, a, b, errors, binomial_test(a, n, share)))
    if not judged:
        return []
    corrected = benjamini_hochberg([j[4] for j in judged])
    n_now_share = share / (1 - share)  # window lines per baseline line, overall
    shifts = []
    for (template, a, b, errors, _), q in zip(judged, corrected):
        expected = (a + b) * share
        fold = (a + 0.5) / (b * n_now_share + 0.5)  # +0.5: a new or vanished template has a finite fold
        if q >= ALPHA or FOLD > fold > 1 / FOLD:
            continue
        text = templates.get(template, "")
        found = EXCEPTION.search(tally.examples.get((service, template), text) or text)
        shifts.append(TemplateShift(service, text, tuple(tally.patterns[(service, template)]), a, b,
                                    round(expected, 2), float(q), errors,
                                    next((g for g in found.groups() if g), None) if found else None))
    shifts.sort(key=lambda s: (-abs(s.window - s.expected), s.template))
    return shifts

