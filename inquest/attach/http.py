"""The one way attachment targets talk HTTP: a timeout on every call, retries with backoff on 429 and
5xx that honour Retry-After within a bounded total wait, and one clear AttachError for everything else.

Errors name the target and what was being done ("comments of acme/shop#812"), never a credential: the
Slack webhook URL is itself a secret, so targets pass the text to show instead of the URL where needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from inquest import __version__
from inquest.errors import AttachError
from inquest.retry import backoff_seconds, retry_after_from

log = logging.getLogger("inquest.attach")

USER_AGENT = f"inquest/{__version__}"
# Without Retry-After, waits grow 1 s, 2 s, 4 s, ... up to this, jittered so that many runs do not retry in step.
MAX_BACKOFF_S = 16.0
DEFAULT_DENIED = {
    401: "the credentials were rejected",
    403: "the credentials lack permission",
    404: "not found, or not visible with these credentials",
}


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class ApiClient:
    """An httpx client for one target. `sleep` is injectable so tests can see the waits without taking them."""

    def __init__(self, target: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 10.0,
                 retries: int = 4, max_wait_s: float = 60.0, denied: Mapping[int, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.target = target
        self.retries = retries
        self.max_wait_s = max_wait_s
        self.denied = {**DEFAULT_DENIED, **(denied or {})}
        self.sleep = sleep
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                                    headers={"User-Agent": USER_AGENT, **(headers or {})})

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, url: str, *, what: str, shown_url: str | None = None,
                ok: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        """Sends one request, retrying transient failures; returns a 2xx response (or one whose status is in
        `ok`), else raises AttachError. `what` says in the user's words what the request was for."""
        where = f"{method} {shown_url or url} ({what})"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                # A connection reset or a timeout is as transient as a 503: retry it the same way.
                failure, delay = f"{type(exc).__name__}: {exc}", None
            else:
                if response.is_success or response.status_code in ok:
                    return response
                if not _retryable(response.status_code):
                    raise self._failure(response, where)
                failure = f"HTTP {response.status_code}"
                delay = retry_after_from(response.headers)
            if attempt > self.retries:
                raise AttachError(self.target, f"{where}: still failing after {attempt} attempts ({failure})")
            wait = delay if delay is not None else backoff_seconds(attempt, base_s=1.0, cap_s=MAX_BACKOFF_S, jitter_low=0.5)
            if waited + wait > self.max_wait_s:
                raise AttachError(self.target, f"{where}: {failure}; waiting {wait:.0f} s more would exceed the "
                                               f"{self.max_wait_s:g} s retry budget (attach.max_wait_s)")
            log.info("%s: %s; retrying in %.1f s", self.target, failure, wait)
            self.sleep(wait)
            waited += wait

    def json(self, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        """Like request, for APIs that answer in JSON."""
        return self.json_of(self.request(method, url, what=what, **kwargs), what)

    def json_of(self, response: httpx.Response, what: str) -> Any:
        """The response's JSON body; a body that is not JSON (a proxy's error page) is an AttachError too."""
        try:
            return response.json()
        except ValueError:
            excerpt = " ".join(response.text.split())[:200]
            kind = response.headers.get("Content-Type", "no content type")
            raise AttachError(self.target, f"{what}: expected JSON, got {kind}: {excerpt!r}") from None

    def _failure(self, response: httpx.Response, where: str) -> AttachError:
        status = response.status_code
        reason = response.reason_phrase or ""
        if status in self.denied:
            return AttachError(self.target, f"{status} {reason} on {where}: {self.denied[status]}", status)
        detail = " ".join(response.text.split())[:300]
        return AttachError(self.target, f"{status} {reason} on {where}: {detail or 'no details given'}", status)
