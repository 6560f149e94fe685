"""SIGTERM with alert groups still queued, then a restart: every one of them is investigated and attached."""

from __future__ import annotations

import json
import signal

from .conftest import make_serve, notification, wait_for


def test_sigterm_keeps_the_queue_and_a_restart_finishes_all_five(tmp_path, small_world, github):
    server, issue = github
    serve = make_serve(tmp_path / "serve", small_world, server.url, concurrency=1)
    names = [f"Restart{i}" for i in range(5)]
    try:
        serve.start()
        for name in names:
            assert serve.post(notification(name)).status_code == 202
        # SIGTERM: the running investigation finishes, the rest is kept; uvicorn then exits by the signal it
        # caught, which systemd and container runtimes count as a clean stop.
        assert serve.stop() in (0, -signal.SIGTERM)

        state = json.loads((serve.folder / "data" / "state.json").read_text())
        kept = [job["payload"]["groupKey"] for job in state["jobs"]]
        assert kept, "every group was investigated before SIGTERM: the test proved nothing about the queue"
        done_before = len(list(serve.reports.glob("*.md")))
        assert done_before + len(kept) == 5

        serve.start()
        assert f"{len(kept)} queued alert groups resumed" in serve.log.read_text()
        wait_for(lambda: len(list(serve.reports.glob("*.md"))) == 5 and serve.idle(), 90,
                 "the five reports after the restart", log=serve.log)
    finally:
        serve.kill()
    ours = {name: [c for c in issue.comments if f"{name} on payments" in c["body"]] for name in names}
    assert {name: len(comments) for name, comments in ours.items()} == dict.fromkeys(names, 1)
    assert server.problems == []
