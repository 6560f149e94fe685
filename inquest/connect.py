"""From configuration to the things agents use: the telemetry backend and the code history.
This is the edge where files are opened; nothing below it reads config paths itself."""

from __future__ import annotations

import sys
from collections.abc import Callable

from inquest.agents.base import Deps
from inquest.config import Config
from inquest.errors import ConfigError
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.backends.protocol import TelemetryBackend
from inquest.tools.code_history import CodeHistory


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def open_backend(config: Config, say: Callable[[str], None] = _say) -> TelemetryBackend:
    if config.backend.kind == "elasticsearch":
        from inquest.tools.backends.elasticsearch.store import ElasticsearchStore  # the client costs ~0.2 s to import

        return ElasticsearchStore(config.backend.elasticsearch, config.base_dir)
    settings = config.backend.embedded
    path = config.resolve(settings.path)
    if not path.exists():
        if not settings.demo:
            raise ConfigError(f"backend.embedded.path: {path} does not exist (and backend.embedded.demo is off)")
        from inquest.evals.world import ensure_demo_world  # only a first run pays for the simulator

        say(f"building the demo world in {path.parent} (once; seeded, so every machine gets the same one)…")
        world = ensure_demo_world(path.parent)
        if world.store_path.resolve() != path.resolve():
            raise ConfigError(f"backend.embedded.path: the demo world is built as {world.store_path}, "
                              f"but the config names {path}")
    return EmbeddedStore(path, memory_limit=settings.memory_limit)


def connect(config: Config, say: Callable[[str], None] = _say) -> Deps:
    backend = open_backend(config, say)
    return Deps(backend=backend, code=CodeHistory(config.repository_for), config=config)
