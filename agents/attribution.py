"""Who an error belongs to. Pure functions over span statistics.

A failed call to an uninstrumented peer (a payment provider, a mail relay) usually originates at the
peer. Except when the caller gave up: a client-side timeout against a peer that answers as fast as it
always did means the caller's own timeout is now shorter than the peer's normal response time, and the
fault is the caller's configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from inquest.tools.backends.protocol import Table

_TIMEOUT = re.compile(r"time[ds]?[ -]?out|deadline exceeded", re.IGNORECASE)
PEER_SLOWER = 1.3  # the peer's median latency must have grown this much for a timeout to be its fault


def peer_latency(stats: Table) -> dict[tuple[str, str], float]:
    """(caller, peer) -> median latency of calls to an uninstrumented peer, from span_stats."""
    return {(r["service"], r["peer"]): r["p50_ms"] or 0.0 for r in stats.records()
            if r["kind"] == "CLIENT" and r["peer"] and not r["is_db"]}


def origin_of(row: Mapping[str, Any], now: dict[tuple[str, str], float], before: dict[tuple[str, str], float]) -> str:
    """The service an error_origins row belongs to."""
    if row["kind"] != "CLIENT" or row.get("is_db") or not row.get("peer"):
        return str(row["service"])
    key = (row["service"], row["peer"])
    gave_up = bool(row.get("message")) and bool(_TIMEOUT.search(row["message"]))
    if gave_up and key in before and now.get(key, 0.0) < PEER_SLOWER * before[key]:
        return str(row["service"])
    return str(row["peer"])
