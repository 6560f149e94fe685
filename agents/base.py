"""What every specialist agent is, what it is handed, and how it records evidence.

Agents are plain synchronous objects: the backends they query (DuckDB, the Elasticsearch client) block,
and the coordinator runs each agent in its own thread, where DuckDB releases the GIL while it works.
An agent never catches its own failures: the fan-out turns an exception into a Finding with a status.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from inquest import registry
from inquest.config import Config
from inquest.core import Anomaly, ChangeRef, Evidence, Finding, Hypothesis, Incident, Scope
from inquest.faults import Fault, named
from inquest.tools.backends.protocol import Changes, Table, TelemetryBackend
from inquest.tools.code_history import CodeHistory


@dataclass(frozen=True)
class Deps:
    """Everything an agent may use, handed in: no globals."""

    backend: TelemetryBackend
    code: CodeHistory
    config: Config


class Agent(Protocol):
    name: str

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding: ...


AgentT = TypeVar("AgentT", bound=Agent)  # register() hands back the class it was given, typed as an agent


def ask_together(*questions: Callable[[], Any]) -> list[Any]:
    """Asks independent backend questions at once and returns their answers in order. Against a remote
    cluster each question is a round trip; asked together they cost one. An exception from any
    question propagates, as if it had been asked alone."""
    if len(questions) == 1:
        return [questions[0]()]
    with ThreadPoolExecutor(max_workers=len(questions), thread_name_prefix="question") as pool:
        # Each question runs in a copy of the caller's context, so its trace span nests under the agent's.
        futures = [pool.submit(contextvars.copy_context().run, q) for q in questions]
        return [f.result() for f in futures]


def register(name: str) -> Callable[[type[AgentT]], type[AgentT]]:
    """Class decorator: makes an agent constructible by name in this process (replay's `plugins`,
    tests), replacing a built-in of the same name. Distributions declare an `inquest.agents` entry
    point instead, which needs no import to be known."""

    def decorate(cls: type[AgentT]) -> type[AgentT]:
        cls.name = name
        registry.add(registry.AGENTS, name, cls)
        return cls

    return decorate


class Notebook:
    """Collects one agent's evidence and hypotheses, giving evidence stable ids (`db-1`, `db-2`, ...)."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.evidence: list[Evidence] = []
        self.hypotheses: list[Hypothesis] = []
        self.facts: dict[str, Any] = {}
        self.anomalies: list[Anomaly] = []
        self.notes: list[str] = []  # what the report should say this agent could not check
        self._started = time.perf_counter()

    def record(self, source: str, query: str | Table | Changes, summary: str,
               data: Mapping[str, Any] | None = None) -> str:
        text = query if isinstance(query, str) else query.query
        evidence_id = f"{self.agent}-{len(self.evidence) + 1}"
        self.evidence.append(Evidence(id=evidence_id, agent=self.agent, source=source, query=text,
                                      summary=summary, data=dict(data or {})))
        return evidence_id

    def suspect(self, summary: str, service: str | None, confidence: float, supports: list[str] | tuple[str, ...],
                contradicts: list[str] | tuple[str, ...] = (), change: ChangeRef | None = None,
                query: str | None = None, fault: Fault | str | None = None) -> None:
        known = named(fault)  # an unknown name is this agent's bug: ranking and mitigation would ignore it
        self.hypotheses.append(Hypothesis(
            summary=summary, service=service, confidence=round(min(max(confidence, 0.0), 1.0), 3),
            supports=tuple(supports), contradicts=tuple(contradicts), change=change, query=query,
            fault=known.value if known else None,
        ))

    def anomaly(self, anomaly: Anomaly) -> None:
        """Records how unusual one signal of one service was: what the coordinator fuses across agents."""
        self.anomalies.append(anomaly)

    def _with_subjects(self) -> tuple[Evidence, ...]:
        """Each piece of evidence with the services and changes this agent tied it to: the hypotheses
        citing it (for or against) and the anomalies it shows."""
        services: dict[str, set[str]] = {}
        changes: dict[str, set[str]] = {}
        for h in self.hypotheses:
            for evidence_id in (*h.supports, *h.contradicts):
                if h.service:
                    services.setdefault(evidence_id, set()).add(h.service)
                if h.change:
                    changes.setdefault(evidence_id, set()).add(h.change.id)
        for a in self.anomalies:
            if a.evidence:
                services.setdefault(a.evidence, set()).add(a.service)
        return tuple(replace(e, services=tuple(sorted(services.get(e.id, set()) | set(e.services))),
                             changes=tuple(sorted(changes.get(e.id, set()) | set(e.changes))))
                     for e in self.evidence)

    def finding(self, status: str = "ok", error: str | None = None, **channels: Any) -> Finding:
        """The Finding, with the typed channels this agent fills (impact, call_graph, loaded_by, ...)."""
        return Finding(
            agent=self.agent, status=status,  # type: ignore[arg-type]
            evidence=self._with_subjects(), hypotheses=tuple(sorted(self.hypotheses, key=lambda h: -h.confidence)),
            duration_ms=int((time.perf_counter() - self._started) * 1000), facts=dict(self.facts), error=error,
            anomalies=tuple(self.anomalies), notes=tuple(self.notes), **channels,
        )
