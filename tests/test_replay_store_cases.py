"""Replay cases whose world is a converted store (a benchmark's): the store is used in place, the case may
bring its baseline window and nothing else, and a malformed case names the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from inquest.replay.cases import CaseError, load_case
from inquest.replay.worlds import materialise


def _case(folder: Path, extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text("id: c1\nincident: INC-1\ntruth: {service: api, change: null}\n" + extra)
    return folder


def test_a_store_case_is_used_in_place_with_its_baseline(tmp_path):
    store = tmp_path / "bench.duckdb"
    store.write_bytes(b"")
    case = load_case(_case(tmp_path / "cases" / "c1", "store: ../../bench.duckdb\nbaseline: {minutes: 3}\n"))
    assert case.store == store.resolve() and case.baseline == (3, 0)
    world = materialise(case, tmp_path / "worlds")
    assert world.store_path == store.resolve() and not (tmp_path / "worlds").exists()


@pytest.mark.parametrize("extra, message", [
    ("store: nowhere.duckdb\n", "'store' names"),
    ("store: s.duckdb\nworld: {scenario: n_plus_one_deploy}\n", "exactly one of"),
    ("store: s.duckdb\nbaseline: {minutes: 0}\n", "'baseline' needs minutes > 0"),
    ("store: s.duckdb\nbaseline: {minutes: 3, agents: [trace]}\n", "unknown key 'baseline.agents'"),
])
def test_a_malformed_store_case_names_the_key(tmp_path, extra, message):
    (tmp_path / "c" / "s.duckdb").parent.mkdir(parents=True)
    (tmp_path / "c" / "s.duckdb").write_bytes(b"")
    with pytest.raises(CaseError, match=message):
        load_case(_case(tmp_path / "c", extra))
