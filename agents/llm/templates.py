"""The prompts, from versioned template files in prompts/: `<name>.<version>.md`.

A template file is a set of sections, each opened by a `## <section>` line; `$name` placeholders are
filled with `string.Template`, so braces in telemetry or JSON need no escaping and a `$` inside a
substituted value is never expanded again. A new prompt is a new file (`coordinator.v2.md`) and a bump of
PROMPT_VERSION, never an edit in place: the report records the version and a digest of the files, so
a report can always be traced to the exact words that produced it.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources
from string import Template

PROMPT_VERSION = "v1"
TEMPLATES = ("specialist", "coordinator", "focus", "retry")
_SECTION = re.compile(r"^## (\S+)\s*$", re.MULTILINE)


@cache
def _text(name: str, version: str = PROMPT_VERSION) -> str:
    return resources.files(__package__).joinpath("prompts", f"{name}.{version}.md").read_text(encoding="utf-8")


@cache
def sections(name: str, version: str = PROMPT_VERSION) -> dict[str, str]:
    text = _text(name, version)
    marks = list(_SECTION.finditer(text))
    return {m.group(1): text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
            for i, m in enumerate(marks)}


def render(name: str, section: str, **values: object) -> str:
    """One section of a template with its placeholders filled; a missing value is an error, not a gap."""
    try:
        body = sections(name)[section]
    except KeyError:
        raise KeyError(f"prompt template {name}.{PROMPT_VERSION}.md has no section '## {section}'") from None
    return Template(body).substitute({k: str(v) for k, v in values.items()})


@cache
def prompt_version() -> str:
    """The version and a digest of the files: 'v1-3fa2c1d0'."""
    digest = hashlib.sha256("".join(_text(n) for n in TEMPLATES).encode()).hexdigest()[:8]
    return f"{PROMPT_VERSION}-{digest}"
