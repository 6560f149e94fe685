"""Shared by the attachment tests: the demo incident's report, investigated once per session."""

from __future__ import annotations

import pytest
from conftest import deps_for


@pytest.fixture(scope="session")
def demo_report(demo_world):
    from inquest.coordinator.investigation import investigate

    deps = deps_for(demo_world)
    incident = {i.id: i for i in deps.backend.incidents()}["INC-1042"]
    return investigate(incident, deps)

