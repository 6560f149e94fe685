"""`investigate replay --every "0 3 * * *"`: a long-lived loop that runs a job on a cron schedule.

- Runs never overlap: the job runs in this (the main) thread, and the next slot is chosen after it
  returns. A run that outlasts its interval skips the slots it missed, and says so.
- A failed run is logged with its traceback and the next one still happens.
- SIGTERM or SIGINT stops the loop: a run in progress finishes first, then the process exits 0. A second
  signal while that run finishes stops at once (exit 143), for a person who cannot wait.

Cron expressions are croniter's: five fields, or six with seconds last ("* * * * * */10").
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from croniter import croniter

from inquest.errors import InquestError

Log = Callable[[str], None]
MAX_SKIPPED_COUNTED = 100_000  # a per-second schedule after a day-long run: count, but not forever


class ScheduleError(InquestError):
    """The cron expression is not one croniter understands."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_schedule(expression: str, where: str = "--every") -> str:
    expression = expression.strip()
    if not croniter.is_valid(expression):
        raise ScheduleError(f"{where}: {expression!r} is not a cron expression (five fields, e.g. \"0 3 * * *\" "
                            "for 03:00 every day, or six with seconds last)")
    return expression


class Scheduler:
    def __init__(self, expression: str, job: Callable[[], int], log: Log,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.expression = parse_schedule(expression)
        self.job = job
        self.log = log
        self.now = now
        self._stopping = threading.Event()
        self._running = False

    def stop(self) -> None:
        self._stopping.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._stopping.is_set():
            self.log(f"{name} again: stopping now")
            raise SystemExit(128 + signal.SIGTERM)
        self.stop()
        if self._running:
            self.log(f"{name}: stopping once the current run finishes")
        else:
            self.log(f"{name}: stopping")

    def run(self) -> int:
        """Runs until stopped; returns the process exit code (0 for a requested stop)."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            slots = croniter(self.expression, self.now())
            slot: datetime = slots.get_next(datetime)
            self.log(f"scheduled \"{self.expression}\"; first run at {slot.isoformat()}")
            while not self._stopping.is_set():
                wait = (slot - self.now()).total_seconds()
                if wait > 0:
                    self._stopping.wait(wait)  # a stop signal ends the wait at once
                    continue
                self._run_once(slot)
                slot = self._next_slot(slot)
            self.log("stopped")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run_once(self, slot: datetime) -> None:
        self.log(f"run for {slot.isoformat()} starting")
        self._running = True
        try:
            code = self.job()
        except Exception:  # noqa: BLE001 - the scheduler's boundary: a failed run must not end the schedule
            self.log("run failed; the next run is still scheduled:\n" + traceback.format_exc().rstrip())
        else:
            self.log(f"run for {slot.isoformat()} finished with exit code {code}")
        finally:
            self._running = False

    def _next_slot(self, slot: datetime) -> datetime:
        """The first slot still ahead after a run; slots that passed while it ran are skipped, never
        run late and never run twice."""
        finished = self.now()
        following = croniter(self.expression, slot)
        upcoming: datetime = following.get_next(datetime)
        skipped = 0
        while upcoming <= finished and skipped < MAX_SKIPPED_COUNTED:
            skipped += 1
            upcoming = following.get_next(datetime)
        if upcoming <= finished:  # gave up counting: start again from now
            upcoming = croniter(self.expression, finished).get_next(datetime)
        if skipped:
            self.log(f"the run outlasted its interval: skipped {skipped} slot(s); next run at {upcoming.isoformat()}")
        return upcoming
