"""The one way to plug into Inquest: Python entry points, loaded lazily.

Each kind of plug-in is an entry-point group — `inquest.agents`, `inquest.backends`, `inquest.attach`,
`inquest.renderers`, `inquest.commands` (the CLI's command words), `inquest.worlds` (the builder replay asks for a
case's named scenario world: the simulator's library plugs in there, so replay never imports the harness). An entry point names `module:factory`; the built-ins are declared in pyproject.toml
the same way a third-party distribution declares its own, so there is no hand-kept list in the code.
Listing the names reads only installed metadata; a module is imported when its name is first used, so
a cold start does not import every agent.

`add()` registers a factory at run time (replay's `plugins`, tests). It wins over an entry point of the
same name, which is how a plugin replaces a built-in for a replayed run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

AGENTS = "inquest.agents"
BACKENDS = "inquest.backends"
ATTACH = "inquest.attach"
RENDERERS = "inquest.renderers"
COMMANDS = "inquest.commands"
WORLDS = "inquest.worlds"

_added: dict[str, dict[str, Callable[..., Any]]] = {}


def add(group: str, name: str, factory: Callable[..., Any]) -> None:
    """Registers `factory` under `name` for this process; it replaces an entry point of the same name."""
    _added.setdefault(group, {})[name] = factory


def names(group: str) -> tuple[str, ...]:
    """Every name the group knows, in declaration order (entry points, then run-time additions)."""
    known = dict.fromkeys(_declared(group))
    known.update(dict.fromkeys(_added.get(group, {})))
    return tuple(known)


def load(group: str, name: str) -> Callable[..., Any]:
    """The factory behind `name`, importing its module now if it has not been imported yet."""
    if name in _added.get(group, {}):
        return _added[group][name]
    target = _declared(group).get(name)
    if target is None:
        raise KeyError(unknown_message(group, [name]))
    return _resolve(target)


def summary(group: str, name: str) -> str:
    """The first line of the docstring of the module behind `name`, read from its source without importing
    it: `investigate --help` lists every command without paying for their imports."""
    import ast  # only for help and completion
    from importlib.util import find_spec

    target = _added[group][name] if name in _added.get(group, {}) else _declared(group).get(name)
    if target is None:
        return ""
    if callable(target):
        doc = getattr(import_module(target.__module__), "__doc__", None)
    else:
        spec = find_spec(target.partition(":")[0])
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return ""
        doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8")))
    line = " ".join((doc or "").strip().split("\n\n")[0].split())
    # Command modules open with "`investigate word ARGS`: what it does; more"; a listing shows what it does.
    line = line.split("`: ", 1)[1] if line.startswith("`") and "`: " in line else line
    return line.split("; ")[0].rstrip(".")


def refresh() -> None:
    """Forgets what was read from installed metadata, after a distribution was added to sys.path."""
    _declared.cache_clear()
    _installed.cache_clear()


def unknown(group: str, requested: Iterable[str]) -> list[str]:
    known = set(names(group))
    return sorted({n for n in requested if n not in known})


def unknown_message(group: str, missing: Iterable[str], what: str | None = None) -> str:
    """`unknown agent(s) x; known: a, b (did you mean y?)` — the suggestion only when one is close."""
    import difflib  # only on the error path

    known = names(group)
    missing = sorted(missing)
    what = what or group.rpartition(".")[2].rstrip("s")
    text = f"unknown {what}(s) {', '.join(missing)}; known: {', '.join(known)}"
    near = [m for n in missing for m in difflib.get_close_matches(n, known, n=1)]
    return text + (f" (did you mean {', '.join(near)}?)" if near else "")


@cache
def _resolve(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    value: Any = import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    return value  # type: ignore[no-any-return]  # whatever the entry point names; callers call it


@cache
def _installed() -> tuple[metadata.SelectableGroups, tuple[metadata.EntryPoint, ...]]:
    """Every installed distribution's entry points (Python 3.11's SelectableGroups; `select` is the part of it
    that stays), and Inquest's own. Read once: each read walks the metadata of every installed distribution
    (~170 with the extras), and an investigation asks for four groups."""
    return metadata.entry_points(), _own_entry_points()


@cache
def _declared(group: str) -> dict[str, str]:
    everything, own = _installed()
    declared = {ep.name: ep.value for ep in everything.select(group=group)}
    if not any(ep.group == group for ep in own):
        # An editable install made before this group was declared publishes stale metadata: read the
        # declarations from the checkout's pyproject.toml, which is the same single list.
        declared = {**_checkout_declarations(group), **declared}
    return declared


def _own_entry_points() -> tuple[metadata.EntryPoint, ...]:
    try:
        return tuple(metadata.distribution("inquest").entry_points)
    except metadata.PackageNotFoundError:
        return ()


def _checkout_declarations(group: str) -> dict[str, str]:
    import tomllib  # only for a stale editable install

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    if project.get("name") != "inquest":
        return {}
    return dict(project.get("entry-points", {}).get(group, {}))
