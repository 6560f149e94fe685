"""`investigate serve`: Alertmanager's webhook in, root-cause reports out (docs/serve.md)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

from inquest.errors import ConfigError
from inquest.exits import EXIT_OK

DESCRIPTION = """\
Receives Alertmanager's webhook: each firing alert group becomes an incident, investigated by the same
engine as `investigate <id>`; the report is written under serve.data_dir and attached where
serve.routes says, updated in place when the group fires again or resolves.

  investigate serve                          listen on serve.listen (default 127.0.0.1:8087)
  investigate serve --listen 0.0.0.0:8087    any interface: serve.token (${VAR}) is then required

endpoints: POST /alertmanager, GET /healthz, GET /metrics. SIGTERM lets running investigations finish
(serve.shutdown_grace_s) and keeps the queue for the next start."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate serve", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (default: serve.listen)")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $INQUEST_CONFIG, ./config.yaml)")
    return parser


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen/serve.listen: {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8087")
    return host.strip("[]") or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(args)
    from inquest.commands.demo_world import ensure_demo_world
    from inquest.config import load_config

    config = load_config(opts.config)
    config.require_env("serve", "attach")  # serve.token holds a ${VAR}: never serve with it unresolved
    settings = config.serve
    host, port = split_listen(opts.listen or settings.listen)
    if settings.token is None and not is_loopback(host):
        raise ConfigError(f"serve.token: listening on {host} (not loopback) needs a bearer token; set "
                          "serve.token: ${INQUEST_SERVE_TOKEN} and give Alertmanager the same in http_config")
    if config.llm.enabled:
        config.llm.api_key()  # no key: one clear line before the first alert, not in every report
    ensure_demo_world(config)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import importlib

    import uvicorn

    # The engine is imported before listening, not on the first alert: that first report comes seconds sooner.
    importlib.import_module("inquest.coordinator.investigation")

    from inquest.serve.app import build_app
    from inquest.serve.metrics import ServeMetrics
    from inquest.serve.queue import WorkQueue
    from inquest.serve.worker import Workers

    queue = WorkQueue(config.resolve(settings.data_dir) / "state.json", settings.queue_size, settings.quiet_period_s)
    resumed = queue.load()
    metrics = ServeMetrics()
    workers = Workers(queue, config, metrics)
    app = build_app(queue, workers, metrics, settings.token, settings.shutdown_grace_s)
    logging.getLogger("inquest.serve").info("listening on %s:%d, %d queued alert groups resumed", host, port, resumed)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    if queue.running():
        # An investigation outlived the grace period: its job is persisted as interrupted. Leave now rather
        # than wait at interpreter exit for the agent threads it still runs.
        logging.shutdown()
        os._exit(EXIT_OK)
    return EXIT_OK
