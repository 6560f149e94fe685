"""The contract: every metric question, asked of the embedded store and of Prometheus holding the same
world, gets the same answer.

Groups (service, host, name; for series also version, `le` and bucket) and point counts must be equal.
Means, sums, maxima, last values, medians, p90s and a running total's increase per bucket come out of
both in the last rounded digit (the same numbers added in another order). The demo world's counters
are never reset; test_label_mapping.py checks a reset and a step between buckets.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract.compare import differences

from inquest.agents.db import POOL_METRICS
from inquest.agents.load import REQUEST_RATE
from inquest.agents.metric_semconv import Semconv
from inquest.config import InvestigationConfig
from inquest.coordinator.triage import plan_scope
from inquest.core import Window

pytestmark = pytest.mark.prometheus

SEMCONV = Semconv()
NAMES = tuple(dict.fromkeys((*SEMCONV.stored_names(), *POOL_METRICS)))
CUMULATIVE = tuple(m.name for m in SEMCONV.by_name.values() if m.differenced)
SERIES_KEYS = ("service", "host", "version", "name", "le", "bucket")


def windows(held) -> list[Window]:
    """The windows agents ask about (each incident's window and baseline), and one that starts and ends
    off the minute, so the partial buckets at its edges are asked too."""
    out = []
    for incident in held.embedded.backend.incidents():
        scope = plan_scope(incident, InvestigationConfig())
        out += [scope.window, scope.baseline]
    first = out[0]
    out.append(Window(first.start + timedelta(seconds=17), first.end - timedelta(seconds=43)))
    return out


@pytest.mark.parametrize("question", ["metric_summary", "metric_stats"])
def test_window_questions_get_the_same_answer(held, question):
    store = held.store()
    asks = [(NAMES,), (POOL_METRICS,), ([REQUEST_RATE],)]
    for window in windows(held):
        for names, in asks:
            expected = getattr(held.embedded.backend, question)(window, names)
            answer = getattr(store, question)(window, names)
            assert answer.rows, f"{question} {window}: Prometheus found none of {names[:3]}…"
            problems = differences(question, expected, answer)
            assert not problems, f"{question} {window}: " + "; ".join(problems[:8])
    if question == "metric_summary":  # one service's rows only
        one = held.embedded.backend.metric_summary(windows(held)[0], POOL_METRICS, service="orders")
        answer = store.metric_summary(windows(held)[0], POOL_METRICS, service="orders")
        assert one.rows and {r["service"] for r in answer.records()} == {"orders"}
        assert not differences("metric_summary", one, answer)


def test_metric_series_gets_the_same_answer(held):
    store = held.store()
    for window in windows(held):
        expected = held.embedded.backend.metric_series(window, NAMES, CUMULATIVE, 60)
        answer = store.metric_series(window, NAMES, CUMULATIVE, 60)
        assert answer.columns == expected.columns
        want = {tuple(r[k] for k in SERIES_KEYS): r for r in expected.records()}
        got = {tuple(r[k] for k in SERIES_KEYS): r for r in answer.records()}
        assert sorted(got, key=repr) == sorted(want, key=repr), window
        for key, a in want.items():
            b = got[key]
            assert (b["points"], b["temporality"]) == (a["points"], a["temporality"]), (key, a, b)
            for column in ("mean", "total"):
                assert abs(b[column] - a[column]) <= 1.01e-6 + 1e-12 * abs(a[column]), (key, column, a, b)


def test_every_answer_carries_the_promql_that_reproduces_it(held):
    store = held.store()
    window = windows(held)[0]
    answer = store.metric_stats(window, [REQUEST_RATE])
    # The table's query, sent again as it stands, gives the same numbers.
    expression = answer.query.split("\n", 1)[1]
    at = window.end - timedelta(milliseconds=1)
    again = store.client.instant(expression, at)
    medians = {s.labels["service"]: round(s.value, 4) for s in again if s.labels["inquest"].startswith("median ")}
    assert medians == {r["service"]: r["median"] for r in answer.records()}
    assert "quantile_over_time(0.5, http_server_request_rate[" in answer.query
