"""The whole path, real except the ticket system: Alertmanager -> `investigate serve` -> a GitHub issue comment."""

from __future__ import annotations

import json

import pytest

from .conftest import TICKET, am_alert, make_serve, notification, start_alertmanager, wait_for


@pytest.fixture(scope="module")
def live(tmp_path_factory, small_world, github):
    server, _issue = github
    folder = tmp_path_factory.mktemp("serve-live")
    serve = make_serve(folder / "serve", small_world, server.url)
    am_server = None
    try:
        serve.start()
        alertmanager, am_server = start_alertmanager(folder / "alertmanager", serve)
        yield serve, alertmanager
    finally:
        if am_server is not None:
            am_server.stop()
        serve.kill()


def _comments_of(issue, alertname: str) -> list[dict]:
    title = f"{alertname} on payments"  # the incident's title: the alerts' summary annotation
    return [c for c in issue.comments if "inquest:report AM-" in c["body"] and title in c["body"]]


def _most_at_once(log: str) -> int:
    """The most investigations running at one time, from the server's log (one process, lines in order)."""
    running = most = 0
    for line in log.splitlines():
        if ": investigation started" in line:
            running += 1
            most = max(most, running)
        elif ": investigation finished" in line or ": investigation failed" in line:
            running -= 1
    return most


def test_an_alert_group_fired_again_and_resolved_keeps_one_updated_comment(live, github):
    serve, alertmanager = live
    server, issue = github
    alertmanager.post(am_alert("PaymentsLatencyHigh", "pay-1"))
    first = wait_for(lambda: _comments_of(issue, "PaymentsLatencyHigh"), 90, f"the report on {TICKET}",
                     log=serve.log)[0]
    assert "1 of 1 alerts firing" in first["body"]
    assert "Resolved" not in first["body"]

    alertmanager.post(am_alert("PaymentsLatencyHigh", "pay-2"))  # joins the group: Alertmanager notifies again
    wait_for(lambda: "2 of 2 alerts firing" in _comments_of(issue, "PaymentsLatencyHigh")[0]["body"], 90,
             "the comment to be updated by the second firing", log=serve.log)

    alertmanager.post(am_alert("PaymentsLatencyHigh", "pay-1", resolved=True),
                      am_alert("PaymentsLatencyHigh", "pay-2", resolved=True))
    wait_for(lambda: "Resolved: Alertmanager reports the alert group resolved" in
             _comments_of(issue, "PaymentsLatencyHigh")[0]["body"], 90, "the comment to say resolved", log=serve.log)

    ours = _comments_of(issue, "PaymentsLatencyHigh")
    assert [c["id"] for c in ours] == [first["id"]]  # one comment, updated in place each time
    # The small world holds spans only from 10:40 (no traces-earlier): the baseline is empty, and the report
    # posted says the verdict is withheld rather than naming a root cause.
    assert "**Inconclusive: the baseline" in ours[0]["body"]
    assert server.problems == []


def test_twenty_alert_groups_at_once_each_investigated_once(live, github):
    serve, alertmanager = live
    server, issue = github
    before = serve.metrics()
    names = [f"Burst{i:02d}" for i in range(20)]
    alertmanager.post(*(am_alert(name, "pay-1") for name in names))

    wait_for(lambda: all(_comments_of(issue, n) for n in names) and serve.idle(), 120,
             "twenty reports attached", log=serve.log)
    after = serve.metrics()
    assert {n: len(_comments_of(issue, n)) for n in names} == dict.fromkeys(names, 1)
    started = after["inquest_serve_investigations_started_total"] - before["inquest_serve_investigations_started_total"]
    finished = after["inquest_serve_investigations_finished_total"] - before["inquest_serve_investigations_finished_total"]
    assert (started, finished) == (20, 20)  # none twice, none failed
    assert _most_at_once(serve.log.read_text()) == 2  # the limit held, and was used
    ids = {c["id"] for n in names for c in _comments_of(issue, n)}
    patched = [r for r in server.requests if r.method == "PATCH" and any(r.path.endswith(f"/{i}") for i in ids)]
    assert patched == []
    assert server.problems == []


MALFORMED = {
    "not JSON": b"{'version': '4'",
    "not UTF-8": b"\xff\xfe\x00{",
    "a JSON list": b"[]",
    "an unknown payload version": json.dumps({**notification("Bad"), "version": "3"}).encode(),
    "no group key": json.dumps({k: v for k, v in notification("Bad").items() if k != "groupKey"}).encode(),
    "no alerts": json.dumps({**notification("Bad"), "alerts": []}).encode(),
    "a status that is neither firing nor resolved": json.dumps({**notification("Bad"), "status": "burning"}).encode(),
    "an alert start that is not a time": json.dumps(
        {**notification("Bad"), "alerts": [{**notification("Bad")["alerts"][0], "startsAt": "yesterday"}]}).encode(),
    "a label value that is not a string": json.dumps(
        {**notification("Bad"), "commonLabels": {"service": 7}}).encode(),
    "an alert with neither a summary nor an alertname": json.dumps(
        {**notification("Bad"), "commonLabels": {}, "alerts": [
            {**notification("Bad")["alerts"][0], "labels": {"service": "payments"}, "annotations": {}}]}).encode(),
    "a body of 5 MB": b'{"version": "4", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_notification_gets_400_with_one_line_and_the_server_keeps_serving(live, kind):
    serve, _alertmanager = live
    response = serve.post(MALFORMED[kind])
    assert response.status_code == 400, response.text
    assert response.text.startswith("bad request: ") and response.text.count("\n") == 1
    assert "Traceback" not in serve.log.read_text(errors="replace")
    health = serve.metrics()
    assert health["inquest_serve_notifications_total{outcome=\"rejected\"}"] >= 1


def test_a_notification_without_the_token_is_refused_and_a_good_one_still_queued(live):
    serve, _alertmanager = live
    assert serve.post(notification("Unauthorised"), token=None).status_code == 401
    assert serve.post(notification("Unauthorised"), token="wrong").status_code == 401
    accepted = serve.post(notification("AfterTheBadOnes"))
    assert accepted.status_code == 202 and accepted.json()["outcome"] == "queued"


def test_a_ticket_that_cannot_be_reached_keeps_the_report_on_disk_and_the_server_serving(live, github):
    serve, _alertmanager = live
    server, issue = github
    before = serve.metrics()["inquest_serve_attach_failures_total"]
    body = notification("Unroutable")
    body["commonLabels"]["team"] = "elsewhere"
    assert serve.post(body).status_code == 202
    wait_for(lambda: serve.metrics()["inquest_serve_attach_failures_total"] == before + 1, 60,
             "the failed attachment to be counted", log=serve.log)
    reports = [p for p in serve.reports.glob("*.md") if "Unroutable on payments" in p.read_text()]
    assert len(reports) == 1  # written before anything was posted
    assert "acme/shop#999" in serve.log.read_text()  # the log names the ticket that failed
    assert not _comments_of(issue, "Unroutable")
    assert serve.post(notification("StillServing")).status_code == 202
