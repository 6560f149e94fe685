"""Reading files of telemetry one record at a time: bounded lines, gzip, and rejections as values.

Every ingest format is read through here, so each gets the same guarantees: memory is bounded by the
longest line allowed (never by the file's size), a `.gz` file is decompressed while it streams, a
binary file is refused before anything is parsed, and a bad line becomes a `Rejection` naming the file,
the line and the reason while the lines after it still load.

Pure: nothing here knows about stores.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from inquest.errors import InputError

# OTLP/HTTP servers are told to accept request bodies up to 20 MiB, and the Collector's file exporter
# writes one request per line, so a longer line is not one a real exporter wrote.
MAX_LINE_BYTES = 20 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SNIFF_BYTES = 8192
_SKIP_CHUNK = 1024 * 1024


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


def open_input(path: Path | str) -> IO[bytes]:
    """Opens a file for streaming, decompressing gzip (recognised by its magic bytes, whatever the name).
    A file that is missing, unreadable or binary raises InputError: nothing in it can be loaded."""
    path = Path(path)
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        stream: IO[bytes] = gzip.open(path, "rb") if compressed else path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
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
    A gzip stream that ends early rejects at the line where it broke off and ends the file there."""
    name = str(path)
    with open_input(path) as stream:
        number = 0
        while True:
            number += 1
            try:
                chunk = stream.readline(max_line_bytes + 1)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                yield Rejection(name, number, f"the file ends early: compressed data is truncated or corrupt ({exc})")
                return
            except OSError as exc:
                yield Rejection(name, number, f"reading stopped: {exc}")
                return
            if not chunk:
                return
            if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
                skipped = _skip_rest_of_line(stream)
                yield Rejection(name, number, f"line is longer than {max_line_bytes:,} bytes "
                                              f"({len(chunk) + skipped:,}+ bytes); skipped")
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


def _skip_rest_of_line(stream: IO[bytes]) -> int:
    skipped = 0
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def describe_json_error(exc: json.JSONDecodeError) -> str:
    truncated = exc.pos >= len(exc.doc.rstrip()) - 1 or exc.msg.startswith("Unterminated")
    what = "truncated JSON" if truncated else "not valid JSON"
    return f"{what}: {exc.msg} (column {exc.colno})"


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
        if first and text.strip() in ("{", "["):
            yield from _whole_document(path, number, text, lines, max_line_bytes)
            return
        first = False
        try:
            yield number, json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield Rejection(str(path), number, describe_json_error(exc))
        except RecursionError:
            yield Rejection(str(path), number, "JSON nested too deeply")


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
        document = json.loads("".join(parts))
    except json.JSONDecodeError as exc:
        yield Rejection(str(path), first + exc.lineno - 1, describe_json_error(exc))
        return
    except RecursionError:
        yield Rejection(str(path), first, "JSON nested too deeply")
        return
    for element in document if isinstance(document, list) else [document]:
        yield first, element
