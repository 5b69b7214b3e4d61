"""YAML as the launcher reads it: PyYAML's safe loader, refusing a key given twice.

PyYAML keeps the last of two equal keys without a word; in a site file, a course file or the
image matrix that silently drops a setting, so every file the launcher reads goes through
:class:`UniqueKeyLoader` instead.
"""

from __future__ import annotations

from typing import Any

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, naming the line of the first one."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


#: values a file may hold once its aliases (``*name``) are expanded: a site or course file has
#: hundreds; a "billion laughs" file of 400 bytes has millions
MAX_VALUES = 100_000


def _size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for with every alias expanded (shared nodes counted
    at each use, computed once each)."""
    if id(node) not in memo:
        if isinstance(node, yaml.SequenceNode):
            memo[id(node)] = 1 + sum(_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[id(node)] = 1 + sum(_size(k, memo) + _size(v, memo) for k, v in node.value)
        else:
            memo[id(node)] = 1
    return memo[id(node)]


def load(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of a YAML document and its node tree (for line numbers), refusing duplicate
    keys and documents whose aliases expand beyond :data:`MAX_VALUES` values (raises
    ``yaml.MarkedYAMLError`` with the line)."""
    root = yaml.compose(text, Loader=UniqueKeyLoader)
    if root is None:
        return None, None
    if _size(root, {}) > MAX_VALUES:
        raise yaml.constructor.ConstructorError(
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
