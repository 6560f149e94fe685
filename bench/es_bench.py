"""The Elasticsearch backend at volume: ≥ 1M log records and ≥ 200k spans in a real server speaking the
Elasticsearch REST API (noida-db on 127.0.0.1), the demo investigation run against it, and how much
came back to the client compared with what the cluster holds.

    .venv/bin/python bench/es_bench.py            # or es() from bench/measures.py

The world is the demo world at `SCALE` (cached under .inquest/es-bench/) plus `EXTRA_LOGS` INFO log
lines generated inside DuckDB (request chatter spread over the day's services and hosts: nothing an
agent looks for), so the embedded store and the cluster hold exactly the same records and the two
answers can be compared. Set INQUEST_ES_URL to measure a real cluster instead (it is loaded under
index names of its own, removed afterwards).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".inquest" / "es-bench"
SCALE = 0.3  # the demo world at 0.3 holds ~218k spans
EXTRA_LOGS = 1_000_000

# Each extra line: a service's own host, a request path and a latency, at a time within the world's day.
_EXTRA_LOGS_SQL = """
INSERT INTO logs
SELECT TIMESTAMP '2026-11-03 11:30:00' + to_microseconds(CAST(i * 11400000000 // {n} AS BIGINT)),
       NULL, NULL, 'INFO', 9, h."service.name", h."host.name",
       'handled ' || (['GET /products/', 'GET /search?q=', 'POST /cart/items/', 'GET /'])[1 + i % 4]
         || (i * 7919 % 100000)::VARCHAR || ' in ' || (i * 31 % 900)::VARCHAR || ' ms', NULL
FROM range({n}) t(i)
JOIN (SELECT row_number() OVER () - 1 AS k, * FROM (SELECT DISTINCT "service.name", "host.name" FROM spans)) h
  ON h.k = i % (SELECT count(*) FROM (SELECT DISTINCT "service.name", "host.name" FROM spans))
"""


def _world_with_extra_logs() -> Path:
    """The demo world at SCALE with EXTRA_LOGS more log lines, built once and kept."""
    import duckdb

    from inquest.evals.sim.demo import ensure_demo_world

    world = ensure_demo_world(DATA / "world", scale=SCALE)
    store = DATA / f"bench-{SCALE}-{EXTRA_LOGS}.duckdb"
    if not store.exists():
        partial = store.with_suffix(".partial")
        shutil.copyfile(world.store_path, partial)
        with duckdb.connect(str(partial)) as con:
            con.execute("SET enable_progress_bar = false")
            con.execute(_EXTRA_LOGS_SQL.format(n=EXTRA_LOGS))
            con.execute("CREATE OR REPLACE TABLE logs AS SELECT * FROM logs ORDER BY timestamp")
            con.execute("CHECKPOINT")
        partial.rename(store)
    return store


def _kb(path: str, key: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


class MemoryWatch:
    """Samples the server's resident memory every second; stops the server (and so the benchmark)
    before the machine runs out, since the test server keeps every document in memory."""

    def __init__(self, server, floor_mb: int = 1500) -> None:
        self.server, self.floor_mb, self.peak_mb, self.stopped = server, floor_mb, 0.0, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        pid = self.server.process.pid
        while not self._done.wait(1.0) and self.server.process.poll() is None:
            self.peak_mb = max(self.peak_mb, _kb(f"/proc/{pid}/status", "VmRSS:") / 1024)
            if _kb("/proc/meminfo", "MemAvailable:") / 1024 < self.floor_mb:
                self.stopped = True
                self.server.stop()

    def close(self) -> None:
        self._done.set()
        self._thread.join()


def local_server():
    """A noida-db server of the bench's own, which dies with this process and removes its data (a
    ServerProcess, tests/server_process.py): it holds every document, hundreds of MB, on disk as it
    changes, in memory when the machine has a tmpfs."""
    sys.path.insert(0, str(ROOT / "tests"))
    from contract.es_server import NoidaServer

    scratch = tempfile.mkdtemp(prefix="inquest-es-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    return NoidaServer(Path(scratch), startup_timeout_s=120)


def es() -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from contract.conftest import index_names

    from inquest.agents.base import Deps
    from inquest.config import CodeConfig, Config, ElasticsearchBackend, InvestigationConfig
    from inquest.coordinator.investigation import investigate
    from inquest.errors import BackendError
    from inquest.ingest.es_loader import drop_loaded, load_store
    from inquest.tools.backends.elasticsearch.connection import TransferMeter, open_client
    from inquest.tools.backends.elasticsearch.store import ElasticsearchStore
    from inquest.tools.backends.embedded_store import EmbeddedStore
    from inquest.tools.code_history import CodeHistory

    store_path = _world_with_extra_logs()
    embedded = EmbeddedStore(store_path)
    rows = {t: embedded._con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # counting only
            for t in ("spans", "logs", "metrics", "changes", "db_query_stats", "incidents")}
    real = os.environ.get("INQUEST_ES_URL")
    with ExitStack() as stack:
        if real:
            connection = {"urls": (real,), "api_key": os.environ.get("INQUEST_ES_API_KEY") or None}
            prefix, server, watch = f"inquest-bench-{os.getpid()}", None, None
        else:
            server = stack.enter_context(local_server())
            watch = MemoryWatch(server)
            stack.callback(watch.close)
            connection, prefix = {"urls": (server.url,)}, "bench"
        settings = ElasticsearchBackend(**connection, request_timeout_s=1800, max_retries=0, connections=2,
                                        **index_names(prefix))
        meter = TransferMeter()
        client = open_client(settings, ROOT, meter)
        started = time.perf_counter()
        try:
            loaded = load_store(store_path, client, settings)
        except BackendError:
            if watch and watch.stopped:
                raise SystemExit(f"es bench stopped while loading: under {watch.floor_mb} MB of memory left "
                                 f"(the server had reached {watch.peak_mb:.0f} MB)") from None
            raise
        load_s = time.perf_counter() - started
        stored = sum(client.count(index=settings.index(kind))["count"] for kind in loaded)
        if real:
            stack.callback(drop_loaded, client, settings)

        config = Config(base_dir=ROOT, code=CodeConfig(repository=DATA / "world" / "shop-repo"),
                        investigation=InvestigationConfig(agent_timeout_s=3600))
        code = CodeHistory(config.repository_for)
        cluster = ElasticsearchStore(settings, client=client, meter=meter)
        incident = next(i for i in cluster.incidents() if i.id == "INC-1042")
        before = cluster.meter.snapshot()
        started = time.perf_counter()
        report = investigate(incident, Deps(backend=cluster, code=code, config=config))
        investigation_s = time.perf_counter() - started
        moved = {k: v - before[k] for k, v in cluster.meter.snapshot().items()}
        started = time.perf_counter()
        templates = cluster.log_templates(incident.window)
        log_templates_s = time.perf_counter() - started

        reference = investigate(incident, Deps(backend=embedded, code=code, config=config))
        ranked = lambda r: [(h.service, h.change.id if h.change else None) for h in r.hypotheses]  # noqa: E731
        return {
            "es_server": "real cluster" if real else "noida-db (test server) on 127.0.0.1",
            "es_log_records": rows["logs"], "es_spans": rows["spans"], "es_documents_stored": stored,
            "es_load_s": round(load_s, 1), "es_load_documents_per_s": round(stored / load_s),
            "es_investigation_s": round(investigation_s, 1),
            "es_agents": {a.agent: a.status for a in report.agents},
            "es_requests": moved["requests"], "es_response_bytes": moved["response_bytes"],
            "es_documents_transferred": moved["documents"],
            "es_transferred_per_stored": f"{moved['documents']}/{stored} = {moved['documents'] / stored:.2e}",
            "es_log_templates_s": round(log_templates_s, 1), "es_log_templates_rows": len(templates),
            "es_same_answer_as_embedded": ranked(report) == ranked(reference),
            "es_root_cause": report.root_cause.change.id if report.root_cause and report.root_cause.change else None,
            "es_server_peak_rss_mb": round(watch.peak_mb) if watch else None,
        }


if __name__ == "__main__":
    print(json.dumps(es(), indent=2))
