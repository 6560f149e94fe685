"""One span per question an agent asks of the telemetry backend, without touching any backend.

The coordinator wraps `deps.backend` in a TracedBackend; every method of the TelemetryBackend protocol
then runs inside a CLIENT span named `backend <question>` that carries the question's arguments, the
query the store ran (`db.query.text`) and how many rows came back. Called inside an agent's thread, the
span is a child of that agent's span, so a trace shows which agent waited on which question.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from opentelemetry import trace

from inquest.core import Window, utc
from inquest.tools.backends.protocol import Changes, Table, TelemetryBackend

_tracer = trace.get_tracer("inquest.coordinator")

QUESTIONS = frozenset(name for name, value in vars(TelemetryBackend).items()
                      if callable(value) and not name.startswith("_"))
# Enough of a statement to recognise it in a trace viewer; the report keeps the whole of it.
MAX_QUERY_TEXT = 4096


@lru_cache(maxsize=None)
def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def _attributes(question: str, names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"inquest.backend.question": question}
    for name, value in [*zip(names, args), *kwargs.items()]:
        key = f"inquest.question.{name}"
        if isinstance(value, Window):
            attributes[f"{key}.start"] = utc(value.start).isoformat()
            attributes[f"{key}.end"] = utc(value.end).isoformat()
        elif isinstance(value, (str, bool, int, float)):
            attributes[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            attributes[key] = list(value)
    return attributes


class TracedBackend:
    """The wrapped backend, with every protocol question traced; anything else passes straight through."""

    def __init__(self, backend: TelemetryBackend) -> None:
        self._backend = backend
        self._system = getattr(backend, "name", type(backend).__name__)

    @property
    def wrapped(self) -> TelemetryBackend:
        return self._backend

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._backend, attribute)
        if attribute not in QUESTIONS or not callable(value):
            return value
        names = _parameters(getattr(type(self._backend), attribute, value))
        # Bound methods list `self` among a class function's parameters; skip it when looking them up.
        names = names[1:] if names[:1] == ("self",) else names

        def traced(*args: Any, **kwargs: Any) -> Any:
            attributes = {"db.system.name": self._system, **_attributes(attribute, names, args, kwargs)}
            with _tracer.start_as_current_span(f"backend {attribute}", kind=trace.SpanKind.CLIENT,
                                               attributes=attributes) as span:
                answer = value(*args, **kwargs)
                if isinstance(answer, (Table, Changes)):
                    span.set_attribute("db.query.text", answer.query[:MAX_QUERY_TEXT])
                    span.set_attribute("db.response.returned_rows",
                                       len(answer.rows) if isinstance(answer, Table) else len(answer.items))
                return answer

        return traced
