"""A stand-in API server on 127.0.0.1 for the attachment targets' tests.

Each test module writes the API it stands in for as a function `api(request) -> Reply` that checks the
request against the service's documented shape (path, method, headers, body) and answers like the
service does. A check that fails is recorded in `problems` and answered with 400, so the client sees a
failure and the test that asserts `server.problems == []` names exactly what was wrong.
`script(reply)` queues a reply (a 429, a 401) for the next request, ahead of the API.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Violation(AssertionError):
    """The request does not match the documented API."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Violation(message)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def json(self) -> Any:
        expect(self.headers.get_content_type() == "application/json",
               f"{self.method} {self.path}: Content-Type is {self.headers.get('Content-Type')!r}, not application/json")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise Violation(f"{self.method} {self.path}: body is not JSON ({exc})") from None

    def multipart(self) -> dict[str, tuple[str | None, str | None, bytes]]:
        """Form parts by name: (filename, content type, bytes)."""
        expect(self.headers.get_content_type() == "multipart/form-data",
               f"{self.method} {self.path}: Content-Type is {self.headers.get('Content-Type')!r}, not multipart/form-data")
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[str(name)] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True) or b"")
        return parts


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes as is
    headers: Mapping[str, str] = field(default_factory=dict)


class StandIn:
    def __init__(self, api: Callable[[Request], Reply]) -> None:
        self.api = api
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self._scripted: deque[Reply] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), self.headers,
                                  self.rfile.read(length) if length else b"")
                server.requests.append(request)
                if server._scripted:
                    reply = server._scripted.popleft()
                else:
                    try:
                        reply = server.api(request)
                    except Violation as exc:
                        server.problems.append(str(exc))
                        reply = Reply(400, {"message": f"stand-in: {exc}"})
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body
                content_type = "application/json"
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                elif isinstance(body, str):
                    data, content_type = body.encode(), "text/plain"
                else:
                    data = body or b""
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        self._scripted.extend(replies)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class Sleeps(list):
    """A stand-in for time.sleep that records the waits instead of taking them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def config_with(tmp_path, **attach):
    """A Config whose attach section is `attach`, keeping state and local copies under tmp_path."""
    from inquest.config import AttachConfig, Config

    return Config(base_dir=tmp_path, attach=AttachConfig(**attach))
