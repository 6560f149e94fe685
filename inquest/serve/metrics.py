"""`GET /metrics`: the server's own counters in Prometheus's text exposition format (version 0.0.4).

A handful of counters, two gauges and one histogram do not justify a client library: the format is
`# HELP`, `# TYPE` and `name{labels} value` lines (https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Investigations take seconds to minutes; the buckets span that with room on both sides.
DURATION_BUCKETS_S = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
NOTIFICATION_OUTCOMES = ("queued", "merged", "deferred", "duplicate", "rejected", "unauthorized", "queue_full")


@dataclass
class ServeMetrics:
    started: int = 0
    finished: int = 0
    failed: int = 0
    interrupted: int = 0
    attach_failures: int = 0
    notifications: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NOTIFICATION_OUTCOMES, 0))
    duration_counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS_S))
    duration_sum: float = 0.0
    duration_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def notification(self, outcome: str) -> None:
        with self._lock:
            self.notifications[outcome] = self.notifications.get(outcome, 0) + 1

    def investigation_started(self) -> None:
        with self._lock:
            self.started += 1

    def investigation_ended(self, seconds: float, ok: bool, attach_failures: int = 0) -> None:
        with self._lock:
            if ok:
                self.finished += 1
            else:
                self.failed += 1
            self.attach_failures += attach_failures
            self.duration_sum += seconds
            self.duration_count += 1
            for i, bound in enumerate(DURATION_BUCKETS_S):
                if seconds <= bound:
                    self.duration_counts[i] += 1

    def investigation_interrupted(self) -> None:
        with self._lock:
            self.interrupted += 1

    def exposition(self, queue_depth: int, running: int) -> str:
        with self._lock:
            lines: list[str] = []
            add = _writer(lines)
            add("inquest_serve_investigations_started_total", "counter", "Investigations started.", [("", self.started)])
            add("inquest_serve_investigations_finished_total", "counter", "Investigations that produced a report.",
                [("", self.finished)])
            add("inquest_serve_investigations_failed_total", "counter", "Investigations that raised instead of reporting.",
                [("", self.failed)])
            add("inquest_serve_investigations_interrupted_total", "counter",
                "Investigations cut short by a shutdown (resumed on restart).", [("", self.interrupted)])
            add("inquest_serve_attach_failures_total", "counter", "Reports that could not be attached to a target.",
                [("", self.attach_failures)])
            add("inquest_serve_notifications_total", "counter", "Alertmanager notifications received, by outcome.",
                [(f'{{outcome="{k}"}}', v) for k, v in sorted(self.notifications.items())])
            add("inquest_serve_queue_depth", "gauge", "Alert groups waiting to be investigated.", [("", queue_depth)])
            add("inquest_serve_investigations_running", "gauge", "Investigations running now.", [("", running)])
            buckets: list[tuple[str, float]] = [(f'_bucket{{le="{bound:g}"}}', count) for bound, count in zip(DURATION_BUCKETS_S, self.duration_counts)]
            buckets += [('_bucket{le="+Inf"}', self.duration_count), ("_sum", self.duration_sum),
                        ("_count", self.duration_count)]
            add("inquest_serve_investigation_duration_seconds", "histogram",
                "Wall time from an investigation's start to its report being written and attached.", buckets)
            return "\n".join(lines) + "\n"


def _writer(lines: list[str]) -> Callable[[str, str, str, Sequence[tuple[str, float]]], None]:
    def add(name: str, kind: str, help_text: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{suffix} {value:g}" if isinstance(value, float) else f"{name}{suffix} {value}"
                     for suffix, value in samples)
    return add
