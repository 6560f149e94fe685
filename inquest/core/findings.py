"""What a specialist agent reports: evidence, hypotheses, anomalies and the typed facts it measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from inquest.core.incident import ChangeRef, utc

# skipped: the agent cannot apply to this setup (no repository configured for code_diff), which is not a failure.
AgentStatus = Literal["ok", "no_data", "skipped", "error", "timeout"]


def empty_mapping() -> Mapping[str, Any]:
    """A read-only empty mapping: the default of a frozen type's free-form field."""
    return MappingProxyType({})


@dataclass(frozen=True)
class Evidence:
    """One observation, reproducible by running `query` against `source`."""

    id: str
    agent: str
    source: str  # "telemetry:spans", "telemetry:db_query_stats", "git", ...
    query: str  # the exact SQL / DSL / git command that produced it
    summary: str
    data: Mapping[str, Any] = field(default_factory=empty_mapping)
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
    facts: Mapping[str, Any] = field(default_factory=empty_mapping)  # free-form, for display only
    error: str | None = None  # why, when status is error or timeout
    anomalies: tuple[Anomaly, ...] = ()  # per service and signal: what the coordinator fuses and ranks
    impact: Impact | None = None  # who was hurt (the impact agent)
    timeline: tuple[Bucket, ...] = ()  # requests, errors and p95 at the entry service per bucket, baseline then window (impact)
    call_graph: tuple[CallEdge, ...] = ()  # calls between services in the incident window (trace)
    anomalous_services: tuple[str, ...] = ()  # where errors start or time is added (trace)
    loaded_by: Mapping[str, LoadSource] = field(default_factory=empty_mapping)  # service -> whose load it suffers (trace)
    rollback_to: Mapping[str, str] = field(default_factory=empty_mapping)  # change id -> the version undoing it returns to
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
