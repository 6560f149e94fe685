"""Reading files of telemetry one record at a time: bounded lines, gzip, and rejections as values.

Every ingest format is read through here, so each gets the same guarantees: memory is bounded by the
longest line allowed (never by the file's size), a `.gz` file is decompressed while it streams, a
binary file is refused before anything is parsed, and a bad line becomes a `Rejection` naming the file,
the line and the reason while the lines after it still load.

Pure: nothing here knows about stores.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from inquest.errors import InputError
from inquest.lone_surrogates import has_lone_surrogate_escape, replace_lone_surrogates

# OTLP/HTTP servers are told to accept request bodies up to 20 MiB, and the Collector's file exporter
# writes one request per line, so a longer line is not one a real exporter wrote.
MAX_LINE_BYTES = 20 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SNIFF_BYTES = 8192
_ONE_LINE = str.maketrans({"\n": "\\n", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\x85",
                           "\v": "\\v", "\f": "\\f", "\x1c": "\\x1c", "\x1d": "\\x1d", "\x1e": "\\x1e"})
_BLOCK = 1024 * 1024
_CONTENT = re.compile(rb"\S")
# OTLP/JSON compresses 10-30x with gzip (the shipped example: 14x); a file that inflates 200x is repetition
# no exporter writes. Small files may inflate more (a few KB of headers), hence the floor.
MAX_INFLATION = 200
MIN_INFLATED_BYTES = 64 * 1024 * 1024


class Record(NamedTuple):
    """One row for one table, its values in `TABLES[table]` column order."""

    table: str
    row: tuple[Any, ...]


@dataclass(frozen=True)
class _AtLine:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"

    @property
    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Rejection(_AtLine):
    """A record (or a whole line) that could not be loaded, and why."""

    reason: str

    def __post_init__(self) -> None:
        # Reasons quote the input (a key, a value): its line breaks would split the one-line error.
        object.__setattr__(self, "reason", self.reason.translate(_ONE_LINE))

    @property
    def text(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Notice(_AtLine):
    """A record that loaded, with something a person should know about how it was read."""

    message: str

    @property
    def text(self) -> str:
        return self.message


# Both kinds of input buffer: peek (to sniff the content) and read1 (to keep what decompressed before a break).
ByteStream = gzip.GzipFile | io.BufferedReader


def open_input(path: Path | str) -> ByteStream:
    """Opens a file for streaming, decompressing gzip (recognised by its magic bytes, whatever the name).
    A file that is missing, unreadable or binary raises InputError: nothing in it can be loaded."""
    path = Path(path)
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        stream: ByteStream = gzip.open(path, "rb") if compressed else path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    except (OSError, EOFError, zlib.error) as exc:
        stream.close()
        raise InputError(f"{path}: cannot be decompressed: {exc}") from None
    if head.startswith(_ZSTD_MAGIC):
        stream.close()
        raise InputError(f"{path}: zstd-compressed (the Collector file exporter's `compression: zstd`); only "
                         "gzip is read: decompress it with `zstd -d` first")
    if b"\x00" in head:
        stream.close()
        raise InputError(f"{path}: binary content (NUL bytes), not text; expected OTLP/JSON, NDJSON or YAML")
    return stream


def iter_lines(path: Path | str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str] | Rejection]:
    """(line number, text) for each non-blank line, or a Rejection for a line too long or not UTF-8.
    A gzip stream that ends early rejects at the line where it broke off and ends the file there; one
    that inflates more than MAX_INFLATION times its size (a decompression bomb) too."""
    name = str(path)
    with open_input(path) as stream:
        lines = _LineReader(stream, max_line_bytes, _inflation_budget(Path(path), stream))
        for number, chunk in lines:
            if isinstance(chunk, int):
                yield Rejection(name, number, f"line is longer than {max_line_bytes:,} bytes ({chunk:,}+ bytes); "
                                              "skipped")
                continue
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rejection(name, number, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
                continue
            if number == 1:
                text = text.removeprefix("\ufeff")
            if text.strip():
                yield number, text
        if lines.failure:
            yield Rejection(name, lines.number + 1, lines.failure)


def _inflation_budget(path: Path, stream: ByteStream) -> float:
    """How many bytes a file may decompress to: MAX_INFLATION times its size, at least MIN_INFLATED_BYTES;
    unbounded when it is not compressed (its size is its size)."""
    if not isinstance(stream, gzip.GzipFile):
        return float("inf")
    return max(MIN_INFLATED_BYTES, MAX_INFLATION * path.stat().st_size)


class _LineReader:
    """Lines of a byte stream read in blocks and found in C: a search for the next non-space byte skips a
    run of blank lines in one step (100 MiB of newlines, gzipped to 100 KB, took 76 s read line by line),
    and `bytes.find` ends the line (a regular expression matching the line itself read 75 MB/s). Yields (number, bytes) for each line holding a non-space byte, and
    (number, length) for one longer than the limit, which is skipped; `read` counts the bytes read,
    `failure` says why reading stopped early."""

    def __init__(self, stream: ByteStream, limit: int, budget: float) -> None:
        self.stream, self.limit, self.budget = stream, limit, budget
        self.read, self.number, self.failure = 0, 0, ""

    def _block(self) -> bytes:
        if self.read > self.budget:
            self.failure = (f"decompresses to more than {self.budget:,.0f} bytes, over {MAX_INFLATION}x its "
                            "compressed size: not telemetry an exporter wrote (a decompression bomb); stopped here")
            return b""
        try:
            block = self.stream.read1(_BLOCK)  # read1: what decompressed before a break is kept
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self.failure = f"the file ends early: compressed data is truncated or corrupt ({exc})"
            return b""
        except OSError as exc:
            self.failure = f"reading stopped: {exc}"
            return b""
        self.read += len(block)
        return block

    def _line(self, line: bytes) -> tuple[int, bytes | int]:
        self.number += 1
        return self.number, line if len(line.rstrip(b"\n")) <= self.limit else len(line.rstrip(b"\n"))

    def __iter__(self) -> Iterator[tuple[int, bytes | int]]:
        pending, skipped = b"", 0  # the unfinished last line; the length of an over-long one being skipped
        while block := self._block():
            if skipped:
                cut = block.find(b"\n")
                if cut < 0:
                    skipped += len(block)
                    continue
                self.number += 1
                yield self.number, skipped + cut
                skipped, block = 0, block[cut + 1:]
            data, start = pending + block, 0
            while content := _CONTENT.search(data, start):
                end = data.find(b"\n", content.start())
                if end < 0:
                    break  # the line goes on in the next block
                line_start = max(start, data.rfind(b"\n", start, content.start()) + 1)
                self.number += data.count(b"\n", start, line_start)  # the blank lines before it
                yield self._line(data[line_start:end + 1])
                start = end + 1
            tail = max(start, data.rfind(b"\n") + 1)
            self.number += data.count(b"\n", start, tail)
            pending = data[tail:]
            if len(pending) > self.limit:
                skipped, pending = len(pending), b""
        if self.failure:
            return  # the unfinished line is where the data broke off: the failure names it
        if skipped:
            self.number += 1
            yield self.number, skipped
        elif _CONTENT.search(pending):
            yield self._line(pending)


def describe_json_error(exc: json.JSONDecodeError) -> str:
    truncated = exc.pos >= len(exc.doc.rstrip()) - 1 or exc.msg.startswith("Unterminated")
    what = "truncated JSON" if truncated else "not valid JSON"
    return f"{what}: {exc.msg} (column {exc.colno})"


def _decoded(text: str) -> Any:
    if has_lone_surrogate_escape(text):
        return replace_lone_surrogates(json.loads(text))
    try:
        return orjson.loads(text)  # 1.5x the standard library's speed, the same values
    except orjson.JSONDecodeError:
        # What orjson refuses and json reads (NaN, integers beyond 64 bits), or truly invalid JSON,
        # which the standard library's error describes by line and column.
        return json.loads(text)


def iter_json_documents(path: Path | str,
                        max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, Any] | Rejection]:
    """(line number, parsed document) per line of newline-delimited JSON.

    A pretty-printed file (its first line is a lone `{` or `[`, as in the OTLP examples and most saved
    webhook payloads) is read as one document of at most `max_line_bytes`; a top-level list in it
    yields each element as a document."""
    lines = iter_lines(path, max_line_bytes)
    first = True
    for item in lines:
        if isinstance(item, Rejection):
            yield item
            continue
        number, text = item
        if first and is_pretty_printed(text):
            yield from _whole_document(path, number, text, lines, max_line_bytes)
            return
        first = False
        yield parse_line(str(path), number, text)


def is_pretty_printed(text: str) -> bool:
    """Whether a file's first line opens a document written over many lines."""
    return text.strip() in ("{", "[")


def parse_line(file: str, number: int, text: str) -> tuple[int, Any] | Rejection:
    """(number, document) for one line of newline-delimited JSON, or the Rejection saying why not."""
    try:
        return number, _decoded(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return Rejection(file, number, describe_json_error(exc))
    except RecursionError:
        return Rejection(file, number, "JSON nested too deeply")


def _whole_document(path: Path | str, first: int, text: str, rest: Iterator[tuple[int, str] | Rejection],
                    max_bytes: int) -> Iterator[tuple[int, Any] | Rejection]:
    parts, size = [text], len(text)
    for item in rest:
        if isinstance(item, Rejection):
            yield item
            return
        parts.append(item[1])
        size += len(item[1])
        if size > max_bytes:
            yield Rejection(str(path), first, f"a pretty-printed JSON document larger than {max_bytes:,} bytes; "
                                              "write one document per line instead")
            return
    try:
        document = _decoded("".join(parts))
    except json.JSONDecodeError as exc:
        yield Rejection(str(path), first + exc.lineno - 1, describe_json_error(exc))
        return
    except RecursionError:
        yield Rejection(str(path), first, "JSON nested too deeply")
        return
    for element in document if isinstance(document, list) else [document]:
        yield first, element
