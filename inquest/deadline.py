"""The investigation's deadline, seen by every call made on its behalf.

An investigation sets one deadline when it starts; triage, the fan-out, each backend request and the LLM
stage ask how much of it is left instead of each applying a timeout of its own, so that their waits do
not add up past it (a search that never answered once stalled a 20 s investigation for 170 s: triage
had no bound and each request waited 30 s four times). The deadline travels in a context variable, so
agent threads started with `contextvars.copy_context()` (the fan-out) see the same one. Outside an
investigation there is no deadline and every call keeps its configured timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from inquest.errors import BackendError


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic() value
    started: float  # when the investigation began, on the same clock

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        now = time.monotonic()
        return cls(at=now + seconds, started=now)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class DeadlinePassed(BackendError):
    """A call was not started, or not retried, because the investigation's deadline had passed."""


_current: ContextVar[Deadline | None] = ContextVar("inquest_deadline", default=None)


def current() -> Deadline | None:
    return _current.get()


@contextmanager
def bounded(deadline: Deadline) -> Iterator[Deadline]:
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def timeout_for(configured_s: float, what: str) -> float:
    """The timeout one call may use: its configured one, cut to what is left of the deadline. Raises
    DeadlinePassed when nothing is left, so that no call starts that could not finish in time."""
    deadline = _current.get()
    if deadline is None:
        return configured_s
    left = deadline.remaining()
    if left <= 0.0:
        raise DeadlinePassed(f"{what}: not asked, the investigation's deadline had passed")
    return min(configured_s, left)


def time_left(default_s: float) -> float:
    """What is left of the deadline (at most `default_s`), or `default_s` outside an investigation."""
    deadline = _current.get()
    return default_s if deadline is None else min(default_s, deadline.remaining())
