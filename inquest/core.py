"""The shapes every part of Inquest speaks: incidents, evidence, hypotheses, findings, reports.

Frozen and typed, importing nothing of ours, so agents, the coordinator, renderers and tests can all
depend on them without depending on each other. All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

# skipped: the agent cannot apply to this setup (no repository configured for code_diff), which is not a failure.
AgentStatus = Literal["ok", "no_data", "skipped", "error", "timeout"]
ChangeKind = Literal["deploy", "config", "feature_flag", "migration", "scale", "rollback"]
CHANGE_KINDS: tuple[str, ...] = ("deploy", "config", "feature_flag", "migration", "scale", "rollback")

def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


def utc(value: datetime) -> datetime:
    """Returns `value` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def minutes(self) -> float:
        return self.duration.total_seconds() / 60.0

    def contains(self, at: datetime) -> bool:
        return self.start <= utc(at) < self.end

    def __str__(self) -> str:
        end = f"{self.end:%H:%M}" if self.end.date() == self.start.date() else f"{self.end:%Y-%m-%d %H:%M}"
        return f"{self.start:%Y-%m-%d %H:%M}–{end} UTC"


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    service: str  # the service the alert fired on, not necessarily the cause
    started_at: datetime
    window: Window  # where to look for the symptom
    symptoms: tuple[str, ...] = ()
    ticket: str | None = None  # e.g. "acme/shop#812" or "OPS-1234"
    baseline: Window | None = None  # a pinned known-good period (`--baseline`); None: derived from the window

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", utc(self.started_at))


@dataclass(frozen=True)
class Change:
    """Something that changed in production: the usual suspect."""

    id: str
    at: datetime
    service: str
    kind: ChangeKind
    description: str = ""
    version: str | None = None
    commit: str | None = None
    repository: str | None = None
    author: str | None = None
    previous_version: str | None = None  # for deploys and rollbacks: what a rollback would return to

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))


@dataclass(frozen=True)
class ChangeRef:
    """How a hypothesis names the change it blames."""

    id: str
    kind: str
    version: str | None = None
    commit: str | None = None

    @classmethod
    def of(cls, change: Change) -> ChangeRef:
        return cls(id=change.id, kind=change.kind, version=change.version, commit=change.commit)


@dataclass(frozen=True)
class Evidence:
    """One observation, reproducible by running `query` against `source`."""

    id: str
    agent: str
    source: str  # "telemetry:spans", "telemetry:db_query_stats", "git", ...
    query: str  # the exact SQL / DSL / git command that produced it
    summary: str
    data: Mapping[str, Any] = field(default_factory=_empty)
    # What it is about: the services and change ids its agent tied it to. A claim about a service or a
    # change must cite evidence about that service or change (LLM grounding); empty means about none.
    services: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hypothesis:
    summary: str
    service: str | None
    confidence: float
    supports: tuple[str, ...] = ()  # evidence ids
    contradicts: tuple[str, ...] = ()
    change: ChangeRef | None = None
    query: str | None = None  # a suspected database statement, when the cause is one
    fault: str | None = None  # the name of an inquest.faults.Fault: "n_plus_one", "slow_query", "bad_deploy", ...

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")


Modality = Literal["traces", "logs", "metrics", "db", "changes"]


@dataclass(frozen=True)
class Anomaly:
    """How unusual one signal of one service was in the incident window against its own baseline.

    Agents measure; the coordinator fuses. `score` is a robust, bounded distance from normal on one scale
    for every signal (0 = as usual, about 3 = clearly unusual, never above ANOMALY_SCORE_CAP), so signals of
    different units and modalities can be weighed against each other without hand-set weights. Two
    anomalies with the same `source` derive from the same data and count once when fused.
    """

    service: str
    signal: str  # "latency", "errors", "traffic", "cpu", "memory", "log_templates", "log_errors", ...
    modality: Modality
    score: float
    source: str  # what data it derives from, e.g. "spans", "logs", "metric:process.cpu.utilization"
    evidence: str | None = None  # the evidence id that shows it
    onset: datetime | None = None  # when the signal first left its normal range, where measured
    p_value: float | None = None  # where a test was made: the chance of a change at least this large by luck

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= ANOMALY_SCORE_CAP:
            raise ValueError(f"anomaly score must be within 0..{ANOMALY_SCORE_CAP}, got {self.score}")
        if self.onset is not None:
            object.__setattr__(self, "onset", utc(self.onset))


# A robust z beyond this says nothing more: capping keeps one degenerate baseline from drowning the rest.
ANOMALY_SCORE_CAP = 10.0


