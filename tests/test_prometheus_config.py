"""backend.metrics in config.yaml, read as documented (its mistakes: test_config.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from inquest.config import parse_config
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
