"""Where errors start, read from metrics alone: the error-origin rule of traces (the deepest failing span
whose children succeeded) applied to per-service error rates along the call graph.

A service whose error rate rose while every service it calls reports an error rate that did not is where
the errors start: nothing below it failed more, so its errors are its own, not relayed. Only measured
quiet counts: a callee with no error-rate series in the baseline or the window says nothing either way
(unless it served no request in the window: then it failed none), so a service with such a callee is
never called an origin (Nezha reports an error rate for its entry service only; PetShop for
every node). The call graph is the declared one (a service catalogue, a dataset's dependency file) with
the calls seen in spans over the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping

from inquest.agents.base import Deps, ask_together
from inquest.core import Scope
from inquest.errors import BackendError


def callees_of(deps: Deps, scope: Scope) -> dict[str, set[str]]:
    """caller -> the services it calls; empty when the backend knows no topology."""
    try:
        declared, seen = ask_together(deps.backend.dependencies, lambda: deps.backend.call_graph(scope.window))
    except BackendError:  # a topology sharpens the reading; without it errors count as relayed, as before
        return {}
    out: dict[str, set[str]] = defaultdict(set)
    for table in (declared, seen):
        for r in table.records():
            if r["caller"] and r["callee"] and r["caller"] != r["callee"]:
                out[r["caller"]].add(r["callee"])
    return out


def error_origins(rose: Collection[str], measured: Collection[str],
                  callees: Mapping[str, Collection[str]]) -> set[str]:
    """Services in `rose` (error rate clearly up) whose every callee has an error rate (`measured`) that
    did not rise. A service that calls nothing starts its own errors too."""
    return {s for s in rose
            if all(c in measured and c not in rose for c in callees.get(s, ()))}
