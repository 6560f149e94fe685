"""What in a diff can explain a production symptom. Pure functions over hunks.

The rules look for the edits that on-call engineers learn to distrust: query text and optimizer hints,
I/O inside loops (N+1), timeouts, retry policies, pool sizes, feature-flag defaults and resource limits.
A rule fires on what the change added or removed, never on untouched context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inquest.agents.sql_text import hints, statements_in
from inquest.tools.git_history import Hunk

_LOOP = re.compile(r"^(\s*)(for\s.+\sin\s.+:|while\s.+:|\S.*\.(forEach|map)\(|for\s*\(.*\)\s*\{)")
_DB_CALL = re.compile(r"\.(execute|executemany|query|fetch\w*|scalar|raw)\s*\(|\bSELECT\b|\bUPDATE\b|\bINSERT\b",
                      re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TUNABLES = {
    "timeout_changed": re.compile(r"timeout", re.IGNORECASE),
    "pool_size_changed": re.compile(r"pool|max_?connections|maxPoolSize", re.IGNORECASE),
    "retry_policy_changed": re.compile(r"retr(y|ies)|backoff", re.IGNORECASE),
    "resource_limit_changed": re.compile(r"\b(memory|cpu|limits?|heap|Xmx)\b", re.IGNORECASE),
}
_FLAG = re.compile(r"(flag|feature|enabled?)\b.*\b(true|false|on|off)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Risk:
    kind: str
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
        risks.append(Risk("index_hint_removed", hunk.path, hunk.context,
                          f"removes the optimizer hint {lost[0]}", added_sql))

    added = set(hunk.added)
    for header, body in _loop_bodies(hunk.new_lines):
        calls = [l.strip() for l in body if _DB_CALL.search(l)]
        if calls and (header in {a.strip() for a in added} or any(l in added for l in body if _DB_CALL.search(l))):
            risks.append(Risk("query_in_loop", hunk.path, hunk.context,
                              f"runs a query inside `{header}`: {calls[0][:90]} (one round trip per item: N+1)",
                              tuple(statements_in("\n".join(body))) or added_sql))
            break

    if added_sql and not risks:
        risks.append(Risk("query_changed", hunk.path, hunk.context,
                          f"changes query text: {added_sql[0][:90]}", added_sql))

    for kind, pattern in _TUNABLES.items():
        moved = _numbers_changed(pattern, hunk)
        if moved:
            risks.append(Risk(kind, hunk.path, hunk.context, f"changes `{moved[0]}` to `{moved[1]}`"))
    flags = [l.strip() for l in hunk.added if _FLAG.search(l)]
    if flags and any(_FLAG.search(l) for l in hunk.removed):
        risks.append(Risk("feature_flag_default", hunk.path, hunk.context, f"changes a flag default: `{flags[0]}`"))
    return risks
