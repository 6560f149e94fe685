"""The scenario library, end to end: every case's true cause must rank first, with a margin.

Each case's world is built (cached per test session), the engine investigates the case's incident as
the CLI would, and the ranked report is scored against the case's known answer at the change level.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inquest.config import Config
from inquest.connect import connect
from inquest.coordinator.investigation import investigate
from inquest.replay.cases import discover_cases
from inquest.replay.runner import config_for_world
from inquest.replay.scoring import rank_of_truth
from inquest.replay.worlds import materialise

CASES = discover_cases([], Path("."))


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library-worlds")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_true_cause_ranks_first(case, worlds: Path) -> None:
    world = materialise(case, worlds)
    deps = connect(config_for_world(Config(base_dir=worlds), world))
    incident = next(i for i in deps.backend.incidents() if i.id == case.incident)
    report = investigate(incident, deps)
    ranked = report.hypotheses
    assert rank_of_truth(ranked, case.truth) == 1, [(h.service, h.change and h.change.id, h.confidence)
                                                   for h in ranked[:3]]
    margin = ranked[0].confidence - (ranked[1].confidence if len(ranked) > 1 else 0.0)
    print(f"\n{case.id}: truth #1 at {ranked[0].confidence:.2f}, margin {margin:.2f} over "
          f"{ranked[1].service if len(ranked) > 1 else '-'}")
    assert margin >= 0.1  # a coin flip is not an answer
    assert ranked[1].reasons and ranked[1].reasons[0].startswith("ranks below #1")  # the report says why it lost
    assert report.root_cause is not None
