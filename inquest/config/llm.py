"""config.yaml's `llm:` section: the LLM mode's model, its key's variable, retries, budgets and prices.

Split from the config package's loader so each file holds one idea; `inquest.config` re-exports every
name here.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator

from inquest.config.attach import ENV_NAME
from inquest.config.backends import Section as _Section
from inquest.errors import ConfigError


class ModelPrice(_Section):
    input_per_mtok: float = Field(ge=0)  # US dollars per million input tokens
    output_per_mtok: float = Field(ge=0)


class LLMBudgets(_Section):
    """Per-investigation caps; when one is reached the model's work stops and the best report so far is kept."""

    tokens: int = Field(default=300_000, gt=0)  # input + output, all model calls together
    dollars: float = Field(default=2.0, gt=0)  # priced with llm.prices
    tool_calls: int = Field(default=40, gt=0)
    wall_seconds: float = Field(default=180.0, gt=0)


class LLMConfig(_Section):
    """`--llm claude`: crewai agents backed by Claude review the deterministic findings (docs/llm.md)."""

    provider: Literal["none", "claude"] = "none"  # "claude" turns the LLM mode on, like `--llm claude`
    model: str = "claude-sonnet-4-6"
    max_tokens: int = Field(default=4096, gt=0)  # per model call
    api_key_env: str = Field(default="ANTHROPIC_API_KEY", pattern=ENV_NAME.pattern)  # the key only ever comes from here
    base_url: str | None = None  # None: $ANTHROPIC_BASE_URL, else the Anthropic API
    request_timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0)  # per model call, on 429/529/5xx/timeouts/garbage, with backoff
    max_iterations: int = Field(default=6, ge=1)  # tool-using turns per specialist
    redact_ips: bool = False  # also redact IP addresses, from model requests and from every report
    budgets: LLMBudgets = LLMBudgets()
    # List prices in dollars per million tokens; the model in use must have an entry.
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: {
        "claude-sonnet-4-6": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
        "claude-sonnet-4-5": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
        "claude-opus-4-6": ModelPrice(input_per_mtok=5.0, output_per_mtok=25.0),
        "claude-haiku-4-5": ModelPrice(input_per_mtok=1.0, output_per_mtok=5.0),
    })

    @model_validator(mode="after")
    def _priced(self) -> LLMConfig:
        if self.model not in self.prices:
            raise ValueError(f"prices: no entry for the model {self.model!r}; the dollar budget needs one "
                             f"(known: {', '.join(sorted(self.prices))})")
        return self

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    def api_key(self) -> str:
        """The key, from the environment only; its absence is one clear line saying what to set."""
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise ConfigError(f"the LLM mode (--llm {self.provider}) needs an Anthropic API key: set {self.api_key_env} "
                              "(and ANTHROPIC_BASE_URL to use a proxy), or run without --llm")
        return key
