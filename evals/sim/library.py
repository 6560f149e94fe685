"""The scenario library: every scenario the simulator knows, by name, and the case file each one has
in evals/cases/ (written from the scenario, so the two cannot drift apart: `write_case_files()`)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from inquest.evals.sim import library_changes, library_world
from inquest.evals.sim.model import Scenario

_BUILDERS: tuple[Callable[[], Scenario], ...] = (
    library_changes.n_plus_one, library_changes.pool_exhaustion_config, library_changes.feature_flag_slow_path,
    library_changes.migration_lock, library_changes.memory_leak, library_changes.bad_deploy_two_hops,
    library_changes.two_deploys_minutes_apart, library_changes.most_recent_deploy_innocent,
    library_world.stripe_outage, library_world.retry_storm, library_world.noisy_neighbour,
    library_world.traffic_surge,
)

LIBRARY: dict[str, Scenario] = {s.name: s for s in (build() for build in _BUILDERS)}
CASES_DIR = Path(__file__).resolve().parent.parent / "cases"


def case_file(scenario: Scenario) -> str:
    """The scenario's case.yaml, in the format replay/cases.py reads."""
    notes = textwrap.fill(" ".join(scenario.notes.split()), width=104, initial_indent="  ",
                          subsequent_indent="  ")
    change = scenario.truth.change or "null    # no change of ours caused it"
    return (f"# From the simulator's scenario library (evals/sim): {scenario.summary}.\n"
            f"id: {scenario.case_id}\nincident: {scenario.alert.incident_id}\n"
            f"world:\n  scenario: {scenario.name}\n  seed: 7\n  scale: {scenario.case_scale:g}\n"
            f"truth:\n  service: {scenario.truth.service}\n  change: {change}\n  fault: {scenario.truth.fault}\n"
            f"notes: >\n{notes}\n")


def write_case_files(root: Path = CASES_DIR) -> list[Path]:
    written = []
    for scenario in LIBRARY.values():
        path = root / scenario.case_id / "case.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case_file(scenario), encoding="utf-8")
        written.append(path)
    return written
