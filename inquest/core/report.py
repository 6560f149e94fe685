"""What the coordinator concludes: the scope it gave the agents, the ranked hypotheses and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inquest.core.findings import (
    AgentStatus,
    Bucket,
    CallEdge,
    Claim,
    Evidence,
    Finding,
    Impact,
    empty_mapping,
)
from inquest.core.incident import ChangeRef, Incident, Window


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
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=empty_mapping)  # per agent, free-form, for display only
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
