"""Redaction: a corpus of planted secrets of every kind, each in the kind of line production leaks it
in, must come out without the secret; what an investigation is made of must come out unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from secret_corpus import CORPUS, ORDINARY

from inquest.redact import Redactor, describe, redact, redact_report

# (kind, the secret itself, a line that carries it)
PLANTED: tuple[tuple[str, str, str], ...] = tuple((p.kind, p.secret, p.line) for p in CORPUS)
UNTOUCHED = ORDINARY


def test_the_corpus_is_large_and_varied():
    assert len(CORPUS) >= 60 and len({p.shape for p in CORPUS}) >= 20


@pytest.mark.parametrize("kind,secret,line", PLANTED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PLANTED)])
def test_every_planted_secret_is_redacted_and_counted_as_its_kind(kind, secret, line):
    cleaned, counts = redact(line)
    assert secret not in cleaned
    assert f"[REDACTED:{kind}]" in cleaned
    assert counts[kind] >= 1


@pytest.mark.parametrize("line", UNTOUCHED)
def test_what_an_investigation_is_made_of_is_left_alone(line):
    assert redact(line) == (line, {})


def test_a_connection_string_keeps_its_scheme_and_host():
    cleaned, _ = redact("connecting to postgresql://orders_app:pw-123456@orders-db.internal:5432/orders?sslmode=require")
    assert cleaned == ("connecting to postgresql://[REDACTED:connection_string]@orders-db.internal:5432/orders"
                       "?sslmode=require")


def test_ip_addresses_only_when_asked():
    line = "client 203.0.113.7 via 10.0.0.5. and 2001:db8::8a2e:370:7334 at 13:58:00, version 1.2.3"
    assert redact(line)[0] == line
    cleaned, counts = redact(line, ips=True)
    assert cleaned == "client [REDACTED:ip] via [REDACTED:ip]. and [REDACTED:ip] at 13:58:00, version 1.2.3"
    assert counts["ip"] == 3


def test_the_demo_worlds_planted_secrets_are_all_caught():
    from inquest.evals.sim.planted import ORDERS_DSN, PLANTED_SECRETS, SESSION_TOKENS, STRIPE_KEY

    lines = [f"connecting to {ORDERS_DSN}", f"POST https://api.stripe.com/v1/charges Authorization: Bearer {STRIPE_KEY}",
             *(f"rejected session token {t}: signature verification failed" for t in SESSION_TOKENS),
             *(f"sending order confirmation to {s}" for s in PLANTED_SECRETS if "@" in s)]
    text = "\n".join(lines)
    cleaned, _ = redact(text)
    assert [s for s in PLANTED_SECRETS if s in cleaned] == []


def test_redacting_a_report_reaches_every_string_and_keeps_ids_and_types(demo_world):
    from conftest import deps_for

    from inquest.coordinator.investigation import investigate
    from inquest.core import ChangeRef, Evidence, RankedHypothesis, Report

    deps = deps_for(demo_world)
    incident = next(i for i in deps.backend.incidents() if i.id == demo_world.incident_id)
    report = investigate(incident, deps)
    leaky = Evidence(id="trace-99", agent="trace", source="telemetry:logs", query="SELECT * FROM logs",
                     summary="login for jane.doe@example.com with password=hunter22",
                     data={"rows": [{"body": "Bearer abcdef0123456789ABCDEF"}], "at": datetime.now(UTC)})
    hypothesis = RankedHypothesis(rank=1, summary="key sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked", service="payments",
                                  confidence=0.9, evidence=("trace-99",), change=ChangeRef(id="dep-x", kind="deploy"))
    dirty = Report(**{**report.__dict__, "evidence": report.evidence + (leaky,),
                      "hypotheses": (hypothesis,) + report.hypotheses,
                      "notes": ("mail ops@acme.io",)})
    clean, counts = redact_report(dirty)
    from inquest.render.json_report import render_json

    text = render_json(clean)
    for secret in ("jane.doe@example.com", "hunter22", "abcdef0123456789ABCDEF", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                   "ops@acme.io"):
        assert secret not in text
    assert counts["email"] >= 2 and counts["password"] == 1
    assert clean.hypotheses[0].evidence == ("trace-99",) and clean.hypotheses[0].change.id == "dep-x"
    assert [e.id for e in clean.evidence] == [e.id for e in dirty.evidence]
    assert isinstance(clean.evidence[-1].data["at"], datetime)
    assert clean.root_cause == clean.hypotheses[0]


def test_redactor_counts_across_values_and_describes_them():
    redactor = Redactor()
    assert redactor.value(["to a@b.io", ("c@d.io", {"k": "password=xyzzy1"})]) == \
        ["to [REDACTED:email]", ("[REDACTED:email]", {"k": "password=[REDACTED:password]"})]
    assert describe(redactor.counts) == "1 password, 2 email addresses"


def test_redacting_twice_changes_nothing_and_counts_nothing():
    text = "\n".join(line for _, _, line in PLANTED)
    once, _ = redact(text, ips=True)
    assert redact(once, ips=True) == (once, {})


@pytest.mark.parametrize("kind,secret,line", PLANTED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PLANTED)])
def test_secrets_inside_a_json_string_are_redacted_and_the_json_stays_valid(kind, secret, line):
    """Tool results and request bodies carry log lines as JSON strings, quotes escaped."""
    cleaned, counts = redact(json.dumps({"example": line, "count": 3}))
    assert secret not in cleaned and json.dumps(secret)[1:-1] not in cleaned
    assert json.loads(cleaned)["count"] == 3 and counts[kind] >= 1


def test_ip_addresses_leave_every_report_when_the_config_says_so(demo_world):
    from dataclasses import replace

    from conftest import deps_for

    from inquest.config import LLMConfig
    from inquest.coordinator.investigation import investigate
    from inquest.render.json_report import render_json

    class LeakyBackend:
        def __init__(self, backend):
            self._backend = backend

        def __getattr__(self, name):
            return getattr(self._backend, name)

        def error_origins(self, window):
            table = self._backend.error_origins(window)
            at = table.columns.index("message")
            return replace(table, rows=tuple(r[:at] + (f"{r[at]} from 203.0.113.7",) + r[at + 1:] for r in table.rows))

    deps = deps_for(demo_world)
    deps = replace(deps, backend=LeakyBackend(deps.backend))
    incident = next(i for i in deps.backend.incidents() if i.id == demo_world.incident_id)
    assert "203.0.113.7" in render_json(investigate(incident, deps))
    quiet = replace(deps, config=deps.config.model_copy(update={"llm": LLMConfig(redact_ips=True)}))
    report = investigate(incident, quiet)
    assert "203.0.113.7" not in render_json(report)
    assert report.mode == "deterministic" and any(n.startswith("redacted ") and "IP address" in n for n in report.notes)


def test_a_report_counts_what_was_redacted_at_the_source_too():
    """The store redacts log lines before templating; the report's note still says what it holds redacted."""
    _, counts = redact_report(["rejected session token [REDACTED:jwt]: expired", "key [REDACTED:api_key] and a@b.io"])
    assert counts == {"jwt": 1, "api_key": 1, "email": 1}
    assert describe(counts) == "1 JWT, 1 API key, 1 email address"
