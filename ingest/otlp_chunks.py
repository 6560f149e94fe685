"""OTLP/JSON files parsed in chunks of lines into Arrow batches, on worker processes when a file is large.

Parsing is where ingest spends its time (JSON into Python objects, then each span checked), and lines are
independent, so the reading process only splits the (decompressed) file into chunks of a few megabytes
and worker processes turn each into columnar batches plus the rejections; results come back in file order,
so rejections keep their order and a store sees the same rows as from one process. At most a few chunks are
in flight at once: memory stays bounded by the chunk size, not the file's.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from inquest.errors import BackendError
from inquest.ingest.arrow_rows import COLUMNAR_TABLES, arrow_batch
from inquest.ingest.ndjson import Record, Rejection, is_pretty_printed, iter_lines, parse_line
from inquest.ingest.otlp import iter_otlp_records, records_from_document
from inquest.ingest.otlp_sql import FastSpans

CHUNK_BYTES = 4 * 1024 * 1024  # of JSON text per chunk: ~8,000 spans, a few times the cost of sending it
# What DuckDB reads at once (otlp_sql.py): each read costs a query's set-up, so more than a worker's chunk, yet
# its parsed form stays a few hundred megabytes.
FAST_CHUNK_BYTES = 32 * 1024 * 1024
# Below this size on disk a file is parsed in the reading process: starting workers costs ~0.3 s.
PARALLEL_FILE_BYTES = 4 * 1024 * 1024
REJECTIONS_KEPT = 20  # per chunk; the rest are only counted
_IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: enough to keep it busy, few enough to bound memory


@dataclass
class ChunkResult:
    """What a chunk of lines holds: per table, an Arrow batch (or rows, for tables kept as rows)."""

    batches: dict[str, pa.Table | list[tuple[Any, ...]]] = field(default_factory=dict)
    accepted: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first REJECTIONS_KEPT
    rejected: int = 0


Line = tuple[int, str] | Rejection


def parse_chunk(file: str, lines: list[Line]) -> ChunkResult:
    """Records of every line (or the reader's rejections, passed through in order) as batches."""
    collector = _Collector()
    for line in lines:
        parsed = line if isinstance(line, Rejection) else parse_line(file, *line)
        if isinstance(parsed, Rejection):
            collector.add(parsed)
        else:
            for item in records_from_document(parsed[1], file, parsed[0]):
                collector.add(item)
    return collector.finish()


class _Collector:
    def __init__(self) -> None:
        self.result = ChunkResult()
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, item: Record | Rejection) -> None:
        if isinstance(item, Rejection):
            self.result.rejected += 1
            if len(self.result.rejections) < REJECTIONS_KEPT:
                self.result.rejections.append(item)
        else:
            self.rows.setdefault(item.table, []).append(item.row)

    def finish(self) -> ChunkResult:
        for table, rows in self.rows.items():
            self.result.accepted[table] = len(rows)
            self.result.batches[table] = _columnar(table, rows)
        return self.result


def _columnar(table: str, rows: list[tuple[Any, ...]]) -> pa.Table | list[tuple[Any, ...]]:
    if table not in COLUMNAR_TABLES:
        return rows
    try:
        return arrow_batch(table, rows)
    except (pa.ArrowException, OverflowError):
        return rows  # a value Arrow will not take as it is: the store's CSV route casts it


