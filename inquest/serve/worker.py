"""One job of `investigate serve`: the alert group's incident investigated by the coordinator (the same engine
as `investigate <id>`), the report written under the data directory and attached where the routing table says.

Workers are threads: the investigation's own fan-out already runs agents in threads and DuckDB releases the
GIL while it computes, so processes would only add start-up cost. Each job opens the store afresh, so an
`investigate ingest` between alerts is seen and the store is not held open between them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from inquest.config import Config, ServeRoute
from inquest.core import Report
from inquest.serve.metrics import ServeMetrics
from inquest.serve.payload import AlertGroup, group_incident
from inquest.serve.queue import Episode, Job, WorkQueue

log = logging.getLogger("inquest.serve")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SUFFIX = {"markdown": ".md", "json": ".json", "html": ".html", "text": ".txt"}
# Attach targets keep a shared state file (attach.state_file) that they read, change and write back.
_attach_lock = threading.Lock()


@dataclass(frozen=True)
class Destination:
    targets: tuple[str, ...]
    tickets: tuple[str, ...]


def route(group: AlertGroup, routes: Sequence[ServeRoute]) -> Destination:
    """Where a group's report goes: the targets of every matching route up to the first that stops."""
    labels = {**group.common_labels, **group.group_labels}
    targets: list[str] = []
    tickets: list[str] = []
    for candidate in routes:
        if not _matches(candidate, labels):
            continue
        targets += [t for t in candidate.attach if t not in targets]
        if candidate.ticket:
            ticket = _fill(candidate.ticket, labels)
            if ticket is not None and ticket not in tickets:
                tickets.append(ticket)
        if candidate.stop:
            break
    return Destination(tuple(targets), tuple(tickets))


def _matches(candidate: ServeRoute, labels: dict[str, str]) -> bool:
    return (all(labels.get(k) == v for k, v in candidate.match.items())
            and all(re.fullmatch(p, labels.get(k, "")) for k, p in candidate.match_re.items()))


def _fill(template: str, labels: dict[str, str]) -> str | None:
    missing = [name for name in PLACEHOLDER.findall(template) if not labels.get(name)]
    if missing:
        log.warning("ticket %r: the alert group has no label %s; the alert's own ticket annotation is used",
                    template, ", ".join(missing))
        return None
    return PLACEHOLDER.sub(lambda m: labels[m.group(1)], template)


def run_job(job: Job, episode: Episode, config: Config, metrics: ServeMetrics) -> None:
    """Investigates, writes and attaches; every failure is logged and counted, never raised to the worker loop."""
    from inquest.connect import connect
    from inquest.coordinator.investigation import investigate

    group = job.group
    clock = time.perf_counter()
    metrics.investigation_started()
    log.info("group %s: investigation started (attempt %d)", group.key, job.attempts)
    try:
        made = group_incident(group, episode.incident_started, config.alerts)
        incident = made.incident
        deps = connect(config)
        try:
            report = investigate(incident, deps)
        finally:
            for part in (deps.backend, deps.code):
                getattr(part, "close", lambda: None)()
        report = replace(report, notes=report.notes + made.notes + notes_for(job))
        path = write_report(report, config)
        failures = attach(report, route(group, config.serve.routes), config)
    except Exception as exc:  # noqa: BLE001 - the worker boundary: one group's failure must not stop the server
        log.error("group %s: investigation failed: %s: %s", group.key, type(exc).__name__, exc)
        metrics.investigation_ended(time.perf_counter() - clock, ok=False)
        return
    seconds = time.perf_counter() - clock
    metrics.investigation_ended(seconds, ok=True, attach_failures=failures)
    top = report.root_cause
    log.info("group %s: investigation finished in %.1f s: %s %s, report %s: %s", group.key, seconds, incident.id,
             group.status, path, f"root cause {top.summary}" if top else "no root cause found")


def notes_for(job: Job) -> tuple[str, ...]:
    group = job.group
    notes = [f"Alertmanager group {group.key} ({group.receiver or 'no receiver'}): {len(group.firing)} of "
             f"{len(group.alerts)} alerts firing" + (f", {group.truncated} more truncated" if group.truncated else "")]
    if group.status == "resolved":
        at = group.resolved_at
        notes.append("Resolved: Alertmanager reports the alert group resolved"
                     + (f" at {at:%Y-%m-%d %H:%M:%S} UTC." if at else "."))
    if job.attempts > 1:
        notes.append(f"An earlier run of this investigation was interrupted (attempt {job.attempts}).")
    return tuple(notes)


def write_report(report: Report, config: Config) -> Path:
    from inquest.attach.base import report_filename
    from inquest.render import render

    fmt = config.serve.report_format
    path = config.resolve(config.serve.data_dir) / "reports" / report_filename(report, SUFFIX[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render(report, fmt), encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a report
    return path


def attach(report: Report, destination: Destination, config: Config) -> int:
    """Posts to the routed targets; returns how many failed (each logged)."""
    if not destination.targets:
        return 0
    from inquest.attach import attach_report

    with _attach_lock:
        outcomes = attach_report(report, destination.targets, config, destination.tickets)
    for outcome in outcomes:
        if outcome.posted is not None:
            log.info("%s: attached to %s: %s %s", report.incident.id, outcome.target, outcome.posted.action,
                     outcome.posted.where)
        else:
            log.error("%s: attaching failed: %s", report.incident.id, outcome.error)
    return sum(not o.ok for o in outcomes)


class Workers:
    """`concurrency` threads taking jobs from the queue until stopped."""

    def __init__(self, queue: WorkQueue, config: Config, metrics: ServeMetrics) -> None:
        self.queue = queue
        self.config = config
        self.metrics = metrics
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, name=f"serve-worker-{i}", daemon=True)
                         for i in range(config.serve.concurrency)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while True:
            taken = self.queue.take(self._stop)
            if taken is None:
                return
            job, episode = taken
            try:
                run_job(job, episode, self.config, self.metrics)
            finally:
                self.queue.done(job)

    def stop(self, grace_s: float) -> int:
        """No new jobs; running ones get `grace_s` to finish. Returns how many were cut short: they stay in the
        persisted queue and run again on restart."""
        self._stop.set()
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        left = self.queue.close()
        for job in left:
            log.warning("group %s: interrupted by the shutdown; it runs again on restart", job.group.key)
            self.metrics.investigation_interrupted()
        return len(left)
