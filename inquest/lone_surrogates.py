"""Lone UTF-16 surrogates in parsed text, replaced before they reach a store or a terminal.

JSON's `\\udfff` escape and YAML's alike decode to a code point that UTF-8 cannot encode: the first write
of such a string (DuckDB, a file, stdout) raised UnicodeEncodeError and ingest stopped with a traceback,
losing the lines it had read. A valid escaped pair decodes to one character, so what remains is always
a lone half, replaced by U+FFFD as a UTF-8 decoder replaces a broken sequence.
"""

from __future__ import annotations

import re
from typing import Any

_LONE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def replace_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (dictionary keys too) replaced; walked without
    recursion, since parsed documents may nest deeper than the interpreter's stack allows."""
    if isinstance(value, str):
        return _LONE.sub(REPLACEMENT, value)
    if not isinstance(value, (dict, list)):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = _LONE.sub(REPLACEMENT, item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            renamed = {(_LONE.sub(REPLACEMENT, k) if isinstance(k, str) else k): v for k, v in item.items()}
            if renamed.keys() != item.keys():
                item.clear()
                item.update(renamed)
            stack.extend((item, k) for k in item)
    return root[0]


def has_lone_surrogate_escape(text: str) -> bool:
    """Whether JSON text may decode to a lone surrogate: the cheap test before walking what it decodes to."""
    return "\\ud" in text or "\\uD" in text
