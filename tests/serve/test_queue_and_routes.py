"""The queue's deduplication and persistence, and the routing table, without a server (a fake clock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from inquest.config import ServeRoute, parse_config
from inquest.errors import ConfigError
from inquest.serve.payload import group_incident, parse_group
from inquest.serve.queue import QueueFull, WorkQueue
from inquest.serve.worker import route

from .conftest import ALERT_START, notification

QUIET_S = 300.0


class Clock:
    def __init__(self) -> None:
        self.now = ALERT_START.timestamp() + 3600  # an hour after the test alerts started firing

    def __call__(self) -> float:
        return self.now


def _queue(tmp_path, capacity=10):
    clock = Clock()
    return WorkQueue(tmp_path / "state.json", capacity, QUIET_S, clock), clock


def _run(queue):
    job, episode = queue.take(threading.Event(), poll_s=0.01)
    queue.done(job)
    return job, episode


def test_a_flapping_group_costs_one_investigation_per_quiet_period(tmp_path):
    queue, clock = _queue(tmp_path)
    assert queue.offer(parse_group(notification("Flap"))) == "queued"
    _run(queue)
    clock.now += 10
    assert queue.offer(parse_group(notification("Flap"))) == "duplicate"  # the same alerts again: nothing new
    assert queue.offer(parse_group(notification("Flap", ("pay-1", "pay-2")))) == "deferred"
    assert queue.offer(parse_group(notification("Flap", ("pay-1", "pay-3")))) == "merged"
    assert queue.depth() == 1
    stop = threading.Event()
    stop.set()
    assert queue.take(stop) is None  # deferred: not before the quiet period ends
    clock.now += QUIET_S
    job, _ = _run(queue)
    assert {a.labels["instance"] for a in job.group.alerts} == {"pay-1", "pay-3"}  # the newest state of the group


def test_a_resolve_is_never_held_back_and_ends_the_episode(tmp_path):
    queue, clock = _queue(tmp_path)
    queue.offer(parse_group(notification("Ends")))
    _, first = _run(queue)
    clock.now += 5
    assert queue.offer(parse_group(notification("Ends", status="resolved"))) == "queued"
    job, episode = _run(queue)
    assert job.group.status == "resolved" and episode is first  # the same incident, its report updated
    clock.now += 5
    queue.offer(parse_group(notification("Ends")))  # fires again after resolving: a new episode, a new incident
    _, later = _run(queue)
    assert later is not first


def test_a_group_whose_alerts_all_started_after_its_last_investigation_is_a_new_incident(tmp_path):
    # Alertmanager without send_resolved: the resolve never arrives, the next firing must not reopen the old report.
    queue, clock = _queue(tmp_path)
    queue.offer(parse_group(notification("Unresolved")))
    _, first = _run(queue)
    clock.now += QUIET_S + 1
    again = notification("Unresolved")
    again["alerts"][0]["startsAt"] = datetime.fromtimestamp(clock.now - 30, UTC).isoformat()
    queue.offer(parse_group(again))
    _, later = _run(queue)
    assert later is not first and later.incident_started > first.incident_started


def test_a_full_queue_refuses_and_a_restart_resumes_what_was_waiting(tmp_path):
    queue, _ = _queue(tmp_path, capacity=2)
    queue.offer(parse_group(notification("A")))
    queue.offer(parse_group(notification("B")))
    with pytest.raises(QueueFull):
        queue.offer(parse_group(notification("C")))
    queue.take(threading.Event())  # A is running when the process stops
    assert [job.group.key for job in queue.close()] == ['{}:{alertname="A"}']

    again, _ = _queue(tmp_path, capacity=2)
    assert again.load() == 2
    job, _ = again.take(threading.Event())
    assert job.attempts == 2  # its first run was interrupted: the report will say so


def test_the_incident_id_is_the_groups_for_the_whole_episode(tmp_path):
    first = group_incident(parse_group(notification("Same"))).incident
    later = group_incident(parse_group(notification("Same", ("pay-1", "pay-2")))).incident
    other = group_incident(parse_group(notification("Other"))).incident
    assert first.id == later.id != other.id
    assert first.service == "payments" and first.title == "Same on payments"


def test_routes_pick_targets_and_tickets_by_label():
    routes = (ServeRoute(match={"service": "checkout"}, attach=("slack",)),
              ServeRoute(match_re={"alertname": "Pay.*"}, attach=("github",), ticket="acme/{service}#{issue}", stop=False),
              ServeRoute(attach=("webhook",)))
    group = parse_group({**notification("PaymentsDown"), "commonLabels": {"service": "payments", "issue": "77",
                                                                          "alertname": "PaymentsDown"}})
    chosen = route(group, routes)
    assert chosen.targets == ("github", "webhook") and chosen.tickets == ("acme/payments#77",)


def test_a_route_naming_an_unknown_target_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="serve.routes.0.attach.*unknown attach target.*pagerduty"):
        parse_config("serve:\n  routes:\n    - attach: [pagerduty]\n", "config.yaml", tmp_path)
    with pytest.raises(ConfigError, match="serve.token: secrets may not be written"):
        parse_config("serve:\n  token: hunter2\n", "config.yaml", tmp_path)


def test_serving_beyond_loopback_without_a_token_is_refused_before_listening(tmp_path):
    from inquest.commands.serve import main

    (tmp_path / "config.yaml").write_text("backend:\n  embedded:\n    demo: false\n")
    with pytest.raises(ConfigError, match="serve.token: listening on 0.0.0.0 .*needs a bearer token"):
        main(["--config", str(tmp_path / "config.yaml"), "--listen", "0.0.0.0:8087"])


def _workers_with(monkeypatch, tmp_path, job_body):
    from inquest.config import Config, ServeConfig
    from inquest.serve import worker
    from inquest.serve.metrics import ServeMetrics

    monkeypatch.setattr(worker, "run_job", lambda *_args: job_body())
    queue, _ = _queue(tmp_path)
    workers = worker.Workers(queue, Config(base_dir=tmp_path, serve=ServeConfig(concurrency=1)), ServeMetrics())
    queue.offer(parse_group(notification("Busy")))
    return queue, workers


def _persisted(tmp_path):
    import json

    return [(job["payload"]["groupKey"], job["attempts"]) for job in json.loads((tmp_path / "state.json").read_text())["jobs"]]


def test_a_stop_lets_the_running_investigation_finish_within_the_grace(monkeypatch, tmp_path):
    started, release = threading.Event(), threading.Event()
    queue, workers = _workers_with(monkeypatch, tmp_path, lambda: (started.set(), release.wait(30)))
    workers.start()
    assert started.wait(30)
    threading.Timer(0.2, release.set).start()  # finishes while stop is waiting for it
    assert workers.stop(grace_s=30) == 0
    assert _persisted(tmp_path) == []


def test_a_stop_past_the_grace_keeps_the_running_job_as_interrupted(monkeypatch, tmp_path):
    started, release = threading.Event(), threading.Event()
    queue, workers = _workers_with(monkeypatch, tmp_path, lambda: (started.set(), release.wait(30)))
    workers.start()
    assert started.wait(30)
    assert workers.stop(grace_s=0) == 1
    release.set()  # it finishes after the shutdown: too late to drop it from the persisted queue
    workers._threads[0].join(30)
    assert _persisted(tmp_path) == [('{}:{alertname="Busy"}', 1)]


def test_an_investigation_that_cannot_run_is_counted_failed_not_raised(tmp_path, caplog):
    from inquest.config import BackendConfig, Config, EmbeddedBackend
    from inquest.serve.metrics import ServeMetrics
    from inquest.serve.worker import run_job

    config = Config(base_dir=tmp_path, backend=BackendConfig(embedded=EmbeddedBackend(path=tmp_path / "gone.duckdb",
                                                                                      demo=False)))
    queue, _ = _queue(tmp_path)
    queue.offer(parse_group(notification("NoStore")))
    job, episode = queue.take(threading.Event())
    metrics = ServeMetrics()
    run_job(job, episode, config, metrics)
    assert (metrics.started, metrics.finished, metrics.failed) == (1, 0, 1)
    assert "investigation failed: ConfigError: no store: " in caplog.text  # one line naming what is missing
    assert "inquest_serve_investigations_failed_total 1" in metrics.exposition(queue.depth(), queue.running())
