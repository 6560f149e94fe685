"""SIGTERM with alert groups queued and one running, then a restart: every one of them is investigated and
attached once, and the one cut short says so."""

from __future__ import annotations

import json
import signal

from .conftest import make_serve, notification, wait_for


def test_sigterm_keeps_the_queue_and_a_restart_finishes_all_five(tmp_path, small_world, github):
    server, issue = github
    # No grace: the running investigation is cut short at once, so the test sees it marked interrupted.
    serve = make_serve(tmp_path / "serve", small_world, server.url, concurrency=1, shutdown_grace_s=0)
    names = [f"Restart{i}" for i in range(5)]
    try:
        serve.start()
        for name in names:
            assert serve.post(notification(name)).status_code == 202
        wait_for(lambda: serve.metrics()["inquest_serve_investigations_running"] == 1, 60, "the first investigation")
        # uvicorn exits by the SIGTERM it caught (or 0 once an interrupted job made it leave at once): both are a
        # clean stop to systemd and container runtimes.
        assert serve.stop() in (0, -signal.SIGTERM)

        state = json.loads((serve.folder / "data" / "state.json").read_text())
        attempts = {job["payload"]["groupKey"]: job["attempts"] for job in state["jobs"]}
        done_before = len(list(serve.reports.glob("*.md")))  # on a fast machine the first may have finished
        # None lost: each group is queued, or reported and out of the queue. A job that finishes after the stop
        # has written its report yet stays queued as interrupted (queue.done after close), so it counts once.
        assert len(attempts) == 5 or done_before + len(attempts) == 5
        assert sorted(attempts.values()).count(1) == 1 and set(attempts.values()) <= {0, 1}  # one was running
        interrupted = next(key for key, n in attempts.items() if n == 1).split('"')[1]

        serve.start()
        assert f"{len(attempts)} queued alert groups resumed" in serve.log.read_text()
        wait_for(lambda: len(list(serve.reports.glob("*.md"))) == 5 and serve.idle(), 120,
                 "the five reports after the restart", log=serve.log)
    finally:
        serve.kill()
    ours = {name: [c for c in issue.comments if f"{name} on payments" in c["body"]] for name in names}
    assert {name: len(comments) for name, comments in ours.items()} == dict.fromkeys(names, 1)
    assert "An earlier run of this investigation was interrupted" in ours[interrupted][0]["body"]
    assert server.problems == []
