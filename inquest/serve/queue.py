"""The work queue of `investigate serve`: one waiting job per alert group, bounded, persisted on every change.

Deduplication is by Alertmanager's group key. A notification for a group that is already waiting replaces
the waiting one (the newest state of the group is what matters; a resolve is never lost). A firing
notification that arrives within `quiet_period_s` of the group's last investigation is deferred to the end
of that period, or dropped when it names exactly the alerts already investigated, so a flapping alert
costs at most one investigation per quiet period.

The queue and each open episode (the incident id a group's notifications update, until it resolves) are
written to `state.json` under the data directory, atomically (written beside, then renamed), whenever they
change. Running jobs are written as waiting ones, so a restart -- after SIGTERM or a crash -- runs them again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from inquest.errors import InputError
from inquest.serve.payload import AlertGroup, PayloadError, parse_group

log = logging.getLogger("inquest.serve")

STATE_VERSION = 1
# A job that was started this many times without finishing (each start cut short by a crash or a stop)
# is dropped on load rather than crash the server forever.
MAX_ATTEMPTS = 3
Offered = Literal["queued", "merged", "deferred", "duplicate"]


class QueueFull(Exception):
    """No room for another alert group; Alertmanager retries a 503, so the notification is not lost."""


@dataclass
class Job:
    group: AlertGroup
    received_at: float  # epoch seconds
    not_before: float  # epoch seconds: the quiet period of the group defers it until then
    attempts: int = 0  # starts so far; > 0 on a waiting job means an earlier run was interrupted


@dataclass
class Episode:
    """A group from its first firing notification to its resolution: one incident, one report, one ticket comment."""

    incident_started: datetime
    last_run: float | None = None  # epoch seconds of the last firing investigation's start
    last_alerts: frozenset[str] = field(default_factory=frozenset)  # fingerprints it investigated


class WorkQueue:
    def __init__(self, path: Path, capacity: int, quiet_period_s: float, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.capacity = capacity
        self.quiet_period_s = quiet_period_s
        self.clock = clock
        self._cond = threading.Condition()
        self._waiting: dict[str, Job] = {}
        self._running: dict[str, Job] = {}
        self._episodes: dict[str, Episode] = {}
        self._closed = False

    # -- the web handler's side ----------------------------------------------------------------------------

    def offer(self, group: AlertGroup) -> Offered:
        now = self.clock()
        with self._cond:
            waiting = self._waiting.get(group.key)
            if waiting is not None:
                waiting.group = group
                if group.status == "resolved":
                    waiting.not_before = min(waiting.not_before, now)
                self._changed()
                return "merged"
            not_before, verdict = self._quiet(group, now)
            if verdict == "duplicate":
                return verdict
            if len(self._waiting) >= self.capacity:
                raise QueueFull(f"{len(self._waiting)} alert groups are waiting (serve.queue_size)")
            self._waiting[group.key] = Job(group, now, not_before)
            self._changed()
            return verdict

    def _quiet(self, group: AlertGroup, now: float) -> tuple[float, Offered]:
        episode = self._episodes.get(group.key)
        if group.status == "resolved" or episode is None or episode.last_run is None:
            return now, "queued"
        quiet_until = episode.last_run + self.quiet_period_s
        if now >= quiet_until:
            return now, "queued"
        if frozenset(a.fingerprint for a in group.firing) == episode.last_alerts:
            return now, "duplicate"
        return quiet_until, "deferred"

    def depth(self) -> int:
        with self._cond:
            return len(self._waiting)

    def running(self) -> int:
        with self._cond:
            return len(self._running)

    # -- the workers' side ---------------------------------------------------------------------------------

    def take(self, stop: threading.Event, poll_s: float = 0.5) -> tuple[Job, Episode] | None:
        """The next job that may run now (its quiet period over, its group not running), marked running;
        None once `stop` is set or the queue is closed."""
        with self._cond:
            while not stop.is_set() and not self._closed:
                now = self.clock()
                ready = [j for k, j in self._waiting.items() if k not in self._running and j.not_before <= now]
                if ready:
                    job = min(ready, key=lambda j: (j.not_before, j.received_at))
                    del self._waiting[job.group.key]
                    job.attempts += 1
                    self._running[job.group.key] = job
                    episode = self._episode_for(job.group)
                    if job.group.status == "firing":
                        episode.last_run = now
                        episode.last_alerts = frozenset(a.fingerprint for a in job.group.firing)
                    self._changed()
                    return job, episode
                soonest = min((j.not_before for j in self._waiting.values()), default=now + poll_s)
                self._cond.wait(timeout=max(0.01, min(poll_s, soonest - now)))
        return None

    def _episode_for(self, group: AlertGroup) -> Episode:
        episode = self._episodes.get(group.key)
        if (episode is not None and episode.last_run is not None and group.firing
                and min(a.starts_at for a in group.firing).timestamp() > episode.last_run):
            # Every alert started after the group's last investigation: the episode ended without its resolve
            # reaching us (send_resolved: false, or a lost notification). A new incident, not an old one updated.
            episode = None
        if episode is None:
            alerts = group.firing or group.alerts
            episode = Episode(incident_started=min(a.starts_at for a in alerts))
            self._episodes[group.key] = episode
        return episode

    def done(self, job: Job) -> None:
        """The job finished (well or not): it leaves the queue; a resolved group's episode ends with it.
        After `close` nothing changes: a job finishing past the shutdown grace stays persisted as interrupted."""
        with self._cond:
            if self._closed:
                return
            self._running.pop(job.group.key, None)
            if job.group.status == "resolved" and job.group.key not in self._waiting:
                self._episodes.pop(job.group.key, None)
            self._changed()

    def close(self) -> list[Job]:
        """Stops handing out jobs; returns those still running, which stay persisted as interrupted."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._persist()
            return list(self._running.values())

    # -- persistence ---------------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._persist()
        self._cond.notify_all()

    def _persist(self) -> None:
        jobs = [*self._running.values(), *self._waiting.values()]
        state = {
            "version": STATE_VERSION,
            "jobs": [{"payload": j.group.raw, "received_at": j.received_at, "not_before": j.not_before,
                      "attempts": j.attempts} for j in jobs],
            "episodes": {key: {"incident_started": e.incident_started.isoformat(), "last_run": e.last_run,
                               "last_alerts": sorted(e.last_alerts)} for key, e in self._episodes.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            json.dump(state, out)
            out.flush()
            os.fsync(out.fileno())  # the rename must not expose a file whose bytes are still in flight
        os.replace(partial, self.path)

    def load(self) -> int:
        """Reads the state a previous run left; returns the number of jobs resumed."""
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: unreadable queue state ({exc}); move it aside to start empty") from None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise InputError(f"{self.path}: not a queue state of version {STATE_VERSION}; move it aside to start empty")
        with self._cond:
            for key, item in state.get("episodes", {}).items():
                self._episodes[key] = Episode(datetime.fromisoformat(item["incident_started"]), item.get("last_run"),
                                              frozenset(item.get("last_alerts", ())))
            for item in state.get("jobs", []):
                self._resume(item)
            self._changed()
            return len(self._waiting)

    def _resume(self, item: Any) -> None:
        try:
            group = parse_group(item["payload"])
        except (PayloadError, KeyError, TypeError) as exc:
            log.error("%s: a queued notification could not be read back and is dropped: %s", self.path, exc)
            return
        if item.get("attempts", 0) >= MAX_ATTEMPTS:
            log.error("group %s: dropped after %d interrupted attempts", group.key, item["attempts"])
            return
        self._waiting[group.key] = Job(group, float(item["received_at"]), float(item["not_before"]),
                                       int(item.get("attempts", 0)))
