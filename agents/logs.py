"""The log specialist: per service, which templates appeared, vanished or shifted, and where errors start.

Many stacks put no status on their spans: errors and exceptions exist only in logs, and an injected
exception often raises no ERROR in the faulty service at all — its callers log the failures while its own
INFO mix changes (one code path stops logging, another starts). So the template mix is compared, not only
ERROR counts (agents/log_mix.py: Drain templates, exact binomial tests, a floor for rare templates).

Mining happens on what the store condenses: distinct patterns with counts per service (`log_patterns`,
bounded per service), never every line. Blame follows trace ids: lines of the templates that rose are
asked for again (`log_origins`), and in each trace the service that logged the first such line is where
the trouble starts; services logging them later in the same trace only relay it. Lines without a trace
id still count for their service's mix.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.log_mix import ALPHA, MIN_EXPECTED, ServiceMix, TemplateShift, compare, patterns_of
from inquest.agents.log_templates import Mask, TemplateSettings
from inquest.core import Anomaly, Finding, Incident, Scope
from inquest.faults import Fault
from inquest.tools.backends.protocol import Table, TelemetryBackend

FLAG = 3.0  # "clearly unusual" on the Anomaly scale
MAX_ORIGIN_PATTERNS = 100  # patterns asked about again for trace attribution: the busiest rising ones
RELAY_SHARE = 0.5  # a service whose traced lines mostly start elsewhere relays, it does not originate


@dataclass
class Attribution:
    """Where the rising lines a service logged started, by trace."""

    at_origin: int = 0
    relayed: Counter[str] = field(default_factory=Counter)  # origin service -> lines
    untraced: int = 0

    @property
    def traced(self) -> int:
        return self.at_origin + sum(self.relayed.values())

    @property
    def origin_share(self) -> float:
        """Share of the service's traced lines that started there; 1 when nothing was traced."""
        return self.at_origin / self.traced if self.traced >= MIN_EXPECTED else 1.0

    @property
    def relays(self) -> bool:
        return self.origin_share < RELAY_SHARE


def settings_of(deps: Deps) -> TemplateSettings:
    masks = tuple(Mask.of(name, regex) for name, regex in deps.config.logs.extra_masks.items())
    return TemplateSettings(extra_masks=masks)


def attribute(origins: Table | None) -> dict[str, Attribution]:
    found: dict[str, Attribution] = defaultdict(Attribution)
    for row in origins.records() if origins is not None else ():
        service, origin, lines = row["service"], row["origin"], int(row["lines"] or 0)
        if origin is None:
            found[service].untraced += lines
        elif origin == service:
            found[service].at_origin += lines
        else:
            found[service].relayed[origin] += lines
    return found


def _describe(shift: TemplateShift) -> str:
    what = {"new": f"new: {shift.window}× (never in the baseline)",
            "vanished": f"vanished: 0× vs {shift.baseline}× in the baseline",
            "more": f"{shift.window}× vs {shift.expected:.0f}× expected",
            "less": f"{shift.window}× vs {shift.expected:.0f}× expected"}[shift.kind]
    exception = f" [{shift.exception}]" if shift.exception else ""
    return f"'{shift.template[:120]}'{exception} {what}"


