"""YAML read with limits: nesting depth, aliases (how many, how far they expand) and no self-reference.

PyYAML's SafeLoader constructs no objects of its choosing, but a self-referencing alias (`&a [*a]`)
builds a list that contains itself and a few thousand nested `[` overflow the composer's recursion:
both crashed config and incident files with RecursionError. An alias also shares one node among many
places, so a handful of them can stand for exponentially many values to whoever walks the result
("billion laughs"). Config, incident and case files are small and hand-written: they need none of this,
so past the limits the file is refused with a YAML error naming the line, as any other YAML mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import yaml

from inquest.lone_surrogates import replace_lone_surrogates

MAX_DEPTH = 64  # nested collections; the deepest shipped file nests 5
MAX_ALIASES = 100
MAX_VALUES = 100_000  # scalars and collections, aliases expanded; the largest shipped file has a few hundred


def one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and the line it is on (PyYAML's own text spans several)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._open: list[str | None] = []  # the anchors of the collections being composed, outermost first
        self._aliases = 0
        self._sizes: dict[int, int] = {}  # id(collection node) -> values it stands for, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases", event.start_mark)
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(
                    None, None, f"the alias *{event.anchor} refers to a value that contains it", event.start_mark)
        elif len(self._open) >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                              event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[no-any-return]

    def compose_sequence_node(self, anchor: str | None) -> yaml.Node:
        return self._collection(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: str | None) -> yaml.Node:
        return self._collection(super().compose_mapping_node, anchor)

    def _collection(self, compose: Callable[[str | None], yaml.Node], anchor: str | None) -> yaml.Node:
        """Composes a collection with its anchor marked open (so that an alias inside it to it is caught),
        then counts the values it stands for once aliases are expanded (an alias's target counted in full
        each time), refusing a file past MAX_VALUES: ten aliases nine levels deep are 10^9."""
        self._open.append(anchor)
        try:
            node = compose(anchor)
        finally:
            self._open.pop()
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
        size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        if size > MAX_VALUES:
            raise yaml.composer.ComposerError(None, None, f"its aliases expand to more than {MAX_VALUES:,} values",
                                              node.start_mark)
        self._sizes[id(node)] = size
        return node


def load(text: str) -> Any:
    """One YAML document, as yaml.safe_load would give it, within the limits (yaml.YAMLError past them),
    lone surrogates from escapes such as "\\udfff" replaced (inquest/lone_surrogates.py)."""
    loader = _LimitedLoader(text)
    try:
        return replace_lone_surrogates(loader.get_single_data())
    finally:
        loader.dispose()


def compose_all(text: str) -> Iterator[yaml.Node]:
    """The documents' nodes, as yaml.compose_all gives them, within the limits."""
    loader = _LimitedLoader(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


def construct(node: yaml.Node) -> Any:
    """The value of one composed node, as SafeLoader builds it (lone surrogates replaced, as in load)."""
    return replace_lone_surrogates(yaml.SafeLoader("").construct_document(node))
