"""Large worlds generated inside DuckDB, for the scale benchmark: 12M records over 3 h 40 min, and 100M
records over a day (the history a team with a day of telemetry from a modest fleet holds).

Every row is computed by SQL over `range()`, with pseudo-randomness from `hash()` of the row number,
so generation is vectorised, deterministic and runs on all cores. The shape is the demo shop's
checkout path; at 14:00 orders' database calls slow down tenfold and a third of checkouts fail, after
a deploy of orders two minutes earlier, with a harmless frontend deploy as a red herring.

Generating takes minutes (the 100M world ~8 min of CPU, 20 on a busy machine), and is not what is measured: each world is kept under
.inquest/scale with a stamp of what built it, and rebuilt only when the generator, the store's schema
or DuckDB's version changes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

END = "2026-11-03 14:40:00"
FAULT_BEFORE_END = 40 * 60  # 14:00
# Rebuilding 17M spans with their self time and sorting 83M log lines by time takes ~6 GB at most; on a
# smaller or shared machine half its memory is the cap, and the rest spills to disk.
GENERATE_MEMORY_MB = min(6 * 1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**21)


@dataclass(frozen=True)
class World:
    prefix: str  # the figures' key prefix in bench-results.json
    traces: int  # × 8 spans
    logs: int
    seconds: int  # history before END; the incident is always the last 40 minutes

    @property
    def start(self) -> str:
        return f"(TIMESTAMP '{END}' - INTERVAL {self.seconds} SECOND)"

    @property
    def fault_at(self) -> int:
        return self.seconds - FAULT_BEFORE_END


# 12M: the first scale world, unchanged. 100M: a day, its density in the investigated windows 1.27× the 12M
# world's, so the questions read more rows and the store holds eight times as many.
WORLDS = {
    "scale": World("scale", traces=250_000, logs=10_000_000, seconds=3 * 3600 + 40 * 60),
    "scale100m": World("scale100m", traces=2_100_000, logs=83_200_000, seconds=24 * 3600),
}

# u(i, k): a deterministic uniform number in [0, 1) for row i and stream k.
U = "((hash({i}, {k}) % 1000000) / 1000000.0)"


def u(i: str, k: int) -> str:
    return U.format(i=i, k=k)


# One trace of the checkout path. Per-trace durations (ms) are computed bottom-up so that every parent
# contains its children: d1, d2 the two database calls, o = orders, cc = checkout's client call to it,
# p = payments, cs = checkout, fc = frontend's client call, f = the root.
def _durations(fault_at: int) -> str:
    return f"""
  SELECT *, 2 + d1 + 1 + d2 + 2 AS o FROM (
    SELECT i, sec, jitter, fail,
           (2 + 3 * {u('i', 11)}) * CASE WHEN sec >= {fault_at} THEN 10 ELSE 1 END AS d1,
           (2 + 3 * {u('i', 12)}) * CASE WHEN sec >= {fault_at} THEN 10 ELSE 1 END AS d2,
           50 + 50 * {u('i', 13)} AS p
    FROM traces)"""
# (span index, parent index, service, name, kind, start offset ms, duration ms, db statement)
SHAPE = [
    (0, None, "frontend", "POST /checkout", "SERVER", "0", "f", None),
    (1, 0, "frontend", "POST", "CLIENT", "1", "fc", None),
    (2, 1, "checkout", "POST /checkout", "SERVER", "2", "cs", None),
    (3, 2, "checkout", "POST", "CLIENT", "4", "cc", None),
    (4, 3, "orders", "POST /orders", "SERVER", "5", "o", None),
    (5, 4, "orders", "SELECT order_items", "CLIENT", "7", "d1", "SELECT id, sku, qty FROM order_items WHERE order_id = $1"),
    (6, 4, "orders", "SELECT products", "CLIENT", "8 + d1", "d2", "SELECT sku, price FROM products WHERE sku = ANY($1)"),
    (7, 2, "payments", "POST /payments", "SERVER", "6 + cc", "p", None),
]
PEER = {1: "'checkout'", 3: "'orders'", 5: "'orders-db'", 6: "'orders-db'"}


def _spans_sql(world: World) -> str:
    parts = []
    for idx, parent, service, name, kind, offset, duration, statement in SHAPE:
        t0 = "(t.sec * 1000000 + t.jitter)"
        failed = f"(t.sec >= {world.fault_at} AND t.fail AND {idx} IN (0, 1, 2, 3, 4))"
        parts.append(f"""
          SELECT printf('%032x', t.i) AS trace_id, printf('%016x', t.i * 8 + {idx}) AS span_id,
                 {"NULL" if parent is None else f"printf('%016x', t.i * 8 + {parent})"} AS parent_span_id,
                 '{service}' AS "service.name", '{service}-0' || (t.i % 3)::VARCHAR AS "host.name",
                 '{name}' AS name, '{kind}' AS kind,
                 {world.start} + to_microseconds({t0} + (({offset}) * 1000)::BIGINT) AS start_time,
                 {world.start} + to_microseconds({t0} + (({offset}) * 1000)::BIGINT
                                                        + (({duration}) * 1000)::BIGINT) AS end_time,
                 {duration} AS duration_ms,
                 CASE WHEN {failed} THEN 'ERROR' ELSE 'UNSET' END AS status_code,
                 CASE WHEN {failed} THEN 'timeout acquiring connection from pool' END AS status_message,
                 {"'POST'" if kind == "SERVER" else "NULL"} AS "http.request.method",
                 {f"'{name.split(' ')[1]}'" if kind == "SERVER" else "NULL"} AS "http.route",
                 {f"CASE WHEN {failed} THEN 500 ELSE 200 END" if kind == "SERVER" else "NULL"} AS "http.response.status_code",
                 {PEER.get(idx, "NULL")} AS "peer.service",
                 {"'postgresql'" if statement else "NULL"} AS "db.system",
                 {f"'{statement}'" if statement else "NULL"} AS "db.statement",
                 'u-' || (t.i % 50000)::VARCHAR AS "enduser.id", 't-' || (t.i % 300)::VARCHAR AS "tenant.id",
                 NULL::JSON AS attributes
          FROM (SELECT *, 1 + o + 1 AS cc, 2 + (1 + o + 1) + 2 + p + 2 AS cs,
                       1 + (2 + (1 + o + 1) + 2 + p + 2) + 1 AS fc, 2 + (1 + (2 + (1 + o + 1) + 2 + p + 2) + 1) + 3 AS f
                FROM ({_durations(world.fault_at)})) t""")
    return " UNION ALL ".join(parts)


def _statements(world: World) -> list[str]:
    """The SQL that fills the world, in order; the world's stamp is taken over this text."""
    services = "['frontend', 'checkout', 'orders', 'payments', 'catalog', 'inventory']"
    return [f"""CREATE TEMP TABLE traces AS
            SELECT i, (i * {world.seconds} // {world.traces})::BIGINT AS sec, (hash(i, 1) % 1000000)::BIGINT AS jitter,
                   {u('i', 2)} < 0.33 AS fail
            FROM range({world.traces}) r(i)""",
            f'INSERT INTO spans SELECT *, NULL AS self_ms FROM ({_spans_sql(world)})',
            f"""INSERT INTO logs SELECT
              {world.start} + to_microseconds((i::HUGEINT * {world.seconds} * 1000000 // {world.logs})::BIGINT) AS timestamp,
              printf('%032x', i % {world.traces}) AS trace_id, NULL AS span_id,
              CASE WHEN {u('i', 3)} < 0.02 THEN 'ERROR' WHEN {u('i', 3)} < 0.06 THEN 'WARN' ELSE 'INFO' END,
              CASE WHEN {u('i', 3)} < 0.02 THEN 17 WHEN {u('i', 3)} < 0.06 THEN 13 ELSE 9 END,
              {services}[1 + (i % 6)::INTEGER] AS "service.name", NULL AS "host.name",
              'handled request ' || (i % 9973)::VARCHAR || ' in ' || (hash(i, 4) % 200)::VARCHAR || ' ms' AS body,
              NULL::JSON AS attributes
            FROM range({world.logs}) r(i)""",
            f"""INSERT INTO metrics SELECT
              {world.start} + to_seconds(m * 30) AS timestamp, s AS "service.name", s || '-0' || h::VARCHAR,
              'process.cpu.utilization', 0.3 + 0.05 * {u('m * 100 + h', 5)}, '1', NULL
            FROM range({world.seconds // 30}) a(m), unnest({services}) b(s), range(3) c(h)""",
            """INSERT INTO changes VALUES
            ('dep-orders-9.1.0', TIMESTAMP '2026-11-03 13:58:00', 'orders', 'deploy', '9.1.0', NULL, 'acme/shop',
             'dev', 'orders: new pricing path'),
            ('dep-frontend-7.0.1', TIMESTAMP '2026-11-03 14:05:00', 'frontend', 'deploy', '7.0.1', NULL, 'acme/shop',
             'dev', 'frontend: copy change'),
            ('dep-orders-9.0.9', TIMESTAMP '2026-11-03 09:00:00', 'orders', 'deploy', '9.0.9', NULL, 'acme/shop',
             'dev', 'orders: earlier release')""",
            """INSERT INTO incidents (id, title, "service.name", started_at, window_start, window_end, symptoms, ticket)
            VALUES ('SCALE-1', 'checkout failing at scale', 'checkout',
            TIMESTAMP '2026-11-03 14:06:00', TIMESTAMP '2026-11-03 13:55:00', TIMESTAMP '2026-11-03 14:35:00',
            '["checkout 5xx"]', NULL)"""]


