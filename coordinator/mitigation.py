"""The first thing to try, from what the top hypothesis blames. Undo the change when there is one:
it is the fastest, best-understood way back to the last known-good state."""

from __future__ import annotations

from collections.abc import Mapping

from inquest.core import ChangeRef
from inquest.faults import lookup


def mitigation_for(service: str | None, change: ChangeRef | None, fault: str | None,
                   rollback_to: Mapping[str, str]) -> str:
    if change is not None:
        if change.kind == "deploy":
            target = rollback_to.get(change.id)
            return (f"roll back {service} to {target} (undo {change.id})" if target
                    else f"roll back {change.id} on {service}")
        if change.kind == "feature_flag":
            return f"turn off the flag changed in {change.id}"
        if change.kind == "config":
            return f"revert config change {change.id} on {service}"
        if change.kind == "migration":
            return f"stop or roll back migration {change.id}; check for locks it holds"
        if change.kind == "scale":
            return f"revert scaling change {change.id} on {service}"
        return f"revert {change.id} on {service}"
    known = lookup(fault)
    where = service or "the suspect service"
    return (known.mitigation(where) if known else None) or f"page the owners of {where} with this report"
