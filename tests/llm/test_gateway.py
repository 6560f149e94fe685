"""The model gateway, driven by the real `anthropic` client against the scripted Messages API server:
redaction of what is sent, budgets, retries with backoff, failures that stop the work, GenAI spans."""

from __future__ import annotations

import json
import re

import anthropic
import pytest
from test_redact import PLANTED

from inquest.agents.llm.budget import Budget, BudgetExhausted, ModelServiceError
from inquest.agents.llm.gateway import ModelGateway
from inquest.config import LLMBudgets, ModelPrice
from inquest.redact import Redactor
from llm.anthropic_server import API_KEY, Garbage, Slow, Status, Text

MODEL = "claude-sonnet-4-6"
PRICE = ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:  # recorded, not slept: backoff is asserted, not waited for
        self.append(seconds)


def client_for(server, budget: Budget, *, retries: int = 2, timeout: float = 30.0, count=None, sleeps=None):
    gateway = ModelGateway(budget, Redactor(), retries=retries, request_timeout_s=timeout, count_tokens=count,
                           sleep=sleeps if sleeps is not None else Sleeps())
    return anthropic.Anthropic(api_key=API_KEY, base_url=server.url, max_retries=0, open_telemetry=False,
                               middleware=[gateway])


def ask(client, text: str = "hello", max_tokens: int = 1024):
    return client.messages.create(model=MODEL, max_tokens=max_tokens, messages=[{"role": "user", "content": text}],
                                  system="You are a test.")


def test_every_planted_secret_is_redacted_from_the_request_body(serve):
    server = serve([Text("ok")])
    budget = Budget(LLMBudgets(), PRICE)
    corpus = "\n".join(line for _, _, line in PLANTED)
    reply = ask(client_for(server, budget), corpus)
    assert reply.content[0].text == "ok"
    body = server.messages_requests()[0].all_text()
    leaked = [secret for _, secret, _ in PLANTED if secret in body or json.dumps(secret)[1:-1] in body]
    assert leaked == []
    assert "[REDACTED:jwt]" in body and server.violations == []


def test_usage_and_cost_are_what_the_api_reported(serve):
    server = serve([Text("one", output_tokens=100), Text("two", output_tokens=50)])
    budget = Budget(LLMBudgets(), PRICE)
    client = client_for(server, budget)
    first, second = ask(client), ask(client)
    spend = budget.spend()
    assert spend.llm_calls == 2
    assert spend.output_tokens == 150
    assert spend.input_tokens == first.usage.input_tokens + second.usage.input_tokens
    assert spend.cost_usd == pytest.approx((spend.input_tokens * 3 + 150 * 15) / 1e6)


def test_max_tokens_is_lowered_to_what_the_budget_has_left_counting_tokens_exactly_near_the_cap(serve):
    server = serve([Text("ok")])
    counted = []

    def count(body):  # the API's count_tokens, through the SDK, on the redacted body
        counted.append(body)
        return anthropic.Anthropic(api_key=API_KEY, base_url=server.url, max_retries=0, open_telemetry=False) \
            .messages.count_tokens(model=body["model"], messages=body["messages"], system=body["system"]).input_tokens

    budget = Budget(LLMBudgets(tokens=1000), PRICE)
    ask(client_for(server, budget, count=count), max_tokens=4096)
    sent = server.messages_requests()[0].body
    exact = server.count_requests()[0]
    assert counted and exact.body["model"] == MODEL and "max_tokens" not in exact.body
    assert sent["max_tokens"] < 1000
    assert budget.spend().input_tokens + budget.spend().output_tokens <= 1000
    assert server.violations == []


def test_429_with_retry_after_is_retried_after_the_time_the_service_asked_for(serve):
    server = serve([Status(429, retry_after=0.25), Status(529), Text("finally")])
    sleeps = Sleeps()
    reply = ask(client_for(server, Budget(LLMBudgets(), PRICE), sleeps=sleeps))
    assert reply.content[0].text == "finally"
    assert sleeps[0] == 0.25 and 0 < sleeps[1] <= 1.0  # the second wait: our backoff
    bodies = [r.body for r in server.messages_requests()]
    assert len(bodies) == 3 and bodies[0] == bodies[2]


@pytest.mark.parametrize("reply, says", [
    (Status(529), "HTTP 529 (overloaded_error"),
    (Status(500), "HTTP 500 (api_error"),
    (Garbage(), "malformed response"),
    (Garbage(b'{"type": "message", "content": "not a list"}'), "malformed response"),
])
def test_a_service_that_keeps_failing_stops_the_llm_work_after_the_retries(serve, reply, says):
    server = serve(lambda request: reply)
    budget = Budget(LLMBudgets(), PRICE)
    client = client_for(server, budget, retries=2)
    with pytest.raises(ModelServiceError, match=re.escape(says)):
        ask(client)
    assert len(server.messages_requests()) == 3
    with pytest.raises(ModelServiceError):  # refused at once: no fourth request
        ask(client)
    assert len(server.messages_requests()) == 3
    assert budget.spend().llm_calls == 0 and not budget.stopped_by_budget


def test_a_slow_service_times_out_and_is_retried_then_given_up(serve):
    server = serve([Slow(30), Slow(30)])
    budget = Budget(LLMBudgets(), PRICE)
    with pytest.raises(ModelServiceError, match="no answer within"):
        ask(client_for(server, budget, retries=1, timeout=0.3))
    assert len(server.messages_requests()) == 2


def test_a_retry_after_longer_than_the_wall_budget_gives_up_instead_of_waiting(serve):
    server = serve([Status(429, retry_after=3600)])
    sleeps = Sleeps()
    with pytest.raises(ModelServiceError, match="wall-time budget"):
        ask(client_for(server, Budget(LLMBudgets(wall_seconds=60), PRICE), sleeps=sleeps))
    assert sleeps == [] and len(server.messages_requests()) == 1


def test_a_request_the_service_refuses_is_not_repeated(serve):
    server = serve([Status(400), Text("never")])
    with pytest.raises(ModelServiceError, match="refused the request: HTTP 400"):
        ask(client_for(server, Budget(LLMBudgets(), PRICE)))
    assert len(server.messages_requests()) == 1


def test_once_a_budget_stops_the_work_nothing_more_is_sent(serve):
    server = serve([Text("ok")])
    budget = Budget(LLMBudgets(tool_calls=1), PRICE)
    budget.admit_tool_call()
    with pytest.raises(BudgetExhausted):
        budget.admit_tool_call()
    with pytest.raises(BudgetExhausted, match="tool-call budget"):
        ask(client_for(server, budget))
    assert server.requests == []


def test_each_model_call_is_one_genai_span(serve, tmp_path):
    from inquest.tracing import TraceSession

    server = serve([Status(529), Text("ok", output_tokens=7)])
    with TraceSession(tmp_path / "spans.json", environ={}):
        ask(client_for(server, Budget(LLMBudgets(), PRICE)))
    spans = [s for r in json.loads((tmp_path / "spans.json").read_text())["resourceSpans"]
             for sc in r["scopeSpans"] for s in sc["spans"]]
    chat = [s for s in spans if s["name"] == f"chat {MODEL}"]
    assert len(chat) == 1
    attributes = {a["key"]: next(iter(a["value"].values())) for a in chat[0]["attributes"]}
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.system"] == attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.usage.output_tokens"] == "7"
    assert int(attributes["gen_ai.usage.input_tokens"]) > 0
    assert attributes["inquest.llm.attempts"] == "2"
    assert chat[0]["kind"] == 3  # CLIENT
