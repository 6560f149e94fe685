"""A general fault-injection simulator for the shop, and the scenario library it builds.

A scenario is data (evals/sim/model.py): the topology, the changes made that afternoon (each deploy a
real commit in a generated git repository), the faults as effects in time, and the alert that pages.
`build_world` turns one into a store of telemetry plus the repository; `LIBRARY` names them all.
The demo world (`make demo`, INC-1042) is the same shop on an afternoon of its own, built by demo.py
(`build_demo_world`), and listed beside the library as the scenario `n_plus_one_deploy` (evals/scenarios.py).

    from inquest.evals.sim import LIBRARY, build_world
    world = build_world(LIBRARY["retry_storm"], Path("data/retry-storm"), seed=7, scale=0.5)
"""

from inquest.evals.sim.build import SimWorld, build_world
from inquest.evals.sim.library import LIBRARY
from inquest.evals.sim.model import Scenario

__all__ = ["LIBRARY", "Scenario", "SimWorld", "build_world"]
