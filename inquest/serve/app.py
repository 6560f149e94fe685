"""The HTTP face of `investigate serve`: a Starlette app served by uvicorn.

    POST /alertmanager   Alertmanager's webhook (payload version 4): 202 queued, 400 bad body, 401 bad or
                         missing token, 503 queue full (Alertmanager retries it)
    GET  /healthz        200 {"status": "ok", ...} while the server takes notifications
    GET  /metrics        the server's counters in Prometheus text format

The handler only checks and queues; investigations run in the worker threads (inquest.serve.worker).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from inquest.serve.metrics import CONTENT_TYPE, ServeMetrics
from inquest.serve.payload import MAX_BODY_BYTES, PayloadError, parse_body
from inquest.serve.queue import QueueFull, WorkQueue
from inquest.serve.worker import Workers

log = logging.getLogger("inquest.serve")


def build_app(queue: WorkQueue, workers: Workers, metrics: ServeMetrics, token: str | None,
              grace_s: float) -> Starlette:
    async def alertmanager(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        if token is not None and not _authorized(request, token):
            metrics.notification("unauthorized")
            log.warning("POST /alertmanager from %s: 401, missing or wrong bearer token", client)
            return PlainTextResponse("unauthorized: send Authorization: Bearer <serve.token>\n", 401,
                                     headers={"WWW-Authenticate": 'Bearer realm="inquest"'})
        try:
            group = parse_body(await _body(request))
        except PayloadError as exc:
            metrics.notification("rejected")
            log.warning("POST /alertmanager from %s: 400, %s", client, exc)
            return PlainTextResponse(f"bad request: {exc}\n", 400)
        try:
            outcome = await run_in_threadpool(queue.offer, group)  # it writes the state file: off the event loop
        except QueueFull as exc:
            metrics.notification("queue_full")
            log.warning("POST /alertmanager: 503, %s; Alertmanager will retry group %s", exc, group.key)
            return PlainTextResponse(f"busy: {exc}\n", 503, headers={"Retry-After": "30"})
        metrics.notification(outcome)
        log.info("group %s %s: %s", group.key, group.status, outcome)
        return JSONResponse({"outcome": outcome, "group": group.key}, 202)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "queue_depth": queue.depth(), "running": queue.running()})

    async def prometheus(_request: Request) -> Response:
        return Response(metrics.exposition(queue.depth(), queue.running()), media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        workers.start()
        yield
        # uvicorn has stopped taking requests (SIGTERM/SIGINT): let running investigations finish.
        interrupted = await run_in_threadpool(workers.stop, grace_s)
        log.info("stopped: %d queued alert groups kept for the next start, %d interrupted", queue.depth(), interrupted)

    return Starlette(routes=[Route("/alertmanager", alertmanager, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"]),
                             Route("/metrics", prometheus, methods=["GET"])], lifespan=lifespan)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it grows past what an alert group can be (before it is all in memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadError(f"body of {int(declared):,} bytes exceeds the {MAX_BODY_BYTES:,} an alert group may have")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadError(f"body exceeds the {MAX_BODY_BYTES:,} bytes an alert group may have")
        chunks.append(chunk)
    return b"".join(chunks)
