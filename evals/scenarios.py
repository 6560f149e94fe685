"""The scenario library: named, seeded worlds, each with one planted fault and a known answer.

A scenario builder writes a store and a code repository into a folder and returns where they are.
Cases in evals/cases/<id>/case.yaml name a scenario (or ship their own telemetry) and the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inquest.evals.sim import LIBRARY as SIMULATED
from inquest.evals.sim import build_world
from inquest.evals.sim.demo import build_demo_world


@dataclass(frozen=True)
class BuiltWorld:
    store_path: Path
    repo_path: Path


ScenarioBuilder = Callable[[Path, int, float], BuiltWorld]
SCENARIOS: dict[str, ScenarioBuilder] = {}


def scenario(name: str) -> Callable[[ScenarioBuilder], ScenarioBuilder]:
    def register(builder: ScenarioBuilder) -> ScenarioBuilder:
        SCENARIOS[name] = builder
        return builder
    return register


@scenario("n_plus_one_deploy")
def n_plus_one_deploy(data_dir: Path, seed: int, scale: float) -> BuiltWorld:
    world = build_demo_world(data_dir, seed=seed, scale=scale)
    return BuiltWorld(world.store_path, world.repo_path)


def _simulated(name: str) -> ScenarioBuilder:
    def build(data_dir: Path, seed: int, scale: float) -> BuiltWorld:
        world = build_world(SIMULATED[name], data_dir, seed=seed, scale=scale)
        return BuiltWorld(world.store_path, world.repo_path)
    return build


for _name in SIMULATED:  # the simulator's library (evals/sim): each scenario is data
    scenario(_name)(_simulated(_name))


def build_scenario(name: str, data_dir: Path, seed: int = 7, scale: float = 1.0) -> BuiltWorld:
    """Replay's world builder (entry point `inquest.worlds: scenarios`); KeyError's text completes replay's
    one-line error about the case."""
    if name not in SCENARIOS:
        raise KeyError(f"names {name!r}, which is not a scenario; known: {', '.join(sorted(SCENARIOS))}")
    return SCENARIOS[name](Path(data_dir), seed, scale)
