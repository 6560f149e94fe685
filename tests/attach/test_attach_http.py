"""The shared client every target uses: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from inquest.attach.http import ApiClient
from inquest.errors import AttachError
from inquest.retry import retry_after_seconds

from .stand_in import Reply, Request, Sleeps, StandIn


def _ok(request: Request) -> Reply:
    return Reply(200, {"ok": True, "path": request.path})


@pytest.fixture
def server():
    with StandIn(_ok) as stand_in:
        yield stand_in


def _client(sleeps, **settings):
    return ApiClient("example", sleep=sleeps, **{"timeout_s": 5.0, "retries": 3, "max_wait_s": 30.0, **settings})


def test_retry_after_as_seconds_or_as_an_http_date():
    now = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_server_errors_are_retried_with_growing_waits_until_one_succeeds(server):
    server.script(Reply(502, "bad gateway"), Reply(503, "unavailable"))
    sleeps = Sleeps()
    with _client(sleeps) as client:
        assert client.json("GET", f"{server.url}/thing", what="a thing") == {"ok": True, "path": "/thing"}
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_it_gives_up_after_the_configured_retries_naming_the_target_and_the_request(server):
    server.script(*[Reply(500, "boom")] * 5)
    sleeps = Sleeps()
    with _client(sleeps, retries=2) as client, pytest.raises(AttachError) as failure:
        client.request("POST", f"{server.url}/things", what="a new thing")
    assert str(failure.value).startswith("example: POST http://127.0.0.1:") and "a new thing" in str(failure.value)
    assert "still failing after 3 attempts (HTTP 500)" in str(failure.value) and len(sleeps) == 2


def test_a_retry_after_beyond_the_wait_budget_fails_at_once_instead_of_hanging(server):
    server.script(Reply(429, "slow down", {"Retry-After": "3600"}))
    sleeps = Sleeps()
    with _client(sleeps, max_wait_s=60) as client, pytest.raises(AttachError) as failure:
        client.request("GET", f"{server.url}/x", what="x")
    assert "would exceed the 60 s retry budget" in str(failure.value) and sleeps == []


def test_other_client_errors_are_not_retried_and_quote_what_the_server_said(server):
    server.script(Reply(422, {"message": "Validation Failed: body is too long"}))
    sleeps = Sleeps()
    with _client(sleeps) as client, pytest.raises(AttachError) as failure:
        client.request("POST", f"{server.url}/x", what="x")
    assert failure.value.status == 422 and "body is too long" in str(failure.value) and sleeps == []


def test_a_refused_connection_is_retried_then_reported():
    sleeps = Sleeps()
    # Port 9 on loopback: nothing listens there, so every attempt is refused.
    with _client(sleeps, retries=1) as client, pytest.raises(AttachError) as failure:
        client.request("GET", "http://127.0.0.1:9/x", what="x")
    assert "ConnectError" in str(failure.value) and len(sleeps) == 1


def test_an_answer_that_is_not_json_is_an_attach_error(server):
    server.script(Reply(200, "<html>proxy login</html>"))
    with _client(Sleeps()) as client, pytest.raises(AttachError) as failure:
        client.json("GET", f"{server.url}/x", what="the comments")
    assert "the comments: expected JSON" in str(failure.value) and "proxy login" in str(failure.value)
