"""A scripted stand-in for the Anthropic Messages API, served on 127.0.0.1 for offline tests.

The real `anthropic` client (inside crewai's native provider) reaches it through ANTHROPIC_BASE_URL.
Every request is checked against the documented API (messages_api.py: the path and method, the API key
and `anthropic-version` headers, the body's fields, messages, content blocks and tools); a request that
breaks the contract is answered 400 (401 for the key) the way the API would and kept in `violations`,
so a test can assert that Inquest spoke the protocol. Every body is recorded for the secret-leak
assertions.

Replies come from a script: a function of the request (so parallel agents, whose calls interleave in
any order, each get their own conversation) or a list of replies served in order.

    with AnthropicServer(script) as server:
        os.environ["ANTHROPIC_BASE_URL"] = server.url
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llm.messages_api import API_KEY, estimate_tokens, validate

__all__ = ["API_KEY", "AnthropicServer", "Garbage", "Request", "Slow", "Status", "Text", "ToolUse", "by_conversation"]


# -- replies --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Text:
    """An assistant turn of text, ending the turn."""

    text: str
    stop_reason: str = "end_turn"
    output_tokens: int | None = None


@dataclass(frozen=True)
class ToolUse:
    """An assistant turn asking for tool calls: (name, input) pairs, optionally after some text."""

    calls: tuple[tuple[str, dict[str, Any]], ...]
    text: str = ""

    @classmethod
    def of(cls, name: str, **arguments: Any) -> ToolUse:
        return cls(((name, arguments),))


@dataclass(frozen=True)
class Status:
    """An HTTP error the API documents: 429 rate_limit_error, 500 api_error, 529 overloaded_error, ..."""

    code: int
    retry_after: float | None = None

    def error_type(self) -> str:
        return {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                500: "api_error", 529: "overloaded_error"}.get(self.code, "api_error")


@dataclass(frozen=True)
class Garbage:
    """A 200 whose body is not the API's JSON (a proxy's error page, a truncated body)."""

    body: bytes = b"<html><body>502 Bad Gateway</body></html>"
    content_type: str = "application/json"


@dataclass(frozen=True)
class Slow:
    """Waits, then sends `then`: for timeouts. The wait ends early when the server stops."""

    seconds: float
    then: Any = None


Reply = Text | ToolUse | Status | Garbage | Slow


# -- the recorded request --------------------------------------------------------------------------

@dataclass
class Request:
    path: str
    method: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]

    @property
    def is_count(self) -> bool:
        return self.path.endswith("/count_tokens")

    def system_text(self) -> str:
        system = self.body.get("system") or ""
        if isinstance(system, list):
            return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
        return str(system)

    def tool_names(self) -> list[str]:
        return [t.get("name", "") for t in self.body.get("tools") or []]

    def turns(self) -> int:
        """How many assistant turns the conversation holds already: which step of a script this is."""
        return sum(1 for m in self.body.get("messages", []) if m.get("role") == "assistant")

    def all_text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last user message, with their content as text."""
        messages = self.body.get("messages") or []
        if not messages or not isinstance(messages[-1].get("content"), list):
            return []
        out = []
        for block in messages[-1]["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                content = block.get("content")
                if isinstance(content, list):
                    content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
                out.append({**block, "content": content or ""})
        return out

    def tool_uses(self) -> list[dict[str, Any]]:
        """Every tool_use block the conversation holds, oldest first."""
        return [b for m in self.body.get("messages", []) if m.get("role") == "assistant"
                and isinstance(m.get("content"), list) for b in m["content"] if b.get("type") == "tool_use"]


# -- the server ------------------------------------------------------------------------------------

Script = Callable[[Request], Reply] | Sequence[Reply]


class AnthropicServer:
    def __init__(self, script: Script, token_count: Callable[[Request], int] | None = None) -> None:
        self._script = script
        self._queue = list(script) if not callable(script) else None
        self._token_count = token_count
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []  # every request, count_tokens included, in arrival order
        self.violations: list[str] = []
        self._next_id = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="anthropic-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AnthropicServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # what tests read back
    def messages_requests(self) -> list[Request]:
        return [r for r in self.requests if not r.is_count]

    def count_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_count]

    def bodies(self) -> str:
        return "\n".join(r.all_text() for r in self.requests)

    # serving
    def _reply_for(self, request: Request) -> Reply:
        if self._queue is not None:
            with self._lock:
                if not self._queue:
                    return Status(500)
                return self._queue.pop(0)
        return self._script(request)  # type: ignore[operator]

    def _message_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return f"msg_{self._next_id:024d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: pytest shows failures, not traffic
                pass

            def _send(self, code: int, payload: bytes, content_type: str = "application/json",
                      headers: Iterable[tuple[str, str]] = ()) -> None:
                self.send_response(code)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", f"req_{time.monotonic_ns()}")
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, code: int, kind: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
                self._send(code, json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode(),
                           headers=headers)

            def do_GET(self) -> None:  # http.server's naming
                server.violations.append(f"GET {self.path}: the client only ever POSTs")
                self._error(405, "invalid_request_error", "method not allowed")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?", 1)[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                request = Request(path, "POST", headers, raw, body if isinstance(body, dict) else {})
                with server._lock:
                    server.requests.append(request)
                if path not in ("/v1/messages", "/v1/messages/count_tokens"):
                    server.violations.append(f"POST {path}: not an endpoint of the Messages API")
                    return self._error(404, "not_found_error", f"no such endpoint {path}")
                errors = validate(path, headers, body)
                if errors:
                    server.violations.extend(f"POST {path}: {e}" for e in errors)
                    kind = "authentication_error" if errors[0].startswith("x-api-key") else "invalid_request_error"
                    return self._error(401 if kind == "authentication_error" else 400, kind, "; ".join(errors))
                if request.is_count:
                    tokens = server._token_count(request) if server._token_count else estimate_tokens(body)
                    return self._send(200, json.dumps({"input_tokens": tokens}).encode())
                self._serve(request, server._reply_for(request))

            def _serve(self, request: Request, reply: Reply) -> None:
                if isinstance(reply, Slow):
                    server._stopping.wait(reply.seconds)
                    if reply.then is None or server._stopping.is_set():
                        return self._error(500, "api_error", "slow reply abandoned")
                    return self._serve(request, reply.then)
                if isinstance(reply, Status):
                    headers = [("retry-after", f"{reply.retry_after:g}")] if reply.retry_after is not None else []
                    return self._error(reply.code, reply.error_type(), f"scripted {reply.code}", headers)
                if isinstance(reply, Garbage):
                    return self._send(200, reply.body, reply.content_type)
                if isinstance(reply, Text):
                    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
                    stop, produced = reply.stop_reason, reply.output_tokens
                else:
                    content = [{"type": "text", "text": reply.text}] if reply.text else []
                    content += [{"type": "tool_use", "id": f"toolu_{server._message_id()[4:]}", "name": name,
                                 "input": arguments} for name, arguments in reply.calls]
                    stop, produced = "tool_use", None
                usage = {"input_tokens": estimate_tokens(request.body),
                         "output_tokens": produced if produced is not None else estimate_tokens(content),
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
                message = {"id": server._message_id(), "type": "message", "role": "assistant",
                           "model": request.body["model"], "content": content, "stop_reason": stop,
                           "stop_sequence": None, "usage": usage}
                self._send(200, json.dumps(message).encode())

        return Handler


def by_conversation(steps: Callable[[Request], Sequence[Reply]]) -> Callable[[Request], Reply]:
    """A script where `steps(request)` names the conversation a request belongs to (by its system
    prompt, say) and the request's turn number picks the step; past the last step, the last repeats."""

    def script(request: Request) -> Reply:
        replies = steps(request)
        return replies[min(request.turns(), len(replies) - 1)]

    return script


@dataclass
class Recorder:
    """Collects values seen by a script (e.g. tool results per agent) across server threads."""

    items: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)