@dataclass(frozen=True)
class CallEdge:
    """One service calling another in the incident window, as the traces show it."""

    caller: str
    callee: str
    calls: int
    errors: int


@dataclass(frozen=True)
class LoadSource:
    """Where a service's trouble comes from when it is load sent from above: the caller sending it far
    more calls than the traffic explains, and the evidence that shows it."""

    caller: str
    evidence: str  # an evidence id


@dataclass(frozen=True)
class Bucket:
    """One time bucket of requests entering the system: the timeline the impact agent measures."""

    at: datetime
    requests: int
    errors: int
    p95_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Finding:
    """What one specialist agent came back with. A failure is a Finding too, never an exception.

    What other parts read travels in typed fields, each filled by the agent that measures it; `facts`
    holds only free-form by-products for display, which no code reads to decide anything."""

    agent: str
    status: AgentStatus
    evidence: tuple[Evidence, ...] = ()
    hypotheses: tuple[Hypothesis, ...] = ()
    duration_ms: int = 0
    facts: Mapping[str, Any] = field(default_factory=_empty)  # free-form, for display only
    error: str | None = None  # why, when status is error or timeout
    anomalies: tuple[Anomaly, ...] = ()  # per service and signal: what the coordinator fuses and ranks
    impact: Impact | None = None  # who was hurt (the impact agent)
    timeline: tuple[Bucket, ...] = ()  # requests, errors and p95 at the entry service per bucket, baseline then window (impact)
    call_graph: tuple[CallEdge, ...] = ()  # calls between services in the incident window (trace)
    anomalous_services: tuple[str, ...] = ()  # where errors start or time is added (trace)
    loaded_by: Mapping[str, LoadSource] = field(default_factory=_empty)  # service -> whose load it suffers (trace)
    rollback_to: Mapping[str, str] = field(default_factory=_empty)  # change id -> the version undoing it returns to
    onset: datetime | None = None  # the onset the agent judged changes against (deployment)
    review: ModelReview | None = None  # an LLM agent's grounded claims and reasons (LLM mode)
    notes: tuple[str, ...] = ()  # what the agent could not check, or checked against too little: for the report


@dataclass(frozen=True)
class AgentProgress:
    """A state change of one agent during the fan-out, for live views."""

    agent: str
    state: Literal["queued", "running", "ok", "no_data", "skipped", "error", "timeout"]
    duration_ms: int = 0
    headline: str = ""  # the agent's strongest hypothesis or its error, once done


@dataclass(frozen=True)
class Scope:
    """Where the coordinator told the agents to look."""

    window: Window  # the incident window
    baseline: Window  # a fault-free window of comparison, before the incident
    lookback: Window  # where suspect changes may lie
    onset: datetime | None = None  # when the symptom began at the alerting service, if triage saw it
    entry_service: str | None = None  # where customers' requests enter (root spans)
    coverage: Coverage | None = None  # what data the windows hold, measured before the agents ran
    # Why the data cannot support a verdict (the baseline is empty or thin: nothing can be called unusual).
    # Set, the report names no root cause, however confident the ranking: the verdict is inconclusive.
    inconclusive: str | None = None


@dataclass(frozen=True)
class Counts:
    spans: int = 0
    logs: int = 0

    @property
    def total(self) -> int:
        return self.spans + self.logs


@dataclass(frozen=True)
class Held:
    """What the store holds of one kind of telemetry over all time: where the data is, when a window is empty."""

    kind: str  # spans, logs or metrics
    records: int
    first: datetime | None = None
    last: datetime | None = None


@dataclass(frozen=True)
class Coverage:
    """What the store holds for the incident, so a weak verdict can say which data was missing."""

    window: Counts  # every service, incident window
    baseline: Counts  # every service, baseline window
    service: str | None = None  # the incident's (or entry) service
    service_window: Counts = Counts()
    service_baseline: Counts = Counts()
    span_kinds: tuple[str, ...] = ()  # kinds of the spans in the incident window
    root_spans: int = 0  # spans without a parent in the incident window: requests entering the system
    held: tuple[Held, ...] = ()  # the store's whole time range per kind; asked only when the verdict is weak


@dataclass(frozen=True)
class RankedHypothesis:
    rank: int
    summary: str
    service: str | None
    confidence: float
    evidence: tuple[str, ...]
    contradicting: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()  # which independent agents corroborate it
    change: ChangeRef | None = None
    query: str | None = None
    fault: str | None = None
    reasons: tuple[str, ...] = ()  # why it ranks where it does (for runners-up: why it lost)
    mitigation: str | None = None
    # The fused, uncalibrated evidence `confidence` was calibrated from (coordinator/calibration.py).
    features: tuple[float, ...] = ()