class LogsAgent:
    name = "logs"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        settings = deps.config.logs
        per_service, sample_lines = settings.patterns_per_service, settings.sample_lines_per_service
        now, before = ask_together(lambda: backend.log_patterns(scope.window, per_service, sample_lines),
                                   lambda: backend.log_patterns(scope.baseline, per_service, sample_lines))
        book.facts["patterns_read"] = {"window": len(now), "baseline": len(before)}
        if not now.rows or not before.rows:
            which = "incident window" if not now.rows else f"baseline {scope.baseline}"
            said = f"no logs to compare: none in the {which}, so template shifts and log errors are not known"
            book.record("telemetry:logs", now if not now.rows else before, said)
            book.notes.append(said)
            return book.finding("no_data")
        mixes = compare(patterns_of(now.records()), patterns_of(before.records()), settings_of(deps))
        moved = {s: m for s, m in mixes.items() if m.shifts or m.errors_emerged}
        book.facts["services_judged"] = sorted(s for s, m in mixes.items() if m.judged)
        book.facts["too_few_lines"] = sorted(s for s, m in mixes.items() if not m.judged)
        counted = _counted_share(now)
        origins = _ask_origins(backend, scope, moved, min((counted.get(s, 1.0) for s in moved), default=1.0))
        where = attribute(origins)
        anomalies: list[Anomaly] = []
        evidence: dict[str, list[str]] = defaultdict(list)
        for service, mix in sorted(moved.items(), key=lambda kv: -kv[1].score):
            ev = self._record(book, mix, now, before, where.get(service), per_service, counted.get(service, 1.0))
            evidence[service].append(ev)
            share = where[service].origin_share if service in where else 1.0
            score = round(min(_score(mix) * share, 10.0), 2)
            anomalies.append(Anomaly(service=service, signal="log_templates", modality="logs", score=score,
                                     source="logs", evidence=ev, p_value=mix.p_value))
            if mix.errors_emerged:
                anomalies.append(Anomaly(service=service, signal="log_errors", modality="logs",
                                         score=round(min(_error_score(mix) * share, 10.0), 2), source="logs",
                                         evidence=ev, p_value=mix.error_p_value))
        relays = _relays(book, origins, where, moved)
        for service, mix in sorted(moved.items()):
            attribution = where.get(service, Attribution())
            if attribution.relays or _score(mix) < FLAG:
                continue
            supports = evidence[service] + relays.get(service, [])
            kind = "ERROR lines start" if mix.errors_emerged else "its log-template mix changed"
            book.suspect(f"{service} is where the logs say trouble starts: {kind} there",
                         service=service, confidence=min(0.6, 0.1 + 0.05 * _score(mix)), supports=supports,
                         query=origins.query if origins is not None else now.query,
                         fault=Fault.ERRORS if mix.errors_emerged else Fault.LOG_TEMPLATES)
        for anomaly in anomalies:
            book.anomaly(anomaly)
        return book.finding("ok")

    @staticmethod
    def _record(book: Notebook, mix: ServiceMix, now: Table, before: Table, attribution: Attribution | None,
                per_service: int, counted: float) -> str:
        top = "; ".join(_describe(s) for s in mix.shifts[:4])
        errors = (f"ERROR lines {mix.errors} of {mix.lines} vs {mix.baseline_errors} of {mix.baseline_lines} in the "
                  f"baseline (p={mix.error_p_value:.2g}). " if mix.errors_emerged else "")
        origin = ""
        if attribution is not None and attribution.traced:
            origin = (f"Of its traced lines in those templates, {attribution.at_origin} started there"
                      + (f", {sum(attribution.relayed.values())} relay trouble that started in "
                         + ", ".join(f"{s} ({n})" for s, n in attribution.relayed.most_common(3))
                         if attribution.relayed else "") + ".")
        summary = (f"{_possessive(mix.service)} log mix moved {mix.moved:.0%} ({len(mix.shifts)} template(s) shifted, "
                   f"binomial test, FDR {ALPHA:.0%}): {top}. {errors}{origin}").strip()
        return book.record("telemetry:logs", now, summary, {
            "service": mix.service, "lines": mix.lines, "baseline_lines": mix.baseline_lines,
            "errors": mix.errors, "baseline_errors": mix.baseline_errors, "moved": mix.moved, "score": _score(mix),
            "shifts": [{"template": s.template, "kind": s.kind, "window": s.window, "baseline": s.baseline,
                        "expected": s.expected, "p_value": s.p_value, "exception": s.exception}
                       for s in mix.shifts[:10]],
            "baseline_query": before.query,
            "sample": f"the {per_service} most frequent patterns per service are mined; the rest are counted"
                      + (f"; counts are of a sample of whole traces, {counted:.1%} of the window's lines"
                         if counted < 1.0 else ""),
        })


def _possessive(service: str) -> str:
    return f"{service}'" if service.endswith("s") else f"{service}'s"


def _score(mix: ServiceMix) -> float:
    return max(mix.score, _error_score(mix) if mix.errors_emerged else 0.0)


def _error_score(mix: ServiceMix) -> float:
    """How much of the service's logging turned into errors: the rise in the ERROR share, a third ~3."""
    rise = mix.errors / max(mix.lines, 1) - mix.baseline_errors / max(mix.baseline_lines, 1)
    return round(min(10.0, max(rise, 0.0) * 10.0), 2)


def _counted_share(patterns: Table) -> dict[str, float]:
    """Per service, the share of its lines the store counted (below 1 where it sampled)."""
    lines: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = {}
    for row in patterns.records():
        lines[row["service"]] += int(row["lines"] or 0)
        totals[row["service"]] = int(row.get("total") or 0)
    return {s: min(1.0, n / totals[s]) if totals.get(s) else 1.0 for s, n in lines.items()}


def _ask_origins(backend: TelemetryBackend, scope: Scope, moved: dict[str, ServiceMix], sample: float) -> Table | None:
    rising = [s for m in moved.values() for s in m.shifts if s.rising]
    rising.sort(key=lambda s: (-s.window, s.service, s.template))
    patterns = sorted({p for s in rising for p in s.patterns}, key=lambda p: p)[:MAX_ORIGIN_PATTERNS]
    error_services = [m for m in moved.values() if m.errors_emerged]
    if not patterns and not error_services:
        return None
    # The same whole traces log_patterns counted, at the sparsest sampled service's share.
    return backend.log_origins(scope.window, tuple(patterns), sample) if patterns else \
        backend.log_origins(scope.window, (), sample)


def _relays(book: Notebook, origins: Table | None, where: dict[str, Attribution],
            moved: dict[str, ServiceMix]) -> dict[str, list[str]]:
    """Evidence, per originating service, that other services' log lines relay trouble that started there."""
    if origins is None:  # nothing was asked: no service relays anything
        return {}
    relayed_from: dict[str, list[str]] = defaultdict(list)
    for service, attribution in sorted(where.items()):
        if service in moved and attribution.relays:
            relayed_from[attribution.relayed.most_common(1)[0][0]].append(service)
    out: dict[str, list[str]] = {}
    for origin, relayers in sorted(relayed_from.items()):
        out[origin] = [book.record(
            "telemetry:logs", origins,
            f"{', '.join(relayers)} log trouble that started in {origin}: in the same traces, {origin} logged first "
            f"(a callee fails before its callers hear of it), so those lines relay, they do not originate",
            {"origin": origin, "relays": relayers,
             "lines": {s: dict(where[s].relayed) for s in relayers}})]
    return out
