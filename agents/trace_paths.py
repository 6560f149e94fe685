"""Which code paths a service runs per request: a change in them is a fault of that service's own code.

A fault in a service's code that neither fails a span nor slows one (a function that returns early, or
returns the wrong value, or throws and is caught) still changes what the service does for each request
it serves: the calls and internal steps after the faulty line stop, or others start. Nezha (FSE 2023)
finds such faults by mining exactly this, the events a service emits per request. From span counts alone:
per service, each of its own client and internal operations is counted per server span the service
handled, in the incident window and in the baseline, and compared by the conditional binomial test of
two Poisson rates (given both counts, the incident's share of them is binomial with the incident's share
of the service's requests). Normalising by the service's own requests cancels whatever the callers'
traffic did; a service whose callers changed *which* of its operations they call is not tested, because
then its mix per request moves without its code being at fault (a chi-square test of its server
operations' counts decides).

Many operations are tested at once, so the service's p-value is the smallest one times the number tested
(Bonferroni), and a change must also double or halve the rate, so that a busy operation's wobble is not
called a new code path. Pure functions over the backend's span_stats answers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from inquest.core import ANOMALY_SCORE_CAP
from inquest.tails import chi2_contingency_p, norm_isf
from inquest.tools.backends.protocol import Table

SIGNIFICANT_P = 1e-3  # as the spectrum's: many services and operations are tested at once
MIN_RATE_RATIO = 2.0  # a code path that stopped or started changes its rate per request by at least this
MIX_STABLE_P = 0.01  # the callers' mix of a service's server operations counts as unchanged above this


@dataclass(frozen=True)
class PathChange:
    """One operation of a service whose rate per request served moved beyond chance."""

    service: str
    operation: str
    per_request_before: float
    per_request_now: float
    p_value: float  # of the service's whole mix of operations per request

    @property
    def score(self) -> float:
        """The p-value as a one-sided normal quantile: the common anomaly scale, capped."""
        return min(ANOMALY_SCORE_CAP, norm_isf(max(self.p_value, 1e-300)))

    def describe(self) -> str:
        verb = "stopped" if self.per_request_now < self.per_request_before else "started"
        return (f"{self.operation} per request served: {self.per_request_before:.2f} in the baseline, "
                f"{self.per_request_now:.2f} in the incident window (a code path {verb}, p={self.p_value:.1g})")


def _counts(table: Table) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Per service: requests of each server operation, and spans of each of its own other operations."""
    served: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    done: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in table.records():
        target = served if row["kind"] in ("SERVER", "CONSUMER") else done
        target[row["service"]][row["operation"]] += int(row["requests"] or 0)
    return served, done


def _callers_mix_moved(before: dict[str, int], now: dict[str, int]) -> bool:
    operations = sorted(set(before) | set(now))
    if len(operations) < 2:
        return False
    table = [[before.get(op, 0) for op in operations], [now.get(op, 0) for op in operations]]
    if min(sum(col) for col in zip(*table, strict=True)) == 0:
        return True  # an operation served in one window only: its callers changed what they ask for
    return chi2_contingency_p(table) < MIX_STABLE_P


def _mix_test(served: tuple[int, int], before: dict[str, int], now: dict[str, int], operations: list[str]) -> float:
    """p of the service's spans per operation (and requests served) being mixed alike in both windows: one
    chi-square test of the 2 x k table, since a path that stops takes several operations with it."""
    table = [[served[0], *(before.get(op, 0) for op in operations)], [served[1], *(now.get(op, 0) for op in operations)]]
    return chi2_contingency_p(table)


def path_changes(now: Table, before: Table) -> list[PathChange]:
    """The most moved operation of each service whose code paths per request changed, strongest first."""
    served_now, done_now = _counts(now)
    served_before, done_before = _counts(before)
    found = []
    for service in sorted(set(served_now) & set(served_before)):
        requests_now, requests_before = sum(served_now[service].values()), sum(served_before[service].values())
        if _callers_mix_moved(served_before[service], served_now[service]):
            continue
        operations = sorted(op for op in set(done_now[service]) | set(done_before[service])
                            if done_now[service].get(op, 0) + done_before[service].get(op, 0) > 0)
        moved = []
        for op in operations:
            rate_now = done_now[service].get(op, 0) / requests_now
            rate_before = done_before[service].get(op, 0) / requests_before
            ratio = (rate_now + 1e-9) / (rate_before + 1e-9)
            if max(ratio, 1 / ratio) >= MIN_RATE_RATIO:
                moved.append((abs(math.log(ratio)), op, rate_before, rate_now))
        if not moved:
            continue
        p = _mix_test((requests_before, requests_now), done_before[service], done_now[service], operations)
        if p < SIGNIFICANT_P:
            _, op, rate_before, rate_now = max(moved)
            found.append(PathChange(service, op, rate_before, rate_now, p))
    return sorted(found, key=lambda c: (c.p_value, c.service))
