"""The backend seam: the wrappers and the fake are whole TelemetryBackends, and opening a backend never
needs the simulator."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from inquest.config import BackendConfig, Config, EmbeddedBackend
from inquest.connect import open_backend
from inquest.coordinator.shared_answers import SharedAnswers
from inquest.coordinator.traced_backend import TracedBackend
from inquest.core import Change, Window
from inquest.errors import ConfigError
from inquest.tools.backends.delegating import DelegatingBackend
from inquest.tools.backends.fake import FakeBackend, SpanStat
from inquest.tools.backends.protocol import TelemetryBackend

QUESTIONS = sorted(name for name, value in vars(TelemetryBackend).items()
                   if callable(value) and not name.startswith("_"))
T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(minutes=30))


@pytest.mark.parametrize("implementation", [DelegatingBackend, FakeBackend])
def test_every_question_of_the_protocol_is_implemented_with_its_parameters(implementation):
    for question in QUESTIONS:
        mine = getattr(implementation, question, None)
        assert mine is not None, f"{implementation.__name__} does not answer {question}: add it beside the protocol"
        assert list(inspect.signature(mine).parameters) == list(
            inspect.signature(getattr(TelemetryBackend, question)).parameters), question


def test_the_wrappers_answer_as_the_wrapped_backend_and_share_one_answer_per_question():
    fake = FakeBackend(changes=[Change(id="dep-1", at=T0 + timedelta(minutes=1), service="orders", kind="deploy",
                                       version="2.14.0")])
    fake.answer("span_stats", WINDOW, SpanStat("orders", "GET /orders", requests=10),
                SpanStat("checkout", "POST /checkout", requests=5))
    wrapped = TracedBackend(SharedAnswers(fake))
    assert wrapped.name == "fake" and isinstance(wrapped, TelemetryBackend)
    assert wrapped.span_stats(WINDOW, "orders").records() == [fake.span_stats(WINDOW, "orders").records()[0]]
    fake.asked.clear()
    for _ in range(3):
        assert [c.id for c in wrapped.changes(WINDOW).items] == ["dep-1"]
    assert fake.asked == ["changes"]  # asked three times, computed once


def test_a_report_without_a_root_cause_says_what_time_range_the_store_holds():
    from inquest.agents.base import Deps
    from inquest.config import Config
    from inquest.coordinator.investigation import investigate
    from inquest.core import Held, Incident
    from inquest.tools.code_history import CodeHistory

    incident = Incident(id="INC-9", title="slow", service="orders", started_at=T0, window=WINDOW)
    day_before = T0 - timedelta(days=1)
    fake = FakeBackend(incidents=[incident]).answer(
        "time_range", None, Held("spans", 1200, day_before, day_before + timedelta(hours=1)),
        Held("logs", 0), Held("metrics", 40, day_before, day_before + timedelta(minutes=50)))
    config = Config()
    report = investigate(incident, Deps(backend=fake, code=CodeHistory(config.repository_for), config=config), agents=[])
    assert report.root_cause is None and report.scope.coverage is not None
    assert [(h.kind, h.records, h.last) for h in report.scope.coverage.held] == [
        ("spans", 1200, day_before + timedelta(hours=1)), ("logs", 0, None),
        ("metrics", 40, day_before + timedelta(minutes=50))]


def test_opening_a_missing_demo_store_does_not_build_it(tmp_path):
    store = tmp_path / "demo.duckdb"
    config = Config(base_dir=tmp_path, backend=BackendConfig(embedded=EmbeddedBackend(path=store, demo=True)))
    with pytest.raises(ConfigError, match="does not exist"):
        open_backend(config)
    assert list(tmp_path.iterdir()) == []


def test_the_command_builds_the_demo_world_as_an_explicit_step(tmp_path, monkeypatch):
    from inquest.commands import demo_world
    from inquest.evals.sim import demo as world

    built = []

    def build(data_dir):
        built.append(data_dir)
        (data_dir / "demo.duckdb").touch()
        return world.DemoWorld(store_path=data_dir / "demo.duckdb", repo_path=data_dir / "repo",
                               guilty_change_id="", guilty_commit="", incident_id="INC-1042")

    monkeypatch.setattr(world, "ensure_demo_world", build)
    config = Config(base_dir=tmp_path, backend=BackendConfig(embedded=EmbeddedBackend(path="demo.duckdb", demo=True)))
    demo_world.ensure_demo_world(config, say=lambda _m: None)
    demo_world.ensure_demo_world(config, say=lambda _m: None)  # built once: the store now exists
    assert built == [tmp_path]


def test_the_engine_imports_no_simulator_module():
    """The CLI, an investigation, replay and the benchmarks load without `inquest.evals`: the simulator is
    imported only when a world is built."""
    modules = ["inquest.cli", "inquest.commands.investigate", "inquest.commands.incidents", "inquest.connect",
               "inquest.coordinator.investigation", "inquest.replay.runner", "inquest.replay.cases", "inquest.replay.worlds",
               "inquest.commands.replay", "inquest.commands.bench", "inquest.agents"]
    code = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n" \
           "print(sorted(m for m in sys.modules if m.startswith('inquest.evals')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