@dataclass(frozen=True)
class AgentRun:
    agent: str
    status: AgentStatus
    duration_ms: int
    evidence_count: int
    error: str | None = None
    note: str | None = None  # why it found nothing, or what it could not check: the report's Note column

    @classmethod
    def of(cls, finding: Finding) -> AgentRun:
        """The report's row for an agent. Its note is why it found nothing (the evidence of a `no_data` run
        is exactly that: what it looked for and did not find), else what it could not check."""
        reasons = [e.summary for e in finding.evidence] if finding.status == "no_data" else list(finding.notes)
        return cls(finding.agent, finding.status, finding.duration_ms, len(finding.evidence), finding.error,
                   note="; ".join(reasons) or None)

    @property
    def reason(self) -> str:
        """What the Note column says: the failure, else the agent's own reason."""
        return self.error or self.note or ""


@dataclass(frozen=True)
class Impact:
    requests: int = 0  # entry-point requests in the incident window
    failed_requests: int = 0
    slow_requests: int = 0
    users: int = 0  # distinct users with at least one failed request
    tenants: int = 0
    endpoints: tuple[Mapping[str, Any], ...] = ()  # [{"endpoint", "requests", "failed", "error_rate"}]
    error_rate: float = 0.0
    baseline_error_rate: float = 0.0
    error_budget_burn: float = 0.0  # multiple of the SLO's allowed error rate
    onset: datetime | None = None
    peak: datetime | None = None
    peak_error_rate: float = 0.0


@dataclass(frozen=True)
class Usage:
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0
    ungrounded_claims: int = 0
    model: str | None = None  # the LLM mode's model, when it ran
    prompt_version: str | None = None  # which versioned prompt templates ran (agents/llm/prompts)
    partial: bool = False  # a budget stopped the model's work: the report is the best one so far
    # The LLM stage's wall time, and the model service's own latency within it along the critical path
    # (the slowest specialist's calls, then the coordinator's): the difference is what Inquest added.
    llm_stage_ms: int = 0
    llm_model_ms: int = 0


@dataclass(frozen=True)
class Claim:
    """One sentence of the LLM mode's narrative, with the evidence ids it rests on."""

    text: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ModelReview:
    """What grounding left of one LLM agent's answer, beside the hypotheses of its Finding."""

    claims: tuple[Claim, ...] = ()  # a specialist's observations, or the coordinator's narrative
    reasons: tuple[tuple[str, ...], ...] = ()  # the coordinator's, one per hypothesis of its Finding, in order
    ungrounded: int = 0  # hypotheses and claims thrown out for citing nothing or what does not exist
    dropped: tuple[str, ...] = ()  # why each was thrown out
    asked: tuple[str, ...] = ()  # the questions a specialist asked through its tools


@dataclass(frozen=True)
class Report:
    incident: Incident
    scope: Scope
    hypotheses: tuple[RankedHypothesis, ...]
    evidence: tuple[Evidence, ...]
    agents: tuple[AgentRun, ...]
    impact: Impact
    started_at: datetime
    duration_ms: int
    mode: str = "deterministic"
    usage: Usage = field(default_factory=Usage)
    notes: tuple[str, ...] = ()
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)  # per agent, free-form, for display only
    trace_id: str | None = None  # the engine's own OpenTelemetry trace of this investigation (32 hex digits)
    narrative: tuple[Claim, ...] = ()  # LLM mode: the story for the on-call engineer, every claim grounded
    timeline: tuple[Bucket, ...] = ()  # the entry service's requests, errors and p95 per bucket: baseline, then window
    call_graph: tuple[CallEdge, ...] = ()  # calls between services in the incident window
    anomalous_services: tuple[str, ...] = ()  # where the traces show errors starting or time added

    @property
    def root_cause(self) -> RankedHypothesis | None:
        """The top hypothesis, when it is confident enough to act on and the baseline can support a verdict."""
        if self.scope.inconclusive is None and self.hypotheses and self.hypotheses[0].confidence >= ROOT_CAUSE_CONFIDENCE:
            return self.hypotheses[0]
        return None

    def evidence_by_id(self) -> dict[str, Evidence]:
        return {e.id: e for e in self.evidence}


# Below this a top hypothesis is a lead, not a root cause: the exit code and the headline say so.
ROOT_CAUSE_CONFIDENCE = 0.5
# What to do when the baseline is empty or thin (Scope.inconclusive): said by the notes and every headline.
BASELINE_FIX = ("give a known-good period with `--baseline START/END` (ISO 8601 times), or `baseline: {start, end}` "
                "(or `baseline: {offset: 1d}`) in the incident file")
