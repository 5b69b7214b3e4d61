"""YAML as the launcher reads it: PyYAML's safe loader, refusing a key given twice.

PyYAML keeps the last of two equal keys without a word; in a site file, a course file or the
image matrix that silently drops a setting, so every file the launcher reads goes through
:class:`UniqueKeyLoader` instead.

Whatever the text, :func:`load` returns data or raises ``yaml.MarkedYAMLError`` with a line:
a control character, a list or mapping used as a key, a number of thousands of digits, a
date that is no date (``2024-13-45``), nesting hundreds of levels deep or an alias that
contains itself get a sentence, never a bare ``TypeError``, ``ValueError`` or
``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError

#: values a file may hold once its aliases (``*name``) are expanded: a site or course file has
#: hundreds; a "billion laughs" file of 400 bytes has millions
MAX_VALUES = 100_000

#: lists and mappings inside each other: a site file needs 5; PyYAML's composer recurses once
#: per level, and a few thousand ``[`` would exhaust Python's stack
MAX_DEPTH = 100


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (naming the line of the first one), keys that
    are lists or mappings, scalars Python cannot convert, and nesting beyond
    :data:`MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent, index):
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"lists and mappings nest more than {MAX_DEPTH} levels deep here",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        # int('1' * 5000), date(2024, 13, 45), "!!timestamp x" (no match to read groups from)
        except (ValueError, OverflowError, TypeError, AttributeError) as exc:
            raise ConstructorError(None, None, _unreadable(node, exc), node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise ConstructorError(
                    None,
                    None,
                    "a key here is a list or a mapping; a key is a plain word such as 'image'",
                    key_node.start_mark,
                )
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _unreadable(node: yaml.Node, exc: Exception) -> str:
    """A sentence for a scalar that looks like (or is tagged as) a number or a date but cannot
    be one."""
    text = str(node.value)
    shown = repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "int" and len(text) > 100:
        return f"{shown} is too long a number to read; quote it if it is text"
    if kind == "timestamp" and isinstance(exc, ValueError):
        return f"{shown} looks like a date but is none ({exc}); quote it if it is text"
    return f"{shown} cannot be read as {kind}; quote it if it is text"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _size(root: yaml.Node) -> int:
    """How many values ``root`` stands for with every alias expanded (shared nodes counted at
    each use, computed once each; capped just above :data:`MAX_VALUES`). Without recursion:
    a chain of a thousand aliases is no deeper for it than one."""
    memo: dict[int, int] = {}
    started: set[int] = set()  # nodes whose children are being counted (the path from root)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        if counted:
            total = 1 + sum(memo[id(child)] for child in _children(node))
            memo[id(node)] = min(total, MAX_VALUES + 1)
            started.discard(id(node))
        elif id(node) in started:
            raise ConstructorError(
                None,
                None,
                "a value contains itself through an alias (*name), so it never ends",
                node.start_mark,
            )
        elif id(node) not in memo:
            started.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in memo)
    return memo[id(root)]


def _reader_error(text: str, exc: yaml.reader.ReaderError) -> yaml.MarkedYAMLError:
    """PyYAML's complaint about a non-printable character, with the line it is on."""
    before = text[: exc.position]
    line = before.count("\n")
    column = len(before) - (before.rfind("\n") + 1)
    mark = yaml.Mark(exc.name, exc.position, line, column, None, None)
    character = exc.character if isinstance(exc.character, int) else ord(exc.character[:1])
    return yaml.scanner.ScannerError(
        None,
        None,
        f"the character U+{character:04X} (a control character) cannot be in a YAML file; "
        "remove it",
        mark,
    )


def load(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of a YAML document and its node tree (for line numbers), refusing duplicate
    keys and documents whose aliases expand beyond :data:`MAX_VALUES` values (raises
    ``yaml.MarkedYAMLError`` with the line)."""
    try:
        root = yaml.compose(text, Loader=UniqueKeyLoader)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, exc) from None
    if root is None:
        return None, None
    if _size(root) > MAX_VALUES:
        raise ConstructorError(
            None,
            None,
            f"the file expands to more than {MAX_VALUES} values through its aliases (*name); "
            "write the values out instead",
            root.start_mark,
        )
    loader = UniqueKeyLoader("")
    try:
        return loader.construct_document(root), root
    finally:
        loader.dispose()
