"""`investigate --llm claude` as a user runs it, and the default mode left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_config

from inquest.cli import main
from inquest.evals.sim.demo import GUILTY_CHANGE_ID
from llm import scripts
from llm.anthropic_server import API_KEY

# Runs the CLI in a fresh process behind the same guard the test session has: any connection to a
# non-loopback address fails, so crewai phoning home, or a request meant for the real API, would show.
BOOTSTRAP = textwrap.dedent("""
    import ipaddress, socket, sys
    real = socket.socket.connect
    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family != socket.AF_UNIX and host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"blocked connection to {address!r}")
        return real(self, address)
    socket.socket.connect = guarded
    from inquest.cli import main
    code = main(sys.argv[1:])
    print("CREWAI-LOADED" if "crewai" in sys.modules else "CREWAI-NOT-LOADED", file=sys.stderr)
    sys.exit(code)
""")


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BOOTSTRAP, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "INQUEST_", "OTEL_", "CREWAI_", "XDG_"))}
    return {**env, "HOME": str(home), **extra}


def test_investigate_with_llm_claude_completes_as_json_from_a_fresh_process(serve, demo_world, tmp_path):
    server = serve(scripts.well_behaved)
    home = tmp_path / "home"
    result = run_cli(["INC-1042", "--llm", "claude", "--format", "json", "--config", write_config(demo_world, tmp_path)],
                     clean_env(home, ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=server.url), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["usage"]["mode"] == "llm" and report["usage"]["model"] == "claude-sonnet-4-6"
    assert report["usage"]["llm_calls"] == len(server.messages_requests()) > 0
    assert report["usage"]["ungrounded_claims"] == 3 and report["usage"]["partial"] is False
    assert report["usage"]["prompt_version"].startswith("v1-")
    # the LLM stage's time, and the model's own share of it (the difference is Inquest's)
    assert report["usage"]["llm_stage_ms"] >= report["usage"]["llm_model_ms"] > 0
    assert report["hypotheses"][0]["change"]["id"] == GUILTY_CHANGE_ID
    assert report["hypotheses"][0]["mitigation"].startswith("roll back orders")
    assert report["usage"]["narrative"] and all(c["evidence"] for c in report["usage"]["narrative"])
    evidence = {e["id"] for e in report["evidence"]}
    assert all(set(h["evidence"]) <= evidence for h in report["hypotheses"])
    assert {"llm-db", "llm-coordinator"} <= set(report["agents"])
    assert server.violations == []


def test_without_an_api_key_llm_mode_fails_with_one_line_saying_what_to_set(demo_world, tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code = main(["INC-1042", "--llm", "claude", "--config", write_config(demo_world, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "ANTHROPIC_API_KEY" in err and err.startswith("investigate: error:")


def test_llm_in_config_yaml_turns_the_mode_on_and_a_renamed_key_variable_is_named(demo_world, tmp_path, capsys):
    config = Path(write_config(demo_world, tmp_path))
    config.write_text(config.read_text() + "llm:\n  provider: claude\n  api_key_env: ACME_CLAUDE_KEY\n")
    assert main(["INC-1042", "--config", str(config)]) == 2
    assert "set ACME_CLAUDE_KEY" in capsys.readouterr().err


@pytest.mark.parametrize("text, names", [
    ("llm: {provider: gpt}\n", "llm.provider"),
    ("llm: {model: claude-imaginary-9}\n", "no entry for the model 'claude-imaginary-9'"),
    ("llm: {budgets: {dollars: 0}}\n", "llm.budgets.dollars"),
    ("llm: {api_key: sk-ant-abc}\n", "llm.api_key: secrets may not be written"),
    ("llm: {api_key_env: 'not a name'}\n", "llm.api_key_env"),
])
def test_a_bad_llm_section_is_one_clear_error_naming_the_key(text, names):
    from inquest.config import parse_config
    from inquest.errors import ConfigError

    with pytest.raises(ConfigError, match=names):
        parse_config(text, "conf.yaml", Path("."))


def test_the_default_mode_needs_no_key_and_never_imports_crewai(demo_world, tmp_path):
    result = run_cli(["INC-1042", "--format", "json", "--config", write_config(demo_world, tmp_path)],
                     clean_env(tmp_path / "home"), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["usage"]["mode"] == "deterministic" and report["usage"]["llm_calls"] == 0
    assert report["usage"]["narrative"] == []
    assert "CREWAI-NOT-LOADED" in result.stderr


def test_crewai_log_lines_stay_off_stderr_after_its_implicit_basic_config():
    # crewai calls logging.error on the root logger, which runs basicConfig: a stderr handler on the root.
    program = ("import logging\nimport inquest.agents.llm.crew\nlogging.basicConfig()\n"
               "logging.getLogger('crewai.flow.flow').error('flow failed')\n"
               "logging.getLogger('inquest.probe').error('ours still shows')\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "flow failed" not in result.stderr and "ours still shows" in result.stderr
