"""How long to wait before retrying an HTTP call: one rule for attach targets and the LLM gateway.

Retry-After is honoured in both of its forms (RFC 9110 §10.2.3: delta-seconds or an HTTP date), and Anthropic's
millisecond `retry-after-ms` before it when present. Without one, waits grow exponentially up to a cap, with
jitter so that many runs do not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_from(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a response asks for: `retry-after-ms` (Anthropic) first, then Retry-After. Header lookup is
    case-insensitive in httpx's Headers, which both callers pass."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"), now)


def backoff_seconds(attempt: int, *, base_s: float, cap_s: float, jitter_low: float) -> float:
    """The jittered exponential wait before retry number `attempt` (1-based): base * 2^(attempt-1), capped,
    scaled by a uniform factor in [jitter_low, 1]."""
    return min(cap_s, base_s * 2.0 ** (attempt - 1)) * random.uniform(jitter_low, 1.0)
