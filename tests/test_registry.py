"""One plug-in mechanism: entry points, read lazily, for agents and renderers alike (inquest/registry.py)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_config

from inquest import registry
from inquest.cli import main
from inquest.config import ConfigError, parse_config

PLUGIN = textwrap.dedent('''
    from inquest.core import Finding


    class CanaryAgent:
        """A third-party specialist: it only says it ran, in a note the report carries."""

        name = "canary"

        def investigate(self, incident, scope, deps):
            note = f"canary looked at {incident.service} for {incident.id}"
            return Finding(agent=self.name, status="ok", notes=(note,))
''')


@pytest.fixture
def canary_distribution(tmp_path, monkeypatch):
    """A distribution as pip would install it: a module and its dist-info with an entry_points.txt.
    importlib.metadata finds it on any sys.path entry; no list in the project names it."""
    site = tmp_path / "site"
    (site / "inquest_canary-0.1.dist-info").mkdir(parents=True)
    (site / "inquest_canary.py").write_text(PLUGIN)
    (site / "inquest_canary-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: inquest-canary\nVersion: 0.1\n")
    (site / "inquest_canary-0.1.dist-info" / "entry_points.txt").write_text(
        "[inquest.agents]\ncanary = inquest_canary:CanaryAgent\n")
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    yield site
    monkeypatch.undo()
    registry.refresh()
    sys.modules.pop("inquest_canary", None)


def test_a_plugin_agent_from_an_entry_point_passes_config_and_runs_in_an_investigation(
        canary_distribution, demo_world, tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(Path(write_config(demo_world, tmp_path)).read_text()
                   + "investigation:\n  agents: [trace, db, metrics, logs, deployment, code_diff, impact, canary]\n")
    assert "inquest_canary" not in sys.modules  # known from metadata alone until a run asks for it
    code = main(["INC-1042", "--format", "json", "--config", str(cfg)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["agents"]["canary"]["status"] == "ok"
    assert any(n.startswith("canary: canary looked at") and "INC-1042" in n for n in report["notes"])
    assert "dep-orders-2.14.0" in json.dumps(report["hypotheses"][0])  # the built-ins still rank as before


def test_an_unknown_agent_names_the_key_the_known_ones_and_a_near_match(tmp_path):
    with pytest.raises(ConfigError) as raised:
        parse_config("investigation:\n  agents: [trace, metrix]\n", "config.yaml", tmp_path)
    message = str(raised.value)
    assert "agents" in message and "metrix" in message
    assert all(name in message for name in ("trace", "db", "metrics", "logs", "deployment", "code_diff", "impact"))
    assert "did you mean metrics?" in message


def test_built_ins_are_entry_points_and_importing_the_cli_loads_no_agent_or_renderer():
    assert set(registry.names(registry.AGENTS)) >= {"trace", "db", "metrics", "logs", "deployment", "code_diff", "impact"}
    assert set(registry.names(registry.RENDERERS)) >= {"json", "markdown", "text", "html"}
    assert set(registry.names(registry.BACKENDS)) >= {"embedded", "elasticsearch"}
    assert set(registry.names(registry.ATTACH)) >= {"github", "jira", "slack", "webhook"}
    probe = ("import sys, inquest.cli, inquest.config, inquest.agents; "
             "print(sorted(m for m in sys.modules if m.startswith(('inquest.agents.', 'inquest.render.'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "inquest.agents.trace" not in loaded and "inquest.render.markdown" not in loaded
