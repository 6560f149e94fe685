"""A benchmark's labelled faults as replay cases: one case folder per fault, beside the converted store,
so `investigate replay <work-dir>/cases` scores them on the general path (history, comparison with the
last run, the HTML scorecard) exactly as it scores the scenario library.

Each case.yaml names the incident (already in the store, carrying only what the alert carried), the
store it lives in, the baseline window the data's layout allows, and the truth — which lives here, in the
case, and never in the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

CASES_FOLDER = "cases"
# No benchmark ships the services' source: the code-diff specialist has nothing to read.
NO_CODE = ("code_diff",)


@dataclass(frozen=True)
class CaseRow:
    id: str
    incident: str  # the incident's id in the store
    store: Path
    truth_service: str
    fault: str | None
    note: str  # which split and group the case belongs to


def write_cases(work_dir: Path, rows: Iterable[CaseRow], baseline: tuple[int, int]) -> Path:
    """Writes <work_dir>/cases/<case id>/case.yaml for every case (rewriting only those that changed) and
    returns the folder of cases."""
    root = Path(work_dir) / CASES_FOLDER
    for row in rows:
        folder = root / row.id
        folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "id": row.id, "incident": row.incident,
            "store": os.path.relpath(Path(row.store).resolve(), folder.resolve()),
            "baseline": {"minutes": baseline[0], "gap_minutes": baseline[1]},
            "expected_agent_failures": list(NO_CODE),
            "truth": {"service": row.truth_service, "change": None, "fault": row.fault},
            "notes": row.note,
        }
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        target = folder / "case.yaml"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return root