class ChunkParser:
    """Parses OTLP files chunk by chunk; starts `workers` processes for the first large file and keeps
    them for the rest of the ingest."""

    def __init__(self, workers: int = 1, fast_path: bool = True) -> None:
        self.workers = workers
        self.fast_path = fast_path  # False: every line through otlp.py (the reference the fast path is tested against)
        self._pool: ProcessPoolExecutor | None = None
        self._fast: FastSpans | None = None

    def chunks(self, path: Path, max_line_bytes: int) -> Iterator[ChunkResult]:
        lines = iter_lines(path, max_line_bytes)
        head: list[Line] = []
        for item in lines:
            head.append(item)
            if not isinstance(item, Rejection):
                break
        if head and not isinstance(head[-1], Rejection) and is_pretty_printed(head[-1][1]):
            yield _whole_file(path, max_line_bytes)  # one document; iter_json_documents reads it whole
            return
        if self._fast is None and self.fast_path:
            self._fast = FastSpans()
        split: Iterator[tuple[ChunkResult | None, list[Line]]] = (
            self._split(chunk) for chunk in _chunked(head, lines, FAST_CHUNK_BYTES if self._fast else CHUNK_BYTES))
        if self._fast is not None:
            # Reading the next chunk (gzip, then DuckDB's reader; both release the GIL) on a thread while the
            # caller merges this one into the store: the two use different cores.
            split = prefetched(split)
        if self.workers < 2 or path.stat().st_size < PARALLEL_FILE_BYTES:
            for fast, rest in split:
                if fast is not None:
                    yield fast
                for piece in _pieces(rest):
                    yield parse_chunk(str(path), piece)
        else:
            yield from self._in_workers(path, split)

    def _split(self, chunk: list[Line]) -> tuple[ChunkResult | None, list[Line]]:
        """(the spans DuckDB read, the lines otlp.py must read, in file order)."""
        if self._fast is None:
            return None, chunk
        eligible = [line for line in chunk if not isinstance(line, Rejection) and self._fast.eligible(line[1])]
        spans, back = self._fast.read(eligible)
        read_fast = {line[0] for line in eligible}.difference(back)
        rest = [line for line in chunk if isinstance(line, Rejection) or line[0] not in read_fast]
        if spans is None:
            return None, rest
        return ChunkResult(batches={"spans": spans}, accepted=Counter(spans=spans.num_rows)), rest

    def _in_workers(self, path: Path, split: Iterator[tuple[ChunkResult | None, list[Line]]]) -> Iterator[ChunkResult]:
        if self._pool is None:
            # spawn: workers inherit no DuckDB threads or locks, and are this process's children, so its CPU
            # accounting (and the benchmark's) includes theirs.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        pending: deque[Future[ChunkResult]] = deque()
        try:
            for fast, rest in split:
                if fast is not None:
                    yield fast  # rejections come only from otlp.py's chunks, which stay in file order
                for piece in _pieces(rest):
                    pending.append(self._pool.submit(parse_chunk, str(path), piece))
                    if len(pending) >= self.workers * _IN_FLIGHT_PER_WORKER:
                        yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as exc:
            raise BackendError(f"{path}: a worker process parsing it stopped ({exc}); nothing after the last "
                               "loaded batch of this file was stored") from None
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ChunkParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunked(head: list[Line], rest: Iterator[Line], chunk_bytes: int = CHUNK_BYTES) -> Iterator[list[Line]]:
    chunk, size = list(head), sum(len(i[1]) for i in head if not isinstance(i, Rejection))
    for item in rest:
        chunk.append(item)
        size += 0 if isinstance(item, Rejection) else len(item[1])
        if size >= chunk_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


_T = TypeVar("_T")


def prefetched(items: Iterator[_T], depth: int = 1) -> Iterator[_T]:
    """`items`, produced on a thread up to `depth` ahead of the consumer; an exception in it is raised here, and
    the thread stops when the consumer does (after the item it is producing)."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> None:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                put((True, item))
                if stop.is_set():
                    return
            put((False, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            put((False, exc))

    thread = threading.Thread(target=produce, name="otlp-reader", daemon=True)
    thread.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get_nowait()
            thread.join(0.05)


def _pieces(lines: list[Line]) -> Iterator[list[Line]]:
    """The lines otlp.py reads, in pieces of about CHUNK_BYTES (what one worker parses at a time)."""
    if lines:
        yield from _chunked([], iter(lines))


def _whole_file(path: Path, max_line_bytes: int) -> ChunkResult:
    collector = _Collector()
    for item in iter_otlp_records(path, max_line_bytes):
        collector.add(item)
    return collector.finish()
