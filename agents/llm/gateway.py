"""The one network boundary for the model: every request the Anthropic client sends passes through here.

An `anthropic` client middleware (it runs inside the SDK, around each HTTP attempt), installed on the
clients crewai's native Anthropic provider builds. Per model call it:

- refuses at once when the LLM work has stopped (a budget, or the service failed before);
- redacts the whole request body, whatever crewai put in it — the last line of defence behind the
  redacted briefings and tool results;
- admits the call against the budgets, lowering `max_tokens` to what is left; a cheap size estimate
  decides, and when it says the call might not fit, the API's count_tokens gives the exact input size;
- retries 429, 529, 5xx, timeouts and malformed bodies with backoff (honouring retry-after) while the
  wall-time budget allows, then stops the LLM work with the reason: the caller falls back to the
  deterministic report instead of crashing or hanging;
- records the tokens and cost the API reports, and one OpenTelemetry span per call following the GenAI
  semantic conventions (`chat <model>`, gen_ai.* attributes), using the OpenTelemetry API only.

The SDK's own retries are off (max_retries=0) and its own spans too: crewai would otherwise retry a
429 once more on top, and a second span per call would count every call twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from anthropic import APIConnectionError, APITimeoutError
from anthropic._middleware import Middleware  # the SDK's public middleware base, defined there
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from inquest.agents.llm.budget import Budget, BudgetExhausted, ModelServiceError
from inquest.redact import Redactor
from inquest.retry import backoff_seconds, retry_after_from

RETRYABLE = {408, 409, 429, 500, 502, 503, 504, 529}
BACKOFF_S = 0.5  # the first wait without a retry-after; doubles per attempt
MAX_BACKOFF_S = 8.0
_tracer = trace.get_tracer("inquest.agents.llm")


def estimate_tokens(body: dict[str, Any]) -> int:
    """An over-estimate of a request's input tokens: a token is ~4 characters of English, JSON less."""
    return len(json.dumps(body, ensure_ascii=False)) // 3 + 1


def _error_text(response: Any) -> str:
    try:
        payload = json.loads(response.http_response.read())
        error = payload.get("error", {})
        return f"{error.get('type', 'error')}: {error.get('message', '')}"[:200]
    except (ValueError, AttributeError):
        return "no error body"


