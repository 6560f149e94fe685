"""The specialist agents. Each is an entry point of the `inquest.agents` group (pyproject.toml for the
built-ins, a plug-in distribution's own metadata for others); see inquest/registry.py. Importing this
package imports no agent: an agent's module loads when a run asks for it by name."""

from __future__ import annotations

from collections.abc import Sequence

from inquest import registry
from inquest.agents.base import Agent


def build_agents(names: Sequence[str]) -> list[Agent]:
    missing = registry.unknown(registry.AGENTS, names)
    if missing:
        raise KeyError(registry.unknown_message(registry.AGENTS, missing, "agent"))
    return [registry.load(registry.AGENTS, name)() for name in names]
