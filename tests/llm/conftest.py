"""Fixtures for the LLM mode's tests: a scripted Messages API server on 127.0.0.1, crewai's files kept
out of the real home, and the demo world's deterministic findings computed once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from llm.anthropic_server import API_KEY, AnthropicServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # `pytest -m llm` selects this folder, `-m "not llm"` skips it
        if "/tests/llm/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.llm)


@pytest.fixture(scope="session")
def crewai_home(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("crewai-home")


@pytest.fixture(autouse=True)
def _model_environment(monkeypatch: pytest.MonkeyPatch, crewai_home):
    """crewai writes settings, a credentials key and app data under the home folder: keep them in a
    temporary one. The key is the one the stand-in server accepts."""
    for name, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                      ("XDG_CACHE_HOME", ".cache")):
        monkeypatch.setenv(name, str(crewai_home / sub))
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch):
    """serve(script) -> a started AnthropicServer that ANTHROPIC_BASE_URL points at; stopped afterwards."""
    servers: list[AnthropicServer] = []

    def start(script: Any, **kwargs: Any) -> AnthropicServer:
        server = AnthropicServer(script, **kwargs).__enter__()
        servers.append(server)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        return server

    yield start
    for server in servers:
        server.stop()


@dataclass(frozen=True)
class Investigated:
    """The deterministic stage's results, which the LLM stage starts from."""

    deps: Any
    incident: Any
    scope: Any
    findings: list
    ranked: list


def with_llm(deps: Any, **settings: Any) -> Any:
    """`deps` with the LLM mode on; `budgets={...}` and other llm settings override the defaults."""
    from inquest.config import LLMBudgets, LLMConfig

    budgets = LLMBudgets(**settings.pop("budgets", {}))
    llm = LLMConfig(provider="claude", budgets=budgets, **{"retries": 2, **settings})
    return replace(deps, config=deps.config.model_copy(update={"llm": llm}))


@pytest.fixture(scope="session")
def investigated(demo_world) -> Investigated:
    from conftest import deps_for

    from inquest.agents import build_agents
    from inquest.coordinator.fanout import fan_out
    from inquest.coordinator.ranking import rank
    from inquest.coordinator.triage import triage

    deps = deps_for(demo_world)
    incident = next(i for i in deps.backend.incidents() if i.id == demo_world.incident_id)
    settings = deps.config.investigation
    scope, _ = triage(incident, deps.backend, settings)
    findings = fan_out(build_agents(settings.agents), incident, scope, deps, settings.agent_timeout_s)
    ranked = rank(findings, {e.id: e for f in findings for e in f.evidence})
    return Investigated(deps, incident, scope, findings, ranked)
