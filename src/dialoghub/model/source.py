"""Reading a model file (YAML or JSON) into plain data plus where each piece came from.

Both formats go through PyYAML's *composer* (JSON is YAML), and we build the Python values
from the nodes ourselves, so that:

* every value's line and column is known (``Located.where(path)``), for error messages;
* YAML 1.1's surprise booleans do not happen: ``on``, ``off``, ``yes``, ``no`` stay strings
  (``on:`` is the transitions key of a state!); only ``true``/``false`` are booleans;
* duplicate keys are reported instead of silently overwriting each other;
* no tags, anchors-to-objects or other constructors can run: the safe subset only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from dialoghub.errors import Problem

__all__ = ["Located", "SourceError", "read_source"]

Path = tuple[str | int, ...]

_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?(\d[\d_]*)?\.\d+([eE][-+]?\d+)?|[-+]?\d[\d_]*[eE][-+]?\d+")
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


class SourceError(Exception):
    """The file cannot be read cleanly; carries the problems found.

    ``located`` is the data that could still be read (duplicate keys dropped) when the text
    parsed but had problems, so a caller can go on checking it and report everything at once;
    None when the text could not be parsed at all.
    """

    def __init__(self, problems: list[Problem], located: Located | None = None) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        self.located = located


@dataclass
class Located:
    """Plain data read from a file, with the position of every mapping key and value."""

    data: Any
    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col), 1-based

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: Path, message: str) -> Problem:
        """A Problem located at ``path``."""
        line, col = self.where(path)
        dotted = ".".join(str(k) for k in path)
        return Problem(message, file=self.file, line=line, column=col, path=dotted)


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    if node.style:  # quoted: always a string
        return value
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        return int(value.replace("_", ""))
    if _FLOAT.fullmatch(value):
        return float(value.replace("_", ""))
    return value


def _build(node: yaml.Node, path: Path, loc: Located, problems: list[Problem]) -> Any:
    loc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loc, problems) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    Problem(
                        "mapping keys must be plain strings",
                        loc.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            key = str(key_node.value)
            if key in out:
                problems.append(
                    Problem(
                        f"duplicate key {key!r}",
                        loc.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        ".".join(str(k) for k in (*path, key)),
                    )
                )
                continue
            out[key] = _build(value_node, (*path, key), loc, problems)
            # point the key's path at the key itself: errors about it read naturally there
            loc.marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover


def read_source(text: str, file: str = "<model>") -> Located:
    """Parse YAML or JSON text into :class:`Located` data; raises SourceError if unparsable."""
    loc = Located(data=None, file=file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SourceError(
            [Problem(f"cannot parse: {exc.problem or exc}", file, line, col)]
        ) from None
    except yaml.YAMLError as exc:
        raise SourceError([Problem(f"cannot parse: {exc}", file, 1, 1)]) from None
    if root is None:
        raise SourceError([Problem("the file is empty", file, 1, 1)])
    problems: list[Problem] = []
    loc.data = _build(root, (), loc, problems)
    if problems:
        raise SourceError(problems, loc)
    return loc
