"""One span per question an agent asks of the telemetry backend, without touching any backend.

The coordinator wraps `deps.backend` in a TracedBackend; every method of the TelemetryBackend protocol
then runs inside a CLIENT span named `backend <question>` that carries the question's arguments, the
query the store ran (`db.query.text`) and how many rows came back. Called inside an agent's thread, the
span is a child of that agent's span, so a trace shows which agent waited on which question.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import trace

from inquest.core import Window, utc
from inquest.tools.backends.delegating import DelegatingBackend
from inquest.tools.backends.protocol import Changes, Table, TelemetryBackend

T = TypeVar("T")

_tracer = trace.get_tracer("inquest.coordinator")

QUESTIONS = frozenset(name for name, value in vars(TelemetryBackend).items()
                      if callable(value) and not name.startswith("_"))
# Enough of a statement to recognise it in a trace viewer; the report keeps the whole of it.
MAX_QUERY_TEXT = 4096


def _attributes(question: str, arguments: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"inquest.backend.question": question}
    for name, value in arguments.items():
        key = f"inquest.question.{name}"
        if isinstance(value, Window):
            attributes[f"{key}.start"] = utc(value.start).isoformat()
            attributes[f"{key}.end"] = utc(value.end).isoformat()
        elif isinstance(value, (str, bool, int, float)):
            attributes[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            attributes[key] = list(value)
    return attributes


class TracedBackend(DelegatingBackend):
    """The wrapped backend, with every protocol question traced."""

    def __init__(self, wrapped: TelemetryBackend) -> None:
        super().__init__(wrapped)
        self._system = getattr(wrapped, "name", type(wrapped).__name__)

    def answer(self, question: str, ask: Callable[..., T], **arguments: Any) -> T:
        attributes = {"db.system.name": self._system, **_attributes(question, arguments)}
        with _tracer.start_as_current_span(f"backend {question}", kind=trace.SpanKind.CLIENT,
                                           attributes=attributes) as span:
            answer = ask(**arguments)
            if isinstance(answer, (Table, Changes)):
                span.set_attribute("db.query.text", answer.query[:MAX_QUERY_TEXT])
                span.set_attribute("db.response.returned_rows",
                                   len(answer.rows) if isinstance(answer, Table) else len(answer.items))
            return answer
