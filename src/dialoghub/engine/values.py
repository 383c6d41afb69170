"""What a value a session keeps may look like: how deep it may nest.

Metadata, parameters, variables, event parameters and command outputs are JSON-like values
(dicts, lists, scalars). Every part of dialoghub that walks them (the stores' encoders, the
hub's snapshot copy, the condition evaluator, Python's own ``json``) recurses, so a value
nested a thousand levels deep reaches Python's recursion limit somewhere far from where it
came in. :func:`too_deep` finds such a value once, where it enters, without recursing itself.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["MAX_VALUE_DEPTH", "too_deep"]

#: How deeply a value may nest dicts and lists (a scalar is depth 0, ``{"a": 1}`` depth 1).
MAX_VALUE_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_VALUE_DEPTH) -> str | None:
    """The path (``a.b.0.c``, cut short) to where ``value`` nests deeper than ``limit``
    levels, or None when it does not. Structs count like the dicts they encode to."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, msgspec.Struct):
            item = {f: getattr(item, f) for f in item.__struct_fields__}
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list | tuple):
            children = enumerate(item)
        else:
            continue
        if depth >= limit:
            return path or "(top)"
        for key, child in children:
            if isinstance(child, dict | list | tuple | msgspec.Struct):
                step = str(key)[:20]
                stack.append((child, depth + 1, f"{path}.{step}" if path else step))
    return None
