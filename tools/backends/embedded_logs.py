"""The embedded store's questions about log text: redaction, masking into patterns, sampling by trace.

A line's pattern is its body with secrets redacted, then ids, numbers and quoted values masked. Masking
costs a few regular expressions per line, so log_patterns masks a sample of whole traces and log_origins
masks only the lines that could match a pattern asked for (a LIKE built from the pattern's literal text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import duckdb

from inquest.core import Window
from inquest.redact import redact
from inquest.secret_rules import SQL_GATE
from inquest.tools.backends.embedded_sql import between, literal, service_filter

_GATE = "regexp_matches(body, '" + SQL_GATE.replace("'", "''") + "')"

# A log body with its secrets redacted, before anything masks or cuts it: a template's `<n>` and `<id>`
# break the shapes the redactor knows (`xoxb-<n>-<id>`), so the raw text goes first. Only lines the rules'
# gate matches (in RE2, vectorised) cost a call into Python.
BODY_SQL = f"CASE WHEN {_GATE} THEN inquest_redact(body) ELSE body END"

_PLACEHOLDERS = re.compile(r"<id>|<n>|<str>")


def masked(text: str) -> str:
    """Ids, hex, numbers and quoted values become placeholders so that lines differing only in them
    count as one template."""
    return ("regexp_replace(regexp_replace(regexp_replace(" + text + ", "
            "'[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,}|\\b[0-9a-fA-F]{12,}\\b', '<id>', 'g'), "
            "'\\b\\d+(\\.\\d+)?', '<n>', 'g'), '''[^'']*''|\"[^\"]*\"', '<str>', 'g')")


TEMPLATE_SQL = masked(BODY_SQL)

# A line's draw for sampling: by trace where it has one (whole traces are kept or dropped), else by line.
# The hash of coalesce(NULLIF(trace_id, ''), body || timestamp), written as a CASE so the body is read and
# concatenated only for lines without a trace id.
DRAWS = 1_000_000
DRAW_SQL = (f"(CASE WHEN trace_id IS NULL OR trace_id = '' THEN hash(body || CAST(timestamp AS VARCHAR)) "
            f"ELSE hash(trace_id) END % {DRAWS})")


def _redacted(body: str | None) -> str | None:
    return redact(body)[0] if body else body


def register_redaction(con: duckdb.DuckDBPyConnection) -> None:
    """`inquest_redact(text)` for BODY_SQL and TEMPLATE_SQL. DuckDB keeps it with the database, which
    every connection to one file in a process shares: the second store opened on a file finds it there."""
    try:
        con.create_function("inquest_redact", _redacted, ["VARCHAR"], "VARCHAR", side_effects=False)
    except duckdb.CatalogException as exc:
        if "already exists" not in str(exc):
            raise


def runnable(sql: str) -> str:
    """The statement the evidence keeps: one anyone can run with the duckdb CLI, which has no
    inquest_redact, so over the raw body (the answer only differs where a secret was redacted)."""
    return " ".join(sql.replace(BODY_SQL, "body").split())


def like_of(pattern: str) -> str:
    """A LIKE pattern every body masking to `pattern` matches: its literal text in order, anything where a
    placeholder stands. Masking only replaces spans of the body, so the text between placeholders is the
    body's own."""
    parts = _PLACEHOLDERS.split(pattern)
    return "%".join(p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for p in parts)


def log_templates_sql(window: Window, service: str | None, min_severity: int, limit: int) -> str:
    return f"""
        SELECT service, max(severity_text) AS severity, {masked("body")} AS template,
               count(*) AS count, min(body) AS example
        FROM (SELECT "service.name" AS service, severity_text, {BODY_SQL} AS body FROM logs
              WHERE {between('timestamp', window)} AND severity_number >= {int(min_severity)}
              {service_filter(service)})
        GROUP BY 1, 3 ORDER BY count DESC LIMIT {int(limit)}"""


def log_patterns_sql(window: Window, per_service: int, sample_lines: int) -> str:
    # A service's lines beyond `sample_lines` are sampled before masking, by a hash of the trace id (whole
    # traces, the same ones log_origins keeps). The totals are a count alone; the draw is computed once,
    # for the lines themselves.
    return f"""
        WITH n AS (
          SELECT "service.name" AS service, count(*) AS total FROM logs WHERE {between('timestamp', window)} GROUP BY 1
        ), s AS (
          SELECT service, total, {BODY_SQL} AS body, severity_number FROM (
            SELECT "service.name" AS service, body, severity_number, {DRAW_SQL} AS draw
            FROM logs WHERE {between('timestamp', window)}) JOIN n USING (service)
          WHERE draw < {DRAWS}.0 * {int(sample_lines)} / total
        ), g AS (
          SELECT service, any_value(total) AS total, {masked("body")} AS pattern, count(*) AS lines,
                 count(*) FILTER (WHERE severity_number >= 17) AS errors, min(body) AS example
          FROM s GROUP BY 1, 3
        ), r AS (
          SELECT *, row_number() OVER (PARTITION BY service ORDER BY lines DESC, pattern) <= {int(per_service)} AS kept
          FROM g
        )
        SELECT service, CASE WHEN kept THEN pattern END AS pattern, sum(lines)::BIGINT AS lines,
               sum(errors)::BIGINT AS errors, min(CASE WHEN kept THEN example END) AS example,
               max(total) AS total
        FROM r GROUP BY service, kept, 2 ORDER BY service, lines DESC, pattern NULLS LAST"""


def log_origins_sql(window: Window, patterns: Sequence[str], sample: float) -> str:
    # A line is masked only if its raw body could mask to a pattern asked for (the LIKE), or if it may hold
    # a secret (the redaction gate): redaction may change its text, so the LIKE cannot rule it out.
    likes = " OR ".join(f"body LIKE {literal(like_of(p))} ESCAPE '\\'" for p in patterns)
    chosen = (f"({likes} OR {_GATE}) AND {TEMPLATE_SQL} IN {literal(tuple(patterns))}" if patterns
              else "severity_number >= 17")
    # The first line of a trace is where its trouble started: a callee fails before its caller hears. The
    # chosen lines are read twice (counted, and searched for each trace's first): MATERIALIZED, so their
    # bodies are masked once, not once per reader.
    return f"""
        WITH l AS MATERIALIZED (
          SELECT "service.name" AS service, NULLIF(trace_id, '') AS trace_id, timestamp FROM logs
          WHERE {between('timestamp', window)} AND {DRAW_SQL} < {math.ceil(DRAWS * float(sample))} AND {chosen}
        ), first AS (
          SELECT trace_id, arg_min(service, (timestamp, service)) AS origin FROM l
          WHERE trace_id IS NOT NULL GROUP BY 1
        )
        SELECT l.service, f.origin, count(*) AS lines FROM l LEFT JOIN first f USING (trace_id)
        GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST"""
