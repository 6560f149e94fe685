"""The metrics specialist: every mapped metric of every service, in its own units, against its baseline.

Which names are read, and what each means, comes from the semantic-convention table
(agents/metric_semconv.py, extended in config.yaml; docs/metrics.md lists it). Each series — per
service, host and version — is compared with its own baseline by a robust, bounded score
(agents/metric_change.py), and every score is reported as an `Anomaly`. A host the baseline never saw
(a fresh pod) is compared with its service's established hosts over the same minutes, not with an old
baseline; a fresh pod's memory is compared with nothing but its own kind, so a rollout is not a leak.

Hypotheses: saturation (CPU, memory, restarts, pools, network) points at a cause; latency and errors are
often relayed from below, so they count for less; traffic moving on an inner service is what its callers
send — a symptom — and only a surge where requests enter is a cause. Saturation on one host of a service,
with the others quiet, points at that host's neighbourhood rather than at the service's code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.load import SURGE_FACTOR
from inquest.agents.metric_change import (
    Score,
    Series,
    SeriesKey,
    change_score,
    failed_share_score,
    relative_spread,
    series_of,
)
from inquest.agents.metric_origins import callees_of, error_origins
from inquest.agents.metric_semconv import Semconv, display_unit, quantity_change
from inquest.core import Anomaly, Finding, Incident, Scope, Window
from inquest.faults import Fault
from inquest.tails import theil_sen_interval
from inquest.tools.backends.protocol import Table

BUCKET_SECONDS = 60
FLAG = 3.0  # "clearly unusual" on the Anomaly scale: a move this far is worth a sentence
SATURATION = {"cpu", "memory", "restarts", "pool"}
SYMPTOMS = {"traffic", "network", "disk"}  # bytes on the wire and syscalls follow traffic
LEAD_ORDER = ("restarts", "memory", "pool", "cpu", "network", "disk", "traffic", "errors", "latency")
FAULT_OF = {"restarts": Fault.MEMORY_LEAK, "cpu": Fault.CPU_SATURATION, "pool": Fault.POOL_EXHAUSTION,
            "traffic": Fault.TRAFFIC_SHIFT, "errors": Fault.ERRORS, "latency": Fault.LATENCY}
MIN_BASELINE_BUCKETS = 3  # fewer than this and a baseline cannot say what normal spread is


@dataclass(frozen=True)
class Move:
    series: Series
    score: Score
    compared_with: str  # what the window was compared against, in words

    @property
    def service(self) -> str:
        return self.series.key.service

    @property
    def signal(self) -> str:
        return self.series.key.signal


def semconv_for(deps: Deps) -> Semconv:
    return Semconv.from_config(deps.config.metrics.names)


def ask_series(deps: Deps, semconv: Semconv, *windows: Window) -> list[Table]:
    cumulative = tuple(m.name for m in semconv.by_name.values() if m.differenced)
    return ask_together(*(lambda w=w: deps.backend.metric_series(w, semconv.stored_names(), cumulative,
                                                                 BUCKET_SECONDS) for w in windows))


def judge(now: list[Series], before: list[Series], since: datetime | None) -> list[Move]:
    """Every window series scored against the right comparison (see the module docstring)."""
    base = {s.key: s for s in before}
    replaced: dict[tuple[str, str, str], list[Series]] = defaultdict(list)
    for s in before:
        replaced[_group(s)].append(s)
    present: dict[tuple[str, str, str], list[Series]] = defaultdict(list)
    for s in now:
        present[_group(s)].append(s)
    peer = {key: relative_spread(v) for key, v in _values_by_metric(before).items()}
    traffic_now, traffic_before = _traffic(now), _traffic(before)
    moves = []
    for s in now:
        found = _reference(s, base, present[_group(s)], replaced[_group(s)], since)
        if found is None:
            continue
        reference, words = found
        counted = _counted(s, base[s.key], traffic_now, traffic_before, since) \
            if s.key.signal == "errors" and s.key in base else None
        # A ratio's resolution is a percentage point of its full scale, unless the requests behind it are
        # known: then it is one request, and the count test below carries the scale.
        score = change_score(reference, s.values(since) or s.values(), s.key.signal,
                             peer.get((s.key.metric, s.key.signal), 0.0),
                             1.0 if display_unit(s.meaning) == "1" and counted is None else None)
        if score is not None and counted is not None:
            # Failures are binomial draws, and real error rates vary more than that from minute to minute:
            # the count test's z, never above the robust z of a baseline that has a spread of its own.
            score = replace(score, score=counted if score.flat_baseline else min(counted, score.score))
        if score is not None:
            moves.append(Move(s, score, words))
    return moves


Served = dict[tuple[str, str | None, str | None], dict[datetime, float]]


def _traffic(series: list[Series]) -> Served:
    """Requests served per bucket by each service, host and version; a service's whole (host None, version
    None) as the sum of its hosts, for ratios a pipeline reports per service."""
    out: Served = defaultdict(lambda: defaultdict(float))
    for s in series:
        if s.key.signal == "traffic" and s.meaning.unit == "{request}/s" and s.meaning.side == "server":
            seconds = _spacing(s)
            for at, rate in s.points:
                out[(s.key.service, s.key.host, s.key.version)][at] += rate * seconds
                if s.key.host is not None or s.key.version is not None:
                    out[(s.key.service, None, None)][at] += rate * seconds
    return out


def _spacing(series: Series) -> float:
    """The seconds one point of a series stands for: the usual gap between its points (a source that
    reports every 5 minutes fills one bucket in five), never less than a bucket."""
    gaps = sorted((b[0] - a[0]).total_seconds() for a, b in zip(series.points, series.points[1:]))
    return max(float(BUCKET_SECONDS), gaps[len(gaps) // 2] if gaps else 0.0)


def _error_measured(now: list[Series], before: list[Series]) -> set[str]:
    """Services whose failures are known: an error-rate series, or no request served in the window (a
    service that served nothing failed nothing)."""
    served: dict[str, float] = defaultdict(float)
    for s in now:
        if s.key.signal == "traffic" and s.meaning.side == "server":
            served[s.key.service] += sum(s.values())
    return {s.key.service for s in (*now, *before) if s.key.signal == "errors"} | \
        {service for service, total in served.items() if total == 0}


def _counted(now: Series, before: Series, traffic_now: Served, traffic_before: Served,
             since: datetime | None) -> float | None:
    """An error ratio scored from the requests behind it (failed_share_score); None when they are unknown."""
    where = (now.key.service, now.key.host, now.key.version)
    window = [(at, v) for at, v in now.points if since is None or at >= since] or list(now.points)
    served_now, served_before = traffic_now.get(where, {}), traffic_before.get(where, {})
    return failed_share_score([(v, served_before[at]) for at, v in before.points if at in served_before],
                              [(v, served_now[at]) for at, v in window if at in served_now])


def _reference(s: Series, base: dict[SeriesKey, Series], present: list[Series], replaced: list[Series],
               since: datetime | None) -> tuple[list[float], str] | None:
    """What a window series is compared with, and how to say so; None when nothing fits."""
    if s.key in base:
        return base[s.key].values(), "its own baseline"
    # A host the baseline never saw, or one now running another version: first, pods of other versions
    # over the same minutes (what a deploy's new pods are judged by); then the established hosts.
    other_versions = [e for e in present if s.key.version and e.key.version and e.key.version != s.key.version]
    if other_versions:
        versions = ", ".join(sorted({str(e.key.version) for e in other_versions}))
        return _same_minutes(s, other_versions, since), f"pods of version {versions} over the same minutes"
    established = [e for e in present if e.key in base]
    if established:
        return _same_minutes(s, established, since), "the service's established hosts over the same minutes"
    if s.key.signal == "memory":
        return None  # a fresh pod's memory says nothing against pods that ran for hours
    if replaced:
        return [v for e in replaced for v in e.values()], "the baseline of the hosts it replaced"
    return None


def _same_minutes(s: Series, others: list[Series], since: datetime | None) -> list[float]:
    minutes = {at for at, _ in s.points}
    same = [v for e in others for at, v in e.points if at in minutes]
    return same or [v for e in others for v in e.values(since)]


def _group(s: Series) -> tuple[str, str, str]:
    return s.key.service, s.key.metric, s.key.signal


def _values_by_metric(series: list[Series]) -> dict[tuple[str, str], list[list[float]]]:
    out: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for s in series:
        out[(s.key.metric, s.key.signal)].append(s.values())
    return out


def climbing(series: Series) -> bool:
    """Memory that keeps rising through the window: the Theil–Sen slope is positive with 95% confidence."""
    points = [(at.timestamp(), v) for at, v in series.points]
    if len(points) < 4:
        return False
    low, _ = theil_sen_interval([v for _, v in points], [t for t, _ in points], 0.95)
    rise = low * (points[-1][0] - points[0][0])
    return low > 0 and rise > 0.1 * abs(points[0][1])


class MetricsAgent:
    name = "metrics"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        semconv = semconv_for(deps)
        # The call graph the error-origin rule walks is asked beside the series: one round trip, not two.
        (now_t, before_t), callees = ask_together(lambda: ask_series(deps, semconv, scope.window, scope.baseline),
                                                  lambda: callees_of(deps, scope))
        now, before = series_of(now_t, semconv, BUCKET_SECONDS), series_of(before_t, semconv, BUCKET_SECONDS)
        if not now:
            book.record("telemetry:metrics", now_t, "no mapped metrics in the incident window (docs/metrics.md "
                        "lists the names read; config.yaml's metrics.names adds more)")
            return book.finding("no_data")
        self._note_baseline(book, before, before_t, scope)
        since = _bucket_floor(scope.onset) if scope.onset and scope.window.contains(scope.onset) else None
        moves = judge(now, before, since)
        entry = scope.entry_service or incident.service
        book.facts["metrics_read"] = sorted({s.key.metric for s in now})
        by_service: dict[str, list[Move]] = defaultdict(list)
        for move in moves:
            by_service[move.service].append(move)
        hosts_of: dict[str, set[str]] = defaultdict(set)
        for s in now:
            if s.key.host:
                hosts_of[s.key.service].add(s.key.host)
        anomalies: list[Anomaly] = []
        surge = self._surge_factor(by_service.get(entry, []))
        book.facts["moved"] = {svc: sorted({m.signal for m in ms if m.score.score >= FLAG})
                               for svc, ms in by_service.items() if any(m.score.score >= FLAG for m in ms)}
        origins = error_origins({m.service for m in moves if m.signal == "errors" and m.score.score >= FLAG},
                                _error_measured(now, before), callees)
        for service, found in sorted(by_service.items()):
            evidence = self._record(book, service, found, hosts_of[service], now_t, before_t, entry)
            anomalies.extend(self._anomalies(service, found, evidence))
            if surge >= SURGE_FACTOR and service == entry:
                self._surge(book, service, evidence, surge)
            else:  # in a surge, saturation downstream is what the load does, not a fault of its own
                self._suspect(book, service, found, hosts_of[service], evidence, entry,
                              discount=surge if surge >= SURGE_FACTOR else 1.0, origin=service in origins)
        return _with_anomalies(book.finding("ok"), anomalies)

    def _note_baseline(self, book: Notebook, before: list[Series], before_t: Table, scope: Scope) -> None:
        buckets = max((len(s.points) for s in before), default=0)
        if buckets < MIN_BASELINE_BUCKETS:
            what = "no metric points" if not buckets else f"only {buckets} minute(s) of metric points"
            said = (f"the metrics baseline ({scope.baseline}) holds {what}: " +
                    ("no series could be compared with its own past" if not buckets else
                     "scores against it are floored by each series' resolution and level, and weaker than usual"))
            book.facts["baseline_short"] = True
            book.notes.append(said)
            book.record("telemetry:metrics", before_t, said, {"baseline_buckets": buckets})

    @staticmethod
    def _surge_factor(entry_moves: list[Move]) -> float:
        ups = [m.score.now / m.score.before for m in entry_moves
               if m.signal == "traffic" and m.score.before > 0 and m.score.score >= FLAG]
        return max(ups, default=1.0)

    def _record(self, book: Notebook, service: str, found: list[Move], hosts: set[str], now_t: Table, before_t: Table,
                entry: str) -> dict[str, str]:
        """One evidence per signal that moved, quoting its strongest series; signal -> evidence id."""
        out: dict[str, str] = {}
        for signal in sorted({m.signal for m in found if m.score.score >= FLAG}):
            strongest = sorted((m for m in found if m.signal == signal), key=lambda m: -m.score.score)
            top = strongest[0]
            where = sorted({m.series.key.host for m in strongest if m.score.score >= FLAG and m.series.key.host})
            local = bool(where) and len(hosts) > 1 and len(where) == 1
            scope_text = f"on {where[0]} only, not on its other {len(hosts) - 1} host(s)" if local else \
                f"on {len(where)} of {len(hosts)} host(s)" if where else "service-wide"
            unit = display_unit(top.series.meaning)
            inner = signal == "traffic" and service != entry
            out[signal] = book.record(
                "telemetry:metrics", now_t.query_for(top.series.key.metric),
                f"{service} {signal}: {top.series.key.metric} {quantity_change(top.score.before, top.score.now, unit)} "
                f"(score {top.score.score:.1f} of {10:.0f} against {top.compared_with}), {scope_text}"
                + (" — traffic inside the system, what callers send: a symptom" if inner else ""),
                {"service": service, "signal": signal, "metric": top.series.key.metric, "unit": unit,
                 "before": top.score.before, "now": top.score.now, "score": top.score.score,
                 "spread": round(top.score.spread, 6), "flat_baseline": top.score.flat_baseline,
                 "compared_with": top.compared_with, "hosts": where, "host_local": local,
                 "baseline_query": before_t.query_for(top.series.key.metric)})
        return out

    @staticmethod
    def _anomalies(service: str, found: list[Move], evidence: dict[str, str]) -> list[Anomaly]:
        """One anomaly per service and signal: its strongest series (several names for one quantity —
        cores, a utilisation ratio, CPU seconds — are one observation, not several). A client-side latency
        is the callee's and the network's, measured by this caller: it is reported as `client_latency`, so
        fusion can carry it along the call graph rather than credit it to the caller."""
        best: dict[str, Move] = {}
        for m in found:
            signal = "client_latency" if m.signal == "latency" and m.series.meaning.side == "client" else m.signal
            if signal not in best or m.score.score > best[signal].score.score:
                best[signal] = m
        return [Anomaly(service=service, signal=signal, modality="metrics", score=m.score.score,
                        source=f"metric:{m.series.key.metric}", onset=_onset(m),
                        evidence=evidence.get(m.signal) if m.score.score >= FLAG else None)
                for signal, m in sorted(best.items())]

    def _surge(self, book: Notebook, service: str, evidence: dict[str, str], factor: float) -> None:
        book.suspect(f"a traffic surge at {service}: {factor:.1f}× the usual requests", service,
                     min(0.85, 0.55 + 0.1 * factor), supports=[evidence["traffic"]], fault=Fault.TRAFFIC_SURGE)

    def _suspect(self, book: Notebook, service: str, found: list[Move], hosts: set[str], evidence: dict[str, str],
                 entry: str, discount: float = 1.0, origin: bool = False) -> None:
        flagged = [m for m in found if m.score.score >= FLAG and _blames_itself(m, service == entry)]
        if not flagged:
            return
        signals = {m.signal for m in flagged}
        lead = next(s for s in LEAD_ORDER if s in signals)
        local = {m.signal for m in flagged if m.series.key.host and len(hosts) > 1
                 and len({x.series.key.host for x in flagged if x.signal == m.signal}) == 1}
        fault = FAULT_OF.get(lead)
        if lead == "cpu" and "cpu" in local:
            fault = Fault.NOISY_NEIGHBOUR
        elif lead == "memory":
            fault = Fault.MEMORY_LEAK if any(climbing(m.series) for m in flagged if m.signal == "memory") else None
        # Errors that start here (metric_origins) are the service's own, as saturation is: not relayed.
        saturated = signals & SATURATION | ({"errors"} if origin and "errors" in signals else set())
        strength = max(m.score.score for m in flagged) / 10 * \
            _breadth(max((m for m in flagged if m.signal == lead), key=lambda m: m.score.score), found)
        confidence = (0.35 + 0.1 * len(saturated) + 0.2 * strength) if saturated else (0.15 + 0.1 * strength)
        book.suspect(f"{service}'s metrics moved: {', '.join(sorted(signals))}", service,
                     min(confidence, 0.85) / discount, supports=[evidence[s] for s in sorted(signals)], fault=fault)


def _breadth(top: Move, found: list[Move]) -> float:
    """The share of the statistics of the lead move's series (a summary's p50 … p99 and mean, on the same
    host and version) that moved clearly too. A tail quantile alone at the cap of a short baseline is one
    noisy number; a distribution that moved at every statistic is one fact seen five ways."""
    key = top.series.key
    same = [m for m in found if m.signal == top.signal and m.series.meaning.side == top.series.meaning.side
            and (m.series.key.host, m.series.key.version) == (key.host, key.version)]
    return sum(1 for m in same if m.score.score >= FLAG) / len(same)


def _blames_itself(move: Move, at_entry: bool) -> bool:
    """Whether a move points at its own service. Traffic, bytes on the wire and syscalls inside the system
    follow what callers send; a client-side latency measures the callee and the network, not the caller."""
    if move.signal in SYMPTOMS:
        return move.signal == "traffic" and at_entry
    return not (move.signal == "latency" and move.series.meaning.side == "client")


def _with_anomalies(finding: Finding, anomalies: list[Anomaly]) -> Finding:
    from dataclasses import replace

    return replace(finding, anomalies=tuple(anomalies))


def _onset(move: Move) -> datetime | None:
    """The first minute the series stood FLAG spreads beyond its reference level, in the direction it moved."""
    if move.score.score < FLAG:
        return None
    sign = 1 if move.score.up else -1
    limit = FLAG * move.score.spread
    return next((at for at, v in move.series.points if sign * (v - move.score.before) >= limit), None)


def _bucket_floor(at: datetime) -> datetime:
    return at - timedelta(seconds=at.timestamp() % BUCKET_SECONDS)

