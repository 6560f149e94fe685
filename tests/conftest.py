"""Tests are offline by construction: any connection to a non-loopback address fails loudly.
Servers a test needs are started on 127.0.0.1 by that test's fixtures."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkBlocked(RuntimeError):
    pass


def _allowed(sock: socket.socket, address: object) -> bool:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self: socket.socket, address: object):
        if not _allowed(self, address):
            raise NetworkBlocked(f"test tried to reach {address!r}: tests may only talk to 127.0.0.1")
        return real(self, address)
    return connect


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    socket.socket.connect = _guarded(_real_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(_real_connect_ex)  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch):
    """A developer's own INQUEST_* settings or model keys must not leak into a test."""
    for name in ("INQUEST_CONFIG", "ANTHROPIC_API_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory):
    """The demo world as `make demo` builds it (full scale, seeded): built once per test session."""
    from inquest.evals.sim.demo import build_demo_world

    return build_demo_world(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def healthy_world(tmp_path_factory: pytest.TempPathFactory):
    """The same shop with the orders deploy harmless: agents must find nothing wrong there."""
    from inquest.evals.sim.demo import build_demo_world

    return build_demo_world(tmp_path_factory.mktemp("healthy"), scale=0.4, inject=False)


def deps_for(world, **investigation):
    """Deps for a built world, opened the way the CLI opens it."""
    from inquest.agents.base import Deps
    from inquest.config import CodeConfig, Config, InvestigationConfig
    from inquest.tools.backends.embedded_store import EmbeddedStore
    from inquest.tools.code_history import CodeHistory

    config = Config(base_dir=world.repo_path.parent, code=CodeConfig(repository=world.repo_path),
                    investigation=InvestigationConfig(**investigation))
    return Deps(backend=EmbeddedStore(world.store_path), code=CodeHistory(config.repository_for), config=config)


def write_config(world, folder) -> str:
    """A config.yaml pointing at a built world, for CLI tests."""
    path = folder / "config.yaml"
    path.write_text(f"backend:\n  embedded:\n    path: {world.store_path}\n    demo: false\n"
                    f"code:\n  repository: {world.repo_path}\n")
    return str(path)