def generate(world: World, path: Path) -> dict:
    from inquest.tools.backends.embedded_schema import StoreWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with StoreWriter(path) as writer:
        con = writer.con
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{GENERATE_MEMORY_MB}MB'")
        con.execute(f"SET temp_directory = '{path.parent / 'spill'}'")
        for statement in _statements(world):
            con.execute(statement)
        loaded = time.perf_counter() - started
        writer.finish()
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("spans", "logs", "metrics")}
    total = time.perf_counter() - started
    records = counts["spans"] + counts["logs"] + counts["metrics"]
    return {"spans": counts["spans"], "logs": counts["logs"], "records": records,
            "generate_s": round(loaded, 1), "finish_s": round(total - loaded, 1),
            "ingest_records_per_s": round(records / total)}


PROBE = """
import json, resource, sys, time
from pathlib import Path
from inquest.agents.base import Deps
from inquest.config import Config, CodeConfig
from inquest.coordinator.investigation import investigate
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

class Counting:
    def __init__(self, inner):
        self.inner, self.name, self.most = inner, inner.name, {}
    def __getattr__(self, attr):
        real = getattr(self.inner, attr)
        def counted(*a, **k):
            out = real(*a, **k)
            rows = len(getattr(out, "rows", getattr(out, "items", out if isinstance(out, list) else ())))
            self.most[attr] = max(self.most.get(attr, 0), rows)
            return out
        return counted

started, cpu_started = time.perf_counter(), time.process_time()
config = Config(base_dir=Path(sys.argv[1]).parent, code=CodeConfig(repository=Path("/nonexistent")))
store = Counting(EmbeddedStore(Path(sys.argv[1]), memory_limit=config.backend.embedded.memory_limit))
deps = Deps(backend=store, code=CodeHistory(config.repository_for), config=config)
incident = next(i for i in store.incidents() if i.id == "SCALE-1")
report = investigate(incident, deps)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec from the forked parent, so a
# child of the ~2 GB generating process would report the parent's peak as its own.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_kb": peak_kb, "top": report.hypotheses[0].summary if report.hypotheses else None,
                  "top_change": report.hypotheses[0].change.id if report.hypotheses and report.hypotheses[0].change else None,
                  "most_rows": store.most, "agents": {a.agent: a.status for a in report.agents}}))
"""


