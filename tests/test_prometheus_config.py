"""backend.metrics in config.yaml: read as documented, and a mistake is one line naming the key."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from inquest.config import ConfigError, parse_config
from inquest.connect import open_backend
from inquest.tools.backends.embedded_schema import create_schema


def test_metrics_from_prometheus_beside_the_store(tmp_path: Path):
    store = tmp_path / "store.duckdb"
    with duckdb.connect(str(store)) as con:  # an empty store
        create_schema(con)
    config = parse_config(f"backend:\n  embedded: {{path: {store}, demo: false}}\n"
                          "  metrics: {kind: prometheus, url: 'http://127.0.0.1:9'}\n", "conf.yaml", tmp_path)
    backend = open_backend(config)
    assert backend.name == "embedded+prometheus"
    assert config.backend.metrics is not None and config.backend.metrics.labels.host == ("pod", "instance")


@pytest.mark.parametrize("text, names", [
    ("backend: {metrics: {kind: graphite, url: 'http://x'}}\n", "backend.metrics.kind"),
    ("backend: {metrics: {kind: prometheus, url: 'prometheus:9090'}}\n", "backend.metrics.url"),
    ("backend: {metrics: {kind: prometheus, timeout_s: 0}}\n", "backend.metrics.timeout_s"),
    ("backend: {metrics: {kind: prometheus, labels: {service: []}}}\n", "backend.metrics.labels.service"),
    ("backend: {metrics: {kind: prometheus, bearer_token: abc123}}\n", "${BEARER_TOKEN}"),
])
def test_a_bad_metrics_backend_is_one_line_naming_the_key(text: str, names: str):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "conf.yaml", Path("."))
    assert names in str(err.value) and "\n" not in str(err.value), str(err.value)
