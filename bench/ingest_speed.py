"""Ingest throughput: one `investigate ingest` of a gzip'd collector file (OTLP/JSON, one export request a
line, examples/ingest/generate.py --big) into a fresh store, at three sizes.

ingest_spans_per_s is the 1M-span file's spans over the command's wall time; ingest_growth is the time per
span at 3M over the time per span at 0.3M (1.0 = linear). CPU time (user + system of the command) is given
beside each wall time, because on a shared machine the wall clock also measures the neighbours.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INVESTIGATE = Path(sys.prefix) / "bin" / "investigate"
SIZES = (300_000, 1_000_000, 3_000_000)


def _collector_file(folder: Path, spans: int) -> tuple[Path, int]:
    """The file, generated once per size and kept (generation is not what is measured)."""
    sys.path.insert(0, str(ROOT / "examples" / "ingest"))
    from generate import write_big  # examples/ingest/generate.py: standard library only

    path = folder / f"collector-{spans}.jsonl.gz"
    count_file = path.with_suffix(".count")
    if not path.exists() or not count_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        count_file.write_text(str(write_big(path, spans)))
    return path, int(count_file.read_text())


def _ingest_once(path: Path, store: Path) -> tuple[float, float]:
    store.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(INVESTIGATE), "ingest", str(path), "--store", str(store), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"investigate ingest {path} failed ({done.returncode}): {done.stderr[-2000:]}")
    store.unlink(missing_ok=True)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def measure_ingest(data_dir: Path, sizes: tuple[int, ...] = SIZES) -> dict:
    figures: dict[str, object] = {}
    per_span: dict[int, float] = {}
    cpu_per_span: dict[int, float] = {}
    for size in sizes:
        path, spans = _collector_file(data_dir, size)
        wall, cpu = _ingest_once(path, data_dir / "ingest-bench.duckdb")
        per_span[size], cpu_per_span[size] = wall / spans, cpu / spans
        figures[f"ingest_{size // 1000}k_spans"] = spans
        figures[f"ingest_{size // 1000}k_s"] = round(wall, 2)
        figures[f"ingest_{size // 1000}k_cpu_s"] = round(cpu, 2)
        figures[f"ingest_{size // 1000}k_cpu_us_per_span"] = round(cpu_per_span[size] * 1e6, 1)
        if size == 1_000_000:
            figures["ingest_spans_per_s"] = round(spans / wall)
            figures["ingest_spans_per_cpu_s"] = round(spans / cpu)
    if 300_000 in per_span and 3_000_000 in per_span:
        figures["ingest_growth"] = round(per_span[3_000_000] / per_span[300_000], 3)
        # The same ratio in CPU time: on a shared machine the wall clock also measures the neighbours.
        figures["ingest_growth_cpu"] = round(cpu_per_span[3_000_000] / cpu_per_span[300_000], 3)
    return figures
