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
