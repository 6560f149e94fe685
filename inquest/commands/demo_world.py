"""The demo world, built when the config asks for it: an explicit step of the commands that read telemetry.

`backend.embedded.demo: true` means "when the store file is missing, build the seeded demo world there".
Building it needs the simulator (`inquest.evals`), so it happens here, in the command layer, before the
backend is opened: `connect` only opens what exists, and nothing below the commands imports the simulator.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from inquest.config import Config
from inquest.errors import ConfigError


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def ensure_demo_world(config: Config, say: Callable[[str], None] = _say) -> None:
    """Builds the demo world where the config's embedded store should be, when it is missing and the
    config asks for the demo; does nothing otherwise (a missing store is then connect's error to report)."""
    if config.backend.kind != "embedded":
        return
    settings = config.backend.embedded
    path = config.resolve(settings.path)
    if path.exists() or not settings.demo:
        return
    from inquest.evals.sim.demo import ensure_demo_world as build  # only a first run pays for the simulator

    say(f"building the demo world in {path.parent} (once; seeded, so every machine gets the same one)…")
    world = build(path.parent)
    if world.store_path.resolve() != path.resolve():
        raise ConfigError(f"backend.embedded.path: the demo world is built as {world.store_path}, "
                          f"but the config names {path}")
