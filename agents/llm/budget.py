"""Per-investigation caps on what the model may spend: tokens, dollars, tool calls and wall time.

Model calls run in parallel (one crew per specialist), so a call is admitted against what is left after
the calls already in flight have reserved their worst case (input plus the most output they may
produce); when it settles, the reservation is replaced by what the API reported. A call is never sent
that could take the spend past a cap: its `max_tokens` is lowered to what is left, and when too little is
left for a useful answer the budget stops. Once stopped — by a cap, or by the model service failing — it
stays stopped, and every later call or tool call is refused at once: the LLM work winds down and the best
report so far is returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from inquest.config import LLMBudgets, ModelPrice
from inquest.errors import InquestError

# Below this many output tokens an answer cannot hold a ranking; stopping is better than a truncated reply.
MIN_OUTPUT_TOKENS = 256


class LLMStopped(InquestError):
    """The LLM work stopped: a budget was reached or the model service failed. Never retried."""


class BudgetExhausted(LLMStopped):
    pass


class ModelServiceError(LLMStopped):
    pass


@dataclass(frozen=True)
class Reservation:
    input_tokens: int
    max_tokens: int  # what the call may produce: the request's max_tokens, possibly lowered
    dollars: float


@dataclass(frozen=True)
class Spend:
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    tool_calls: int


class Budget:
    def __init__(self, limits: LLMBudgets, price: ModelPrice, clock: Callable[[], float] = time.monotonic,
                 started: float | None = None) -> None:
        self.limits = limits
        self.price = price
        self._clock = clock
        self._deadline = (clock() if started is None else started) + limits.wall_seconds  # started: on clock's scale
        self._lock = threading.Lock()
        self._calls = self._input = self._output = self._tools = 0
        self._dollars = 0.0
        self._reserved_tokens = 0
        self._reserved_dollars = 0.0
        self.stop_reason: str | None = None
        self.stopped_by_budget = False  # as opposed to the model service failing
        # Seconds spent waiting on the model service, per thread: an agent's calls are sequential within
        # its thread, the agents parallel, so the longest thread is the model's share of the stage's wall.
        # Keyed by the thread itself, not its ident: a finished thread's ident is given to the next one.
        self._waited: dict[threading.Thread, float] = {}

    # -- state ---------------------------------------------------------------------------------------
    def remaining_seconds(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def spend(self) -> Spend:
        with self._lock:
            return Spend(self._calls, self._input, self._output, round(self._dollars, 6), self._tools)

    def stop(self, reason: str, by_budget: bool) -> None:
        with self._lock:
            self._stop_locked(reason, by_budget)

    def _stop_locked(self, reason: str, by_budget: bool) -> None:
        if self.stop_reason is None:  # the first reason is the one that explains the report
            self.stop_reason = reason
            self.stopped_by_budget = by_budget

    def check(self) -> None:
        """Raises when the LLM work has stopped or the wall-time budget is spent."""
        with self._lock:
            self._check_locked()

    def _check_locked(self) -> None:
        if self.stop_reason is None and self._clock() >= self._deadline:
            self._stop_locked(f"the wall-time budget ({self.limits.wall_seconds:g} s) ran out", by_budget=True)
        if self.stop_reason is not None:
            error = BudgetExhausted if self.stopped_by_budget else ModelServiceError
            raise error(f"LLM work stopped: {self.stop_reason}")

    # -- model calls ---------------------------------------------------------------------------------
    def headroom(self) -> int:
        """Tokens left for new calls after what is spent and reserved."""
        with self._lock:
            return self.limits.tokens - self._input - self._output - self._reserved_tokens

    def admit(self, input_tokens: int, max_tokens: int) -> Reservation:
        """Reserves a call of `input_tokens` asking for up to `max_tokens`; lowers max_tokens to what the
        token and dollar budgets still allow, or stops the budget when that is too little."""
        per_in, per_out = self.price.input_per_mtok / 1e6, self.price.output_per_mtok / 1e6
        with self._lock:
            self._check_locked()
            tokens_left = self.limits.tokens - self._input - self._output - self._reserved_tokens - input_tokens
            dollars_left = self.limits.dollars - self._dollars - self._reserved_dollars - input_tokens * per_in
            affordable = int(dollars_left / per_out) if per_out > 0 else max_tokens
            allowed = min(max_tokens, tokens_left, affordable)
            if allowed < min(MIN_OUTPUT_TOKENS, max_tokens):
                which = (f"the token budget ({self.limits.tokens:,} tokens)" if tokens_left <= affordable
                         else f"the dollar budget (${self.limits.dollars:g})")
                self._stop_locked(f"{which} would be exceeded by the next model call", by_budget=True)
                self._check_locked()
            reservation = Reservation(input_tokens, allowed, input_tokens * per_in + allowed * per_out)
            self._reserved_tokens += input_tokens + allowed
            self._reserved_dollars += reservation.dollars
            return reservation

    def settle(self, reservation: Reservation, input_tokens: int | None, output_tokens: int | None) -> None:
        """Replaces a reservation with what the call cost; a failed call (None) costs nothing."""
        with self._lock:
            self._reserved_tokens -= reservation.input_tokens + reservation.max_tokens
            self._reserved_dollars -= reservation.dollars
            if input_tokens is None or output_tokens is None:
                return
            self._calls += 1
            self._input += input_tokens
            self._output += output_tokens
            self._dollars += (input_tokens * self.price.input_per_mtok + output_tokens * self.price.output_per_mtok) / 1e6

    def waited(self, seconds: float) -> None:
        """Records one request's round trip to the model service (the caller's thread)."""
        with self._lock:
            me = threading.current_thread()
            self._waited[me] = self._waited.get(me, 0.0) + seconds

    def waits(self) -> dict[threading.Thread, float]:
        """Seconds waited on the model service so far, per thread."""
        with self._lock:
            return dict(self._waited)

    # -- tool calls ----------------------------------------------------------------------------------
    def admit_tool_call(self) -> None:
        with self._lock:
            self._check_locked()
            if self._tools >= self.limits.tool_calls:
                self._stop_locked(f"the tool-call budget ({self.limits.tool_calls} calls) was used up", by_budget=True)
                self._check_locked()
            self._tools += 1