class InvestigationFailed(SystemExit):
    """Ends the bench with its message unless caught: a kept world may predate what the engine now reads."""


def investigate_in_child(path: Path) -> dict:
    """Runs the investigation in its own process, so its peak RSS is its own."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise InvestigationFailed(f"scale investigation of {path} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _summary(runs: list[dict]) -> dict:
    # Median wall and CPU over the runs (the machine may be shared: wall time measures the neighbours too,
    # CPU time, all threads of the investigating process, does not); the highest peak RSS of any run.
    last = runs[-1]
    return {"investigation_s": round(statistics.median(r["seconds"] for r in runs), 2),
            "investigation_runs_s": [round(r["seconds"], 2) for r in runs],
            "investigation_cpu_s": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
            "peak_rss_mb": round(max(r["peak_rss_kb"] for r in runs) / 1024, 1),
            "max_rows_to_python": max(last["most_rows"].values()),
            "rows_by_question": last["most_rows"], "top_hypothesis": last["top"],
            "top_change": last["top_change"], "agents": last["agents"]}


def _stamp(world: World) -> str:
    """What a stored world depends on: the statements that fill it, how a load is finished (self time,
    order by time) and DuckDB's version (its file format). Not this file's prose: a comment changed must not
    cost a 100M-record rebuild. Nor the schema: a kept world is a store an older version wrote, which the
    engine reads as any user's (a column added since reads as NULL); if it no longer can, the world is
    rebuilt (measure_scale)."""
    from inquest.tools.backends import embedded_schema as schema

    parts = (*_statements(world), repr(schema.DERIVED_SPAN_COLUMNS), schema.SELF_TIME_SQL,
             inspect.getsource(schema.StoreWriter.finish), duckdb.__version__)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure_world(world: World, data_dir: Path, rebuild: bool = False) -> tuple[Path, dict, bool]:
    """The world's store, generated unless a matching one is kept; with the figures of its generation."""
    path, stamp_file = data_dir / f"{world.prefix}.duckdb", data_dir / f"{world.prefix}.stamp.json"
    stamp = _stamp(world)
    if path.exists() and stamp_file.exists() and not rebuild:
        kept = json.loads(stamp_file.read_text())
        if kept.get("stamp") == stamp:
            return path, kept["figures"], True
    stamp_file.unlink(missing_ok=True)
    figures = generate(world, path)
    stamp_file.write_text(json.dumps({"stamp": stamp, "figures": figures}, indent=2) + "\n")
    return path, figures, False


def measure_scale(data_dir: Path, world: World = WORLDS["scale"], runs: int = 3) -> dict:
    path, figures, cached = ensure_world(world, Path(data_dir))
    try:
        first = investigate_in_child(path)
    except InvestigationFailed:
        if not cached:
            raise
        path, figures, cached = ensure_world(world, Path(data_dir), rebuild=True)
        first = investigate_in_child(path)
    figures = {**figures, "world_cached": cached}
    figures.update(_summary([first, *(investigate_in_child(path) for _ in range(runs - 1))]))
    return {f"{world.prefix}_{key}": value for key, value in figures.items()}


if __name__ == "__main__":
    chosen = WORLDS[sys.argv[1] if len(sys.argv) > 1 else "scale"]
    print(json.dumps(measure_scale(Path(sys.argv[2] if len(sys.argv) > 2 else ".inquest/scale"), chosen), indent=2))
