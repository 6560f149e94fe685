"""The specialist agents. Each module registers its agent by name with `@register`; importing this
package imports them all, so the registry is complete without a hand-kept list of constructors."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from inquest.agents.base import REGISTRY, Agent

_SUPPORT_MODULES = {"attribution", "base", "baseline", "sql_text", "diff_rules", "load"}

# Sub-packages (agents/llm) are not specialists: the LLM layer is imported only when it is switched on.
for _module in pkgutil.iter_modules(__path__):
    if not _module.ispkg and _module.name not in _SUPPORT_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")


def build_agents(names: Sequence[str]) -> list[Agent]:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise KeyError(f"unknown agent(s) {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}")
    return [REGISTRY[name]() for name in names]
