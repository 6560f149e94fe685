"""`investigate replay` as a user meets it: the scenario library scored, stored and compared; a broken
agent turning the exit code red; cases exported by ingest replayed from an archive; bad cases named."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from inquest.cli import main
from inquest.replay.cases import CaseError, discover_cases, load_case
from inquest.replay.worlds import materialise

LIBRARY_CASE = "n-plus-one-deploy"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ingest"


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> Path:
    """One cache of built worlds for the module: each test gets its own history but reuses the worlds."""
    return tmp_path_factory.mktemp("replay-worlds")


def data_dir_with(worlds: Path, folder: Path) -> Path:
    data = folder / "replay-data"
    data.mkdir()
    (data / "worlds").symlink_to(worlds, target_is_directory=True)
    return data


def config(folder: Path, data: Path, extra: str = "") -> str:
    path = folder / "config.yaml"
    path.write_text(f"replay:\n  data_dir: {data}\n{extra}")
    return str(path)


def replay_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["replay", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)


def run_installed(*args: str, plugins: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(plugins)} if plugins else dict(os.environ)
    return subprocess.run([f"{sys.prefix}/bin/investigate", "replay", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def write_agent_plugin(folder: Path, name: str, body: str) -> Path:
    plugins = folder / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / f"{name}.py").write_text(
        "import inquest.agents  # the real agents register first; this one replaces one of them\n"
        "from inquest.agents.base import Notebook, register\n"
        "from inquest.core import ChangeRef\n\n" + body)
    return plugins


def test_replay_scores_stores_and_draws_and_a_second_run_shows_no_regression(worlds, tmp_path, capsys):
    data = data_dir_with(worlds, tmp_path)
    cfg = config(tmp_path, data)
    code, first = replay_json(capsys, LIBRARY_CASE, "--config", cfg)
    assert code == 0
    assert set(first["summary"]) >= {"cases", "top1", "top3", "mrr", "p50_seconds", "p95_seconds"}
    assert first["summary"]["cases"] == 1 and first["summary"]["top1"] == 1.0 and first["summary"]["mrr"] == 1.0
    case = first["cases"][0]
    assert case["id"] == LIBRARY_CASE and case["rank_of_truth"] == 1 and case["seconds"] > 0
    assert case["truth"] == {"service": "orders", "change": "dep-orders-2.14.0", "fault": "n_plus_one"}
    assert case["top"]["change"] == "dep-orders-2.14.0" and case["agent_failures"] == []
    assert first["comparison"] is None
    html = Path(first["scorecard_html"])
    assert html == data / "scorecard.html" and "accuracy-chart" in html.read_text()

    code, second = replay_json(capsys, LIBRARY_CASE, "--compare", "last", "--config", cfg)
    assert code == 0
    assert second["comparison"]["against"] == first["run"]["id"] and not second["comparison"]["regressed"]
    assert second["comparison"]["cases"] == [{"id": LIBRARY_CASE, "before": 1, "after": 1, "verdict": "same",
                                              "regression": False}]
    with sqlite3.connect(data / "history.sqlite") as con:
        runs = con.execute("SELECT id, engine_version, config_hash FROM runs ORDER BY started_at").fetchall()
        ranks = con.execute("SELECT run_id, rank_of_truth FROM case_results").fetchall()
    assert [r[0] for r in runs] == [first["run"]["id"], second["run"]["id"]]
    assert runs[0][1].startswith("0.") and runs[0][2] == runs[1][2]  # same engine settings, same hash
    assert sorted(ranks) == sorted([(first["run"]["id"], 1), (second["run"]["id"], 1)])


def test_a_raising_agent_makes_replay_exit_5_and_names_it(worlds, tmp_path):
    data = data_dir_with(worlds, tmp_path)
    plugins = write_agent_plugin(tmp_path, "broken_db", (
        '@register("db")\nclass BrokenDatabaseAgent:\n'
        '    def investigate(self, incident, scope, deps):\n'
        '        raise RuntimeError("deliberately broken for a replay drill")\n'))
    done = run_installed(LIBRARY_CASE, "--config", config(tmp_path, data, "  plugins: [broken_db]\n"),
                         plugins=plugins)
    assert done.returncode == 5, done.stderr
    assert "db (error)" in done.stdout and "agent failures: db in 1 case(s)" in done.stdout


def test_a_misleading_agent_is_a_regression_against_the_last_good_run(worlds, tmp_path, capsys):
    data = data_dir_with(worlds, tmp_path)
    assert main(["replay", LIBRARY_CASE, "--config", config(tmp_path, data)]) == 0
    capsys.readouterr()
    plugins = write_agent_plugin(tmp_path, "misled_deployment", (
        '@register("deployment")\nclass MisledDeploymentAgent:\n'
        '    """Blames the previous orders deploy: an off-by-one in picking the suspect change."""\n'
        '    def investigate(self, incident, scope, deps):\n'
        '        book = Notebook(self.name)\n'
        '        evidence = book.record("changes", "SELECT 1", "orders 2.13.2 was deployed before the onset")\n'
        '        book.suspect("orders 2.13.2 broke checkout", "orders", 0.95, [evidence],\n'
        '                     change=ChangeRef("dep-orders-2.13.2", "deploy", "2.13.2"))\n'
        '        return book.finding("ok")\n'))
    done = run_installed(LIBRARY_CASE, "--compare", "last", "--config",
                         config(tmp_path, data, "  plugins: [misled_deployment]\n"), plugins=plugins)
    assert done.returncode == 4, done.stderr
    assert "REGRESSION against run" in done.stdout and "n-plus-one-deploy: the truth went from #1 to" in done.stdout
    assert "worse #1→" in done.stdout


def _exported_case(folder: Path) -> Path:
    """A past incident as `ingest` would export it: its telemetry files and the known answer."""
    case = folder / "payments-idempotency"
    (case / "telemetry").mkdir(parents=True)
    for source in EXAMPLES.iterdir():
        if source.name != "generate.py" and source.name != "alertmanager.json":
            shutil.copy(source, case / "telemetry" / source.name)
    (case / "case.yaml").write_text(
        "id: payments-idempotency\nincident: INC-2001\ntelemetry: telemetry\n"
        "expected_agent_failures: [code_diff]   # the payments repository is not part of the export\n"
        "truth: {service: payments, change: dep-payments-4.2.0, fault: null}\n")
    return case


def test_an_archive_of_exported_incidents_replays_with_the_scenario_library(worlds, tmp_path, capsys):
    archive = tmp_path / "past-incidents.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(_exported_case(tmp_path / "export"), arcname="past-incidents/payments-idempotency")
    data = data_dir_with(worlds, tmp_path)
    code, run = replay_json(capsys, str(archive), LIBRARY_CASE, "--jobs", "2", "--config", config(tmp_path, data))
    by_id = {c["id"]: c for c in run["cases"]}
    assert code == 0, run
    assert by_id["payments-idempotency"]["rank_of_truth"] == 1
    assert by_id["payments-idempotency"]["top"]["change"] == "dep-payments-4.2.0"
    assert [f["expected"] for f in by_id["payments-idempotency"]["agent_failures"]] in ([], [True])
    assert by_id[LIBRARY_CASE]["rank_of_truth"] == 1 and run["summary"]["top1"] == 1.0


def test_a_case_whose_incident_is_not_in_its_world_fails_alone(worlds, tmp_path, capsys):
    cases = tmp_path / "cases"
    shutil.copytree(discover_cases([LIBRARY_CASE], tmp_path)[0].source.parent, cases / "good")
    (cases / "lost").mkdir()
    (cases / "lost" / "case.yaml").write_text(
        (cases / "good" / "case.yaml").read_text().replace("id: n-plus-one-deploy", "id: lost")
        .replace("incident: INC-1042", "incident: INC-9999"))
    data = data_dir_with(worlds, tmp_path)
    code, run = replay_json(capsys, str(cases), "--config", config(tmp_path, data))
    by_id = {c["id"]: c for c in run["cases"]}
    assert code == 5
    assert by_id["lost"]["status"] == "error" and "INC-9999" in by_id["lost"]["error"]
    assert "INC-1042" in by_id["lost"]["error"]  # says which incidents the world does have
    assert by_id["n-plus-one-deploy"]["rank_of_truth"] == 1 and run["summary"]["errors"] == 1


def test_worlds_are_built_once_and_reused(worlds, tmp_path):
    case = discover_cases([LIBRARY_CASE], tmp_path)[0]
    said: list[str] = []
    first = materialise(case, worlds, said.append)
    again = materialise(case, worlds, said.append)
    assert first == again and first.store_path.is_file() and (first.repo_path / ".git").is_dir()
    assert sum("building" in line for line in said) <= 1  # the module's first test may have built it


def test_a_case_naming_no_scenario_is_one_line_naming_the_case_and_the_known_ones(tmp_path):
    folder = tmp_path / "typo"
    folder.mkdir()
    (folder / "case.yaml").write_text("id: typo\nincident: INC-1\nworld: {scenario: n_plus_one_deploi}\n"
                                      "truth: {service: orders}\n", encoding="utf-8")
    with pytest.raises(CaseError) as caught:
        materialise(load_case(folder), tmp_path / "worlds")
    message = str(caught.value)
    assert "case.yaml" in message and "'n_plus_one_deploi', which is not a scenario" in message
    assert "n_plus_one_deploy" in message.split("known:")[1] and "\n" not in message


@pytest.mark.parametrize("text, complaint", [
    ("id: x\nincident: INC-1\ntruth: {service: orders, change: null}\n", "exactly one of 'world'"),
    ("id: x\nincident: INC-1\nworld: {scenario: n_plus_one_deploy, seed: seven}\ntruth: {service: a}\n",
     "'world.seed' must be an integer"),
    ("id: x\nincident: INC-1\nworld: {scenario: n_plus_one_deploy}\ntruth: {change: c}\n", "'truth.service'"),
    ("id: x\nincident: INC-1\nworld: {scenario: n_plus_one_deploy}\ntruth: {service: a}\nowner: me\n",
     "unknown key 'owner'"),
    ("incident: INC-1\nworld: {scenario: n_plus_one_deploy}\ntruth: {service: a}\n", "missing key 'id'"),
    ("id: [unclosed\n", "not valid YAML"),
])
def test_a_bad_case_file_is_refused_naming_the_file_and_the_key(tmp_path, text, complaint):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "case.yaml").write_text(text)
    with pytest.raises(CaseError) as caught:
        load_case(tmp_path / "bad")
    assert complaint in str(caught.value) and str(tmp_path / "bad" / "case.yaml") in str(caught.value)


def test_usage_errors_exit_2_with_the_reason(tmp_path, capsys):
    cfg = config(tmp_path, tmp_path / "data")
    assert main(["replay", "no-such-case", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert "no-such-case" in err and LIBRARY_CASE in err  # the library's ids are listed
    assert main(["replay", LIBRARY_CASE, "--compare", "20200101T000000Z-dead", "--config", cfg]) == 2
    assert "no replay run '20200101T000000Z-dead'" in capsys.readouterr().err
    assert main(["replay", "--every", "every night", "--config", cfg]) == 2
    assert "--every: 'every night' is not a cron expression" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("replay:\n  tolerance: {top1_drop: lots}\n")
    assert main(["replay", "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "replay.tolerance.top1_drop" in capsys.readouterr().err
