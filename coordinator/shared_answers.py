"""One answer per distinct question within an investigation.

Several specialists ask some of the same questions (span statistics for both windows, error origins,
the call graph, recent changes): each is independent by design, but the store need not compute the
same aggregation twice. The first asker computes; anyone asking the same question meanwhile waits
for that answer instead of starting another. Answers are immutable values, so sharing them is safe.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from typing import Any


class SharedAnswers:
    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.name = backend.name
        self._lock = threading.Lock()
        self._answers: dict[tuple, Future] = {}

    def __getattr__(self, question: str) -> Any:
        real = getattr(self._backend, question)
        if not callable(real):
            return real

        @functools.wraps(real)  # keeps the question's signature for whoever inspects it (tracing does)
        def ask(*args: Any, **kwargs: Any) -> Any:
            key = (question, args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:  # unhashable arguments: nothing to share
                return real(*args, **kwargs)
            with self._lock:
                pending = self._answers.get(key)
                mine = pending is None
                if mine:
                    pending = self._answers[key] = Future()
            if mine:
                try:
                    pending.set_result(real(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001 - handed to every asker, raised in each
                    pending.set_exception(exc)
            return pending.result()

        return ask
