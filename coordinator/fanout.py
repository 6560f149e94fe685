"""The fan-out: every specialist at once, each under its own deadline.

This is the one place that catches an agent's exceptions: a raising agent becomes a Finding with status
`error`, a hanging one a Finding with status `timeout`, and the investigation goes on with the rest.
Agents run in daemon threads so that one that never returns cannot keep the process alive at exit.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from opentelemetry import trace

from inquest.agents.base import Agent, Deps
from inquest.core import AgentProgress, Finding, Incident, Scope

Progress = Callable[[AgentProgress], None]
T = TypeVar("T")
_tracer = trace.get_tracer("inquest.coordinator")


def _headline(finding: Finding) -> str:
    if finding.error:
        return finding.error
    if finding.hypotheses:
        top = finding.hypotheses[0]
        return f"{top.confidence:.0%} {top.summary}"
    return f"{len(finding.evidence)} evidence, no suspect"


def _run(agent: Agent, incident: Incident, scope: Scope, deps: Deps, results: queue.Queue[Finding]) -> None:
    started = time.perf_counter()
    with _tracer.start_as_current_span(f"agent {agent.name}", attributes={"inquest.agent": agent.name}) as span:
        try:
            finding = agent.investigate(incident, scope, deps)
        except Exception as exc:  # noqa: BLE001 - the fan-out boundary: a failure becomes a value
            finding = Finding(agent=agent.name, status="error", error=f"{type(exc).__name__}: {exc}",
                              duration_ms=int((time.perf_counter() - started) * 1000))
        span.set_attribute("inquest.status", finding.status)
    results.put(finding)


def fan_out(agents: Sequence[Agent], incident: Incident, scope: Scope, deps: Deps, timeout_s: float,
            on_progress: Progress | None = None) -> list[Finding]:
    notify = on_progress or (lambda _p: None)
    results: queue.Queue[Finding] = queue.Queue()
    started = time.perf_counter()
    for agent in agents:
        notify(AgentProgress(agent.name, "running"))
        context = contextvars.copy_context()  # carries the investigation's span into the thread
        threading.Thread(target=context.run, args=(_run, agent, incident, scope, deps, results),
                         name=f"agent-{agent.name}", daemon=True).start()
    findings: dict[str, Finding] = {}
    deadline = started + timeout_s
    while len(findings) < len(agents):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        try:
            finding = results.get(timeout=remaining)
        except queue.Empty:
            break
        findings[finding.agent] = finding
        notify(AgentProgress(finding.agent, finding.status, finding.duration_ms, _headline(finding)))
    for agent in agents:
        if agent.name not in findings:
            findings[agent.name] = Finding(agent=agent.name, status="timeout", duration_ms=int(timeout_s * 1000),
                                           error=f"no answer within {timeout_s:g} s")
            notify(AgentProgress(agent.name, "timeout", int(timeout_s * 1000), findings[agent.name].error or ""))
    return [findings[a.name] for a in agents]


def started(name: str, call: Callable[[], T]) -> Callable[[float], T]:
    """`call()` starts now in a daemon thread of its own (carrying the investigation's context); the returned
    function waits for it at most the seconds it is given, so the caller can do other work meanwhile. Past
    them it raises TimeoutError, leaving the thread to finish or fail unobserved, as the fan-out does with a
    hanging agent; `call()`'s exceptions are raised there too."""
    box: queue.Queue[tuple[bool, object]] = queue.Queue()

    def run() -> None:
        try:
            box.put((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, raised there
            box.put((False, exc))

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name=name, daemon=True).start()

    def wait(seconds: float) -> T:
        try:
            ok, value = box.get(timeout=max(0.0, seconds))
        except queue.Empty:
            raise TimeoutError(f"{name}: no answer within {seconds:.3g} s") from None
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    return wait
