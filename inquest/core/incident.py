"""What is investigated: an incident, the time windows around it and the changes that may explain it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

ChangeKind = Literal["deploy", "config", "feature_flag", "migration", "scale", "rollback"]
CHANGE_KINDS: tuple[str, ...] = ("deploy", "config", "feature_flag", "migration", "scale", "rollback")



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
