"""One answer per distinct question within an investigation.

Several specialists ask some of the same questions (span statistics for both windows, error origins,
the call graph, recent changes): each is independent by design, but the store need not compute the
same aggregation twice. The first asker computes; anyone asking the same question meanwhile waits
for that answer instead of starting another. Answers are immutable values, so sharing them is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

from inquest.tools.backends.delegating import DelegatingBackend
from inquest.tools.backends.protocol import TelemetryBackend

T = TypeVar("T")


class SharedAnswers(DelegatingBackend):
    def __init__(self, wrapped: TelemetryBackend) -> None:
        super().__init__(wrapped)
        self._lock = threading.Lock()
        self._answers: dict[Hashable, Future[Any]] = {}

    def answer(self, question: str, ask: Callable[..., T], **arguments: Any) -> T:
        # A list of names is the same question as the tuple of them (agents pass both).
        key = (question, tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                                      for name, value in arguments.items())))
        try:
            hash(key)
        except TypeError:  # unhashable arguments: nothing to share
            return ask(**arguments)
        with self._lock:
            pending = self._answers.get(key)
            mine = pending is None
            if pending is None:
                pending = self._answers[key] = Future()
        if mine:
            try:
                pending.set_result(ask(**arguments))
            except BaseException as exc:  # noqa: BLE001 - handed to every asker, raised in each
                pending.set_exception(exc)
        result: T = pending.result()
        return result
