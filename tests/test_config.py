from pathlib import Path

import pytest

from inquest.config import load_config, parse_config
from inquest.errors import ConfigError


def test_repository_config_loads_and_resolves_paths_against_its_folder(tmp_path: Path):
    (tmp_path / "conf.yaml").write_text("backend: {embedded: {path: data/x.duckdb}}\n")
    config = load_config(tmp_path / "conf.yaml")
    assert config.resolve(config.backend.embedded.path) == tmp_path / "data/x.duckdb"


def test_the_shipped_config_is_valid():
    config = load_config(Path(__file__).parents[1] / "config.yaml")
    assert "trace" in config.investigation.agents


@pytest.mark.parametrize("text, names", [
    ("bogus: 1\n", "unknown key 'bogus'"),
    ("investigation: {agent_timeout_s: soon}\n", "investigation.agent_timeout_s"),
    ("investigation: {baseline_minutes: -5}\n", "investigation.baseline_minutes"),
    ("investigation: {agents: [trace, psychic]}\n", "psychic"),
    ("impact: {slo_availability: 1.5}\n", "impact.slo_availability"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("backend: [unclosed\n", "not valid YAML"),
    ("backend: {metrics: {kind: graphite, url: 'http://x'}}\n", "backend.metrics.kind"),
    ("backend: {metrics: {kind: prometheus, url: 'prometheus:9090'}}\n", "backend.metrics.url"),
    ("backend: {metrics: {kind: prometheus, timeout_s: 0}}\n", "backend.metrics.timeout_s"),
    ("backend: {metrics: {kind: prometheus, labels: {service: []}}}\n", "backend.metrics.labels.service"),
])
def test_bad_config_is_one_clear_error_naming_the_key(text: str, names: str):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "conf.yaml", Path("."))
    assert names in str(err.value)
    assert str(err.value).startswith("conf.yaml")


def test_secrets_must_be_environment_references(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ConfigError, match=r"backend\.api_key: secrets may not be written"):
        parse_config("backend: {api_key: hunter2}\n", "conf.yaml", Path("."))
    monkeypatch.delenv("INQ_TEST_PATH", raising=False)
    # Unset, the reference is an error for the part that reads it (opening the store), not for loading.
    unresolved = parse_config("backend:\n  embedded:\n    path: ${INQ_TEST_PATH}\n", "conf.yaml", Path("."))
    unresolved.require_env("attach", "serve")
    with pytest.raises(ConfigError, match=r"backend\.embedded\.path: environment variable INQ_TEST_PATH is "
                                          "referenced but not set"):
        unresolved.require_env("backend.embedded")
    monkeypatch.setenv("INQ_TEST_PATH", "/data/store.duckdb")
    config = parse_config("backend:\n  embedded:\n    path: ${INQ_TEST_PATH}\n", "conf.yaml", Path("."))
    assert config.backend.embedded.path == Path("/data/store.duckdb")


def test_inquest_config_environment_variable_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "other.yaml").write_text("investigation: {agent_timeout_s: 3}\n")
    monkeypatch.setenv("INQUEST_CONFIG", str(tmp_path / "other.yaml"))
    assert load_config().investigation.agent_timeout_s == 3


def test_missing_config_file_names_it(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_attach_credentials_are_env_references_resolved_only_for_the_target_used(monkeypatch: pytest.MonkeyPatch):
    from inquest.attach import check_credentials
    from inquest.errors import AttachError

    monkeypatch.delenv("INQ_TEST_GH", raising=False)
    config = parse_config("attach:\n  github: {token: '${INQ_TEST_GH}'}\n", "conf.yaml", Path("."))
    check_credentials(["slack"], config, environ={"SLACK_WEBHOOK_URL": "https://hooks.example/x"})
    with pytest.raises(AttachError) as err:
        check_credentials(["github"], config, environ={})
    assert str(err.value).startswith("--attach github: $INQ_TEST_GH is not set (attach.github.token)")
    check_credentials(["github"], config, environ={"INQ_TEST_GH": "ghp_x"})
    with pytest.raises(ConfigError, match=r"attach\.slack\.webhook_url: secrets may not be written"):
        parse_config("attach:\n  slack: {webhook_url: 'https://hooks.slack.com/services/T/B/x'}\n", "conf.yaml", Path("."))


def test_the_old_token_env_style_still_works_with_one_warning(caplog: pytest.LogCaptureFixture):
    from inquest.attach import check_credentials
    from inquest.errors import AttachError

    with caplog.at_level("WARNING", logger="inquest.config"):
        config = parse_config("attach:\n  github: {token_env: MY_GH}\n  jira: {user_env: MY_USER}\n",
                              "conf.yaml", Path("."))
    assert config.attach.github.token == "${MY_GH}" and config.attach.jira.user == "${MY_USER}"
    assert [r.getMessage() for r in caplog.records] == [
        "attach.github.token_env is deprecated: write attach.github.token: ${MY_GH} instead",
        "attach.jira.user_env is deprecated: write attach.jira.user: ${MY_USER} instead"]
    with pytest.raises(AttachError, match=r"\$MY_GH is not set \(attach\.github\.token\)"):
        check_credentials(["github"], config, environ={"GITHUB_TOKEN": "the new default is not read"})
