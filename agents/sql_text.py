"""SQL text as both telemetry and code see it, reduced to one comparable form.

Telemetry records `... WHERE sku = $1`, the code says `... WHERE sku = %s`, and an optimizer hint lives
in a comment: comparing normalised text lets the database and code-diff agents recognise the same
statement on both sides and notice when only a hint changed.
"""

from __future__ import annotations

import re

_HINT = re.compile(r"/\*\+.*?\*/|\b(?:USE|FORCE|IGNORE)\s+INDEX\s*\([^)]*\)", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$\d+|%\(\w+\)s|%s|\?|(?<![:\w]):\w+")
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|ALTER|CREATE|DROP|LOCK)\b", re.IGNORECASE)


def hints(statement: str) -> list[str]:
    return [m.group(0) for m in _HINT.finditer(statement)]


def normalize(statement: str) -> str:
    text = _HINT.sub(" ", statement)
    text = _COMMENT.sub(" ", text)
    text = _STRING.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    return " ".join(text.lower().split())


def looks_like_sql(text: str) -> bool:
    return bool(_SQL_START.match(text))


_QUOTED = re.compile(r"(?:\"\"\"(.*?)\"\"\"|'''(.*?)'''|\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)')", re.DOTALL)


def statements_in(code: str) -> list[str]:
    """SQL statements written as string literals in a piece of source code."""
    found = []
    for match in _QUOTED.finditer(code):
        literal = next(g for g in match.groups() if g is not None)
        if looks_like_sql(literal):
            found.append(literal)
    return found