class ModelGateway(Middleware):
    def __init__(self, budget: Budget, redactor: Redactor, *, retries: int, request_timeout_s: float,
                 count_tokens: Callable[[dict[str, Any]], int] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.budget = budget
        self.redactor = redactor
        self.retries = retries
        self.request_timeout_s = request_timeout_s
        self.count_tokens = count_tokens
        self.sleep = sleep

    def handle(self, request: Any, call_next: Callable[[Any], Any]) -> Any:
        self.budget.check()
        body = self.redactor.value(request.json) if isinstance(request.json, dict) else request.json
        if not str(request.url).endswith("/messages") or not isinstance(body, dict):
            return call_next(request.copy(body=body, timeout=self._timeout()))  # count_tokens: free, not a call
        model = str(body.get("model", "?"))
        with _tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic", "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": model,
        }) as span:
            reservation = self.budget.admit(self._input_tokens(body), int(body.get("max_tokens", 1)))
            body["max_tokens"] = reservation.max_tokens
            span.set_attribute("gen_ai.request.max_tokens", reservation.max_tokens)
            usage: tuple[int, int] | None = None
            try:
                response, payload, attempts = self._send(request.copy(body=body), call_next)
                reported = payload.get("usage") or {}
                # Cache reads and writes count as input at the full input price: an upper bound on the cost
                # (the API bills reads lower and writes higher), and they are tokens the model processed.
                usage = (int(reported.get("input_tokens") or 0) + int(reported.get("cache_read_input_tokens") or 0)
                         + int(reported.get("cache_creation_input_tokens") or 0),
                         int(reported.get("output_tokens") or 0))
                span.set_attributes({
                    "gen_ai.response.id": str(payload.get("id", "")), "gen_ai.response.model": str(payload.get("model", "")),
                    "gen_ai.response.finish_reasons": [str(payload.get("stop_reason"))],
                    "gen_ai.usage.input_tokens": usage[0], "gen_ai.usage.output_tokens": usage[1],
                    "inquest.llm.attempts": attempts})
                return response
            except (BudgetExhausted, ModelServiceError) as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute("error.type", type(exc).__name__)
                raise
            finally:
                self.budget.settle(reservation, *(usage or (None, None)))

    async def handle_async(self, request: Any, call_next: Any) -> Any:
        # Inquest runs its crews synchronously, one thread per agent; the SDK insists that a middleware
        # installed on a client crewai also builds asynchronously has this method.
        raise ModelServiceError("Inquest's model gateway serves synchronous calls only")

    def _timeout(self) -> float:
        return max(0.1, min(self.request_timeout_s, self.budget.remaining_seconds()))

    def _input_tokens(self, body: dict[str, Any]) -> int:
        estimate = estimate_tokens(body)
        # Counting costs a round trip; only when the estimate says the call might not fit is it worth one.
        if self.count_tokens is None or 2 * estimate + int(body.get("max_tokens", 0)) < self.budget.headroom():
            return estimate
        try:
            return self.count_tokens(body)
        except (APIConnectionError, APITimeoutError, ValueError, KeyError) as exc:
            trace.get_current_span().add_event("count_tokens failed; using the estimate", {"error": repr(exc)})
            return estimate

    def _send(self, request: Any, call_next: Callable[[Any], Any]) -> tuple[Any, dict[str, Any], int]:
        """(response, its parsed body, attempts), or raises once the retries or the wall time are spent."""
        failure, attempt = "no attempt made", 0
        for attempt in range(1, self.retries + 2):
            self.budget.check()
            wait: float | None = None
            response, payload, failure = self._attempt(request, call_next)
            if payload is not None:
                return response, payload, attempt
            if response is not None and response.status_code != 200:  # a 200 without a good body: retried
                status = response.status_code
                if status in RETRYABLE:
                    failure = f"HTTP {status} ({_error_text(response)})"
                    wait = retry_after_from(response.headers)
                else:
                    # 400, 401, 403, 404, 413: repeating the request cannot help, and neither can more calls.
                    reason = f"the model service refused the request: HTTP {status} ({_error_text(response)})"
                    self.budget.stop(reason, by_budget=False)
                    raise ModelServiceError(reason)
            if attempt > self.retries:
                break
            wait = wait if wait is not None else backoff_seconds(attempt, base_s=BACKOFF_S, cap_s=MAX_BACKOFF_S, jitter_low=0.75)
            if wait >= self.budget.remaining_seconds():
                failure += f"; retrying after {wait:g} s would overrun the wall-time budget"
                break
            self.sleep(wait)
        self.budget.check()  # a last timeout that was only cut short by the wall-time budget is that budget's stop
        reason = f"the model service failed: {failure}, after {attempt} attempt{'s' if attempt > 1 else ''}"
        self.budget.stop(reason, by_budget=False)
        raise ModelServiceError(reason)

    def _attempt(self, request: Any, call_next: Callable[[Any], Any]) -> tuple[Any, dict[str, Any] | None, str]:
        """One round trip: (response or None, its Messages body when it is a good one, what failed). Its
        wall time is the model service's own latency, recorded apart from what Inquest spends around it."""
        sent = time.perf_counter()
        try:
            response = call_next(request.copy(timeout=self._timeout()))
            payload = self._payload(response) if response.status_code == 200 else None
        except APITimeoutError:
            return None, None, f"no answer within {self._timeout():g} s"
        except APIConnectionError as exc:
            return None, None, f"connection failed ({exc.__class__.__name__})"
        finally:
            self.budget.waited(time.perf_counter() - sent)
        return response, payload, "" if payload is not None else "a malformed response (not a Messages API JSON body)"

    @staticmethod
    def _payload(response: Any) -> dict[str, Any] | None:
        try:
            payload = json.loads(response.http_response.read())
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("type") != "message" or not isinstance(payload.get("content"), list):
            return None
        return payload
