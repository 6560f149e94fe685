"""What in a diff can explain a production symptom. Pure functions over hunks.

The rules look for the edits that on-call engineers learn to distrust: query text and optimizer hints,
I/O inside loops (N+1), timeouts, retry policies, pool sizes, feature-flag defaults and resource limits.
A rule fires on what the change added or removed, never on untouched context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inquest.agents.sql_text import hints, statements_in
from inquest.faults import Fault
from inquest.tools.code_history import Hunk

_LOOP = re.compile(r"^(\s*)(for\s.+\sin\s.+:|while\s.+:|\S.*\.(forEach|map)\(|for\s*\(.*\)\s*\{)")
_DB_CALL = re.compile(r"\.(execute|executemany|query|fetch\w*|scalar|raw)\s*\(|\bSELECT\b|\bUPDATE\b|\bINSERT\b",
                      re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TUNABLES = {
    Fault.TIMEOUT_CHANGED: re.compile(r"timeout", re.IGNORECASE),
    Fault.POOL_SIZE_CHANGED: re.compile(r"pool|max_?connections|maxPoolSize", re.IGNORECASE),
    Fault.RETRY_POLICY_CHANGED: re.compile(r"retr(y|ies)|backoff", re.IGNORECASE),
    Fault.RESOURCE_LIMIT_CHANGED: re.compile(r"\b(memory|cpu|limits?|heap|Xmx)\b", re.IGNORECASE),
}
_FLAG = re.compile(r"(flag|feature|enabled?)\b.*\b(true|false|on|off)\b", re.IGNORECASE)
# DDL that rewrites or locks a table for its whole duration (PostgreSQL's ACCESS EXCLUSIVE and friends);
# CREATE INDEX CONCURRENTLY and friends are the lock-free forms, so they are excluded.
_BLOCKING_DDL = re.compile(
    r"\bALTER\s+TABLE\b.*\b(ALTER\s+COLUMN\b.*\bTYPE\b|ADD\s+COLUMN\b.*\bDEFAULT\b|SET\s+NOT\s+NULL|"
    r"ADD\s+CONSTRAINT|ADD\s+PRIMARY\s+KEY)|\bCREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)|\bLOCK\s+TABLE\b|"
    r"\bVACUUM\s+FULL\b|\bCLUSTER\b|\bREINDEX\s+(?!.*CONCURRENTLY)", re.IGNORECASE)
_TABLE = re.compile(r"\b(?:ALTER\s+TABLE|ON|LOCK\s+TABLE|CLUSTER|TABLE)\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
# A module-level container named like a cache, filled and never emptied: memory grows until a restart.
_CACHE_DECL = re.compile(r"^(_?[A-Za-z_]*(cache|memo|seen|registry|store)[A-Za-z_]*)\s*(:[^=]+)?=\s*(\{\}|\[\]|dict\(\)|"
                         r"list\(\)|defaultdict\()", re.IGNORECASE)
_EVICTION = re.compile(r"\.(pop|popitem|clear)\(|\bdel\s|maxsize\s*=\s*\d|ttl|expire|evict", re.IGNORECASE)
_UNBOUNDED_DECORATOR = re.compile(r"@(functools\.)?(lru_cache\(\s*maxsize\s*=\s*None\s*\)|cache\b)")


@dataclass(frozen=True)
class Risk:
    kind: Fault
    path: str
    context: str
    explanation: str
    statements: tuple[str, ...] = ()  # SQL the hunk adds, for linking to telemetry


def _loop_bodies(lines: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(loop header, body lines) for each loop in a block of code, by indentation."""
    loops = []
    for i, line in enumerate(lines):
        match = _LOOP.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        body = []
        for nxt in lines[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
        loops.append((line.strip(), body))
    return loops


def _numbers_changed(pattern: re.Pattern[str], hunk: Hunk) -> tuple[str, str] | None:
    removed = [l for l in hunk.removed if pattern.search(l) and _NUMBER.search(l)]
    added = [l for l in hunk.added if pattern.search(l) and _NUMBER.search(l)]
    if removed and added and [_NUMBER.findall(l) for l in removed] != [_NUMBER.findall(l) for l in added]:
        return removed[0].strip(), added[0].strip()
    return None


def classify(hunk: Hunk) -> list[Risk]:
    risks: list[Risk] = []
    added_text = "\n".join(hunk.added)
    added_sql = tuple(statements_in(added_text))

    kept_hints = {h for line in hunk.added for h in hints(line)}
    lost = [h for line in hunk.removed for h in hints(line) if h not in kept_hints]
    if lost:
        risks.append(Risk(Fault.INDEX_HINT_REMOVED, hunk.path, hunk.context,
                          f"removes the optimizer hint {lost[0]}", added_sql))

    added = set(hunk.added)
    for header, body in _loop_bodies(hunk.new_lines):
        calls = [l.strip() for l in body if _DB_CALL.search(l)]
        if calls and (header in {a.strip() for a in added} or any(l in added for l in body if _DB_CALL.search(l))):
            risks.append(Risk(Fault.QUERY_IN_LOOP, hunk.path, hunk.context,
                              f"runs a query inside `{header}`: {calls[0][:90]} (one round trip per item: N+1)",
                              tuple(statements_in("\n".join(body))) or added_sql))
            break

    if added_sql and not risks:
        risks.append(Risk(Fault.QUERY_CHANGED, hunk.path, hunk.context,
                          f"changes query text: {added_sql[0][:90]}", added_sql))

    for kind, pattern in _TUNABLES.items():
        moved = _numbers_changed(pattern, hunk)
        if moved:
            risks.append(Risk(kind, hunk.path, hunk.context, f"changes `{moved[0]}` to `{moved[1]}`"))
    ddl = [l.strip() for l in hunk.added if _BLOCKING_DDL.search(l)]
    if ddl:
        tables = tuple(dict.fromkeys(m.group(1) for l in ddl for m in _TABLE.finditer(l)))
        risks.append(Risk(Fault.BLOCKING_MIGRATION, hunk.path, hunk.context,
                          f"runs `{ddl[0][:90]}`, which locks or rewrites "
                          f"{', '.join(tables) or 'the table'} while it runs", tables))
    cache = _unbounded_cache(hunk)
    if cache:
        risks.append(Risk(Fault.UNBOUNDED_CACHE, hunk.path, hunk.context, cache))

    flags = [l.strip() for l in hunk.added if _FLAG.search(l)]
    if flags and any(_FLAG.search(l) for l in hunk.removed):
        risks.append(Risk(Fault.FEATURE_FLAG_DEFAULT, hunk.path, hunk.context, f"changes a flag default: `{flags[0]}`"))
    return risks


def _unbounded_cache(hunk: Hunk) -> str | None:
    added = "\n".join(hunk.added)
    if _EVICTION.search(added):
        return None
    for line in hunk.added:
        declared = _CACHE_DECL.match(line)
        if declared and re.search(rf"{re.escape(declared.group(1))}\s*\[[^\]]+\]\s*=|"
                                  rf"{re.escape(declared.group(1))}\.(append|setdefault|add)\(", added):
            return (f"adds `{declared.group(1)}`, filled on every call and never evicted: memory grows until "
                    "the process restarts")
    decorator = next((l.strip() for l in hunk.added if _UNBOUNDED_DECORATOR.search(l)), None)
    if decorator:
        return f"adds `{decorator}`: an unbounded memo whose size grows with every distinct argument"
    return None


# Files whose change cannot alter how a service behaves under load: markup, styles, docs, tests, and a
# bumped version string.
_INERT_PATH = re.compile(r"\.(css|scss|less|html|jinja2?|j2|svg|png|jpe?g|gif|md|rst|txt|po|mo)$|(^|/)(docs?|tests?)/")
_VERSION_LINE = re.compile(r"^\s*(__version__|version)\s*=\s*['\"][^'\"]*['\"]\s*$")


def inert(hunk: Hunk) -> bool:
    if _INERT_PATH.search(hunk.path):
        return True
    changed = [l for l in (*hunk.added, *hunk.removed) if l.strip()]
    return all(_VERSION_LINE.match(l) for l in changed)
