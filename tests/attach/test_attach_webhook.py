"""--attach webhook against a receiver on 127.0.0.1 that verifies the HMAC signature with the shared secret
and keeps one record per incident, as docs/attach.md tells receivers to."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from inquest.attach import attach_report

from .stand_in import Reply, Request, Sleeps, StandIn, config_with, expect

SECRET = "shared-webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.keys: list[str] = []

    def __call__(self, request: Request) -> Reply:
        expect(request.method == "POST" and request.path == "/hooks/inquest", f"{request.method} {request.path}")
        report = request.json()
        signature = request.headers.get("X-Inquest-Signature-256", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return Reply(401, {"error": "bad signature"})
        expect(report.get("schema_version") == "1" and report["incident"]["id"] == "INC-1042", "not a report")
        incident = request.headers.get("X-Inquest-Incident")
        expect(incident == report["incident"]["id"], "X-Inquest-Incident must name the report's incident")
        key = request.headers.get("Idempotency-Key", "")
        expect(key.startswith("INC-1042:"), "Idempotency-Key must be per incident")
        self.keys.append(key)
        self.records[incident] = report  # upsert: a re-run replaces the incident's record
        return Reply(202, {"accepted": True})


@pytest.fixture
def receiver():
    target = Receiver()
    with StandIn(target) as server:
        yield server, target


def _attach(report, server, tmp_path, secret=SECRET, sleeps=None):
    config = config_with(tmp_path, webhook={"url": f"{server.url}/hooks/inquest"})
    return attach_report(report, ["webhook"], config, environ={"INQUEST_WEBHOOK_SECRET": secret},
                         sleep=sleeps if sleeps is not None else Sleeps())[0]


def test_the_signed_json_report_is_delivered(demo_report, receiver, tmp_path):
    server, target = receiver
    outcome = _attach(demo_report, server, tmp_path)
    assert outcome.ok and outcome.posted.action == "sent"
    assert target.records["INC-1042"]["hypotheses"][0]["change"]["id"] == "dep-orders-2.14.0"
    assert server.problems == []


def test_a_rerun_replaces_the_incidents_record(demo_report, receiver, tmp_path):
    from dataclasses import replace

    server, target = receiver
    _attach(demo_report, server, tmp_path)
    later = replace(demo_report, duration_ms=demo_report.duration_ms + 1)
    _attach(later, server, tmp_path)
    assert list(target.records) == ["INC-1042"]
    assert target.records["INC-1042"]["timing"]["duration_ms"] == later.duration_ms
    assert target.keys[0] != target.keys[1]  # a new delivery, not a retry of the old one


def test_a_retry_after_429_waits_as_asked_and_keeps_its_idempotency_key(demo_report, receiver, tmp_path):
    server, target = receiver
    server.script(Reply(429, {"error": "slow down"}, {"Retry-After": "5"}))
    sleeps = Sleeps()
    assert _attach(demo_report, server, tmp_path, sleeps=sleeps).ok and sleeps == [5.0]
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body and len(target.records) == 1


def test_a_wrong_secret_is_one_clear_error_naming_the_secrets_variable(demo_report, receiver, tmp_path):
    server, target = receiver
    outcome = _attach(demo_report, server, tmp_path, secret="not-the-secret")
    message = str(outcome.error)
    assert outcome.error.status == 401 and message.startswith("webhook: 401")
    assert "$INQUEST_WEBHOOK_SECRET" in message and "/hooks/inquest" in message and "not-the-secret" not in message
    assert target.records == {} and len(server.requests) == 1

