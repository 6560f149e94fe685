"""Spans and logs as tab-separated text, bulk-copied into the store: how every simulated world is written.

StoreWriter.load's csv-module path costs ~14 us a row, too slow for hundreds of thousands of spans; a
%-format per row into a file, then one DuckDB read_csv, is the whole cost.
"""

from __future__ import annotations

from pathlib import Path

from inquest.tools.backends.embedded_schema import TABLES, StoreWriter, quote

# One tab-separated line per row, in TABLES order; an empty field is NULL. No value ever holds a tab
# or a newline, so nothing needs quoting, and one %-format per row is the whole cost of writing it.
SPAN_LINE = "\t".join(["%s"] * 7 + ["%s%06d", "%s%06d", "%.3f"] + ["%s"] * 11) + "\n"
LOG_LINE = "\t".join(["%s"] * 9) + "\n"


def copy_tsv(writer: StoreWriter, table: str, *paths: Path) -> None:
    """Bulk-loads files of tab-separated rows (TABLES order, empty field = NULL) into `table`."""
    columns = TABLES[table]
    names = ", ".join(quote(name) for name, _ in columns)
    types = ", ".join(f"{quote(name)}: '{kind}'" for name, kind in columns)
    writer.con.execute(f"INSERT INTO {table} ({names}) SELECT * FROM read_csv(?, header=false, delim='\t', "
                       f"quote='', escape='', nullstr='', auto_detect=false, columns={{{types}}})",
                       [[str(path) for path in paths]])
    for path in paths:
        path.unlink()


def row_counts(writer: StoreWriter) -> dict[str, int]:
    """Rows per table of a world just written, for its marker file."""
    counts = {}
    for table in TABLES:
        [(count,)] = writer.con.execute(f"SELECT count(*) FROM {table}").fetchall()
        counts[table] = int(count)
    return counts
