"""A stand-in for an Elasticsearch cluster that speaks the API badly, run as its own process on 127.0.0.1
by the fault tests (tests/test_deadlines.py) through tests/server_process.py:

    python tests/es_stand_in.py MODE PORT

MODE says how every request is answered: `hang` (never), `late` (a valid empty answer, 10 s late),
`500` (an internal server error), `garbage` (200 with a body that is not JSON), `shape` (200 with JSON
that is not what the API answers). `GET /` answers at once, so the test can tell it is up.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ELASTIC = {"x-elastic-product": "Elasticsearch", "content-type": "application/json"}


def _valid(path: str) -> dict:
    if "/_mapping/field/" in path:  # every field asked for is mapped: the questions then reach _search
        index, fields = path.split("/_mapping/field/")
        names = fields.split("?")[0].split(",")
        return {index.strip("/"): {"mappings": {n: {"full_name": n, "mapping": {}} for n in names}}}
    return {"took": 1, "timed_out": False, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
            "aggregations": {}}


def answer(mode: str, path: str) -> tuple[int, bytes]:
    if path == "/":
        return 200, json.dumps({"version": {"number": "9.0.0"}, "tagline": "You Know, for Search"}).encode()
    if mode == "hang":
        time.sleep(3600)
    if mode == "late":
        time.sleep(10)
        return 200, json.dumps(_valid(path)).encode()
    if mode == "500":
        return 500, json.dumps({"error": {"root_cause": [{"type": "stand_in_exception", "reason": "it broke"}],
                                          "type": "stand_in_exception", "reason": "it broke"}, "status": 500}).encode()
    if mode == "garbage":
        return 200, b"<html><body>502 Bad Gateway</body></html>\x00\xff"
    return 200, json.dumps({"acknowledged": True, "hits": "none today"}).encode()


def main(mode: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            status, data = answer(mode, self.path)
            self.send_response(status)
            for name, value in ELASTIC.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_HEAD = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
