"""Prometheus's HTTP API (/api/v1/query, /api/v1/query_range, /api/v1/label/__name__/values) over httpx.

Every expression is sent as a form-encoded POST, which the API accepts like a GET and which has no URL
length limit: an expression asking for a dozen metrics at once is long. A failure — no connection, no
answer in time, an error status or an error body — is one `PrometheusError` naming the server, what was
asked and the config key to look at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from inquest.config import PrometheusMetrics
from inquest.deadline import timeout_for
from inquest.errors import BackendError


class PrometheusError(BackendError):
    """Prometheus could not answer: the message names the server and why."""


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    at: float  # Unix seconds
    value: float


def _seconds(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def _number(text: str) -> float:
    # The API writes values as strings: "NaN", "+Inf" and "-Inf" included.
    return float(text)


class PrometheusClient:
    def __init__(self, settings: PrometheusMetrics, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.url = settings.url.rstrip("/")
        headers = {"Authorization": f"Bearer {settings.bearer_token}"} if settings.bearer_token else {}
        self._http = httpx.Client(base_url=self.url, timeout=settings.timeout_s, headers=headers,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def instant(self, expression: str, at: datetime) -> list[Sample]:
        """The vector an expression evaluates to at `at`."""
        data = self._call("/api/v1/query", {"query": expression, "time": _seconds(at)})
        return [Sample(item["metric"], float(item["value"][0]), _number(item["value"][1]))
                for item in data.get("result") or ()]

    def series(self, expression: str, start: datetime, end: datetime, step_s: float) -> list[Sample]:
        """The expression evaluated at start, start + step, ... up to end, every point of every series."""
        data = self._call("/api/v1/query_range", {"query": expression, "start": _seconds(start),
                                                  "end": _seconds(end), "step": f"{step_s:g}"})
        return [Sample(item["metric"], float(at), _number(value))
                for item in data.get("result") or () for at, value in item.get("values") or ()]

    def metric_names(self, start: datetime, end: datetime) -> set[str]:
        """The metric names holding samples between start and end (the label values of __name__)."""
        data = self._call("/api/v1/label/__name__/values", {"start": _seconds(start), "end": _seconds(end)},
                          method="GET")
        return set(data) if isinstance(data, list) else set()

    def _call(self, path: str, params: dict[str, str], method: str = "POST") -> Any:
        # Cut to what is left of the investigation's deadline (inquest/deadline.py), so a slow Prometheus
        # cannot hold the report past it.
        timeout = timeout_for(self.settings.timeout_s, f"Prometheus at {self.url}: {path}")
        try:
            if method == "POST":
                response = self._http.post(path, data=params, timeout=timeout)
            else:
                response = self._http.get(path, params=params, timeout=timeout)
        except httpx.TimeoutException:
            raise PrometheusError(f"Prometheus at {self.url}: no answer to {path} within "
                                  f"{timeout:.3g} s (backend.metrics.timeout_s, or the investigation's deadline)") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url} (backend.metrics.url): "
                                  f"{type(exc).__name__}: {exc}") from None
        return self._data(response, path)

    def _data(self, response: httpx.Response, path: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PrometheusError(f"Prometheus at {self.url}: {path} answered {response.status_code} "
                                  f"without a JSON body: {response.text[:200]!r}")
        if response.status_code in (401, 403):
            raise PrometheusError(f"Prometheus at {self.url} refused {path} ({response.status_code}); "
                                  "check backend.metrics.bearer_token")
        if body.get("status") != "success":
            reason = f"{body.get('errorType', 'error')}: {body.get('error', '')}".strip(": ")
            raise PrometheusError(f"Prometheus at {self.url}: {path} failed ({response.status_code}: "
                                  f"{' '.join(reason.split())[:300]})")
        return body.get("data")


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
