"""What an investigation loads: the deterministic demo run and `import inquest.cli` pull in no scientific
stack, no LLM or cluster client and no simulator — each of those costs start-up time on every run
(issue 17: cold start; issue 11: no simulator at runtime). Measured by `make bench`, not here."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import write_config

# numpy is not here: DuckDB loads it to register the store's redaction function (inquest_redact).
HEAVY = ("scipy", "networkx", "crewai", "anthropic", "elasticsearch", "httpx", "uvicorn", "starlette", "rich",
         "inquest.evals")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n' + json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", "import json\n" + probe], capture_output=True, text=True,
                          timeout=300, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("inquest.evals"))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    loaded = _loaded_after("import inquest.cli")
    assert _heavy(loaded) == [] and "numpy" not in loaded


def test_the_demo_investigation_runs_without_the_scientific_stack(demo_world, tmp_path) -> None:
    config = write_config(demo_world, tmp_path)
    run = ("import contextlib, io\nfrom inquest.cli import main\nout = io.StringIO()\n"
           f"with contextlib.redirect_stdout(out): code = main(['INC-1042', '--format', 'json', '--config', {config!r}])\n"
           "assert code == 0, code\nassert 'dep-orders-2.14.0' in json.dumps(json.loads(out.getvalue())['hypotheses'][0])")
    assert _heavy(_loaded_after(run)) == []
