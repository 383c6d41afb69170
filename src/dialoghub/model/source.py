"""Reading a model file (YAML or JSON) into plain data plus where each piece came from.

Both formats go through PyYAML's *composer* (JSON is YAML), and we build the Python values
from the nodes ourselves, so that:

* every value's line and column is known (``Located.where(path)``), for error messages;
* YAML 1.1's surprise booleans do not happen: ``on``, ``off``, ``yes``, ``no`` stay strings
  (``on:`` is the transitions key of a state!); only ``true``/``false`` are booleans;
* duplicate keys are reported instead of silently overwriting each other;
* no tags, anchors-to-objects or other constructors can run: the safe subset only;
* the work of reading is bounded (:class:`SourceLimits`): the text's size, the nesting depth,
  the number of anchors and aliases, and the size of the data once every alias is expanded
  are checked on PyYAML's event stream (libyaml's C parser when installed) *before* any node
  is built, so a "billion laughs" document or 1000 nested brackets are refused at the line
  where they cross a limit, in time proportional to the text, never to its expansion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)
from yaml.resolver import BaseResolver

from dialoghub.errors import Problem, SourceError, SourceLimitError

__all__ = [
    "DEFAULT_LIMITS",
    "POSTED_LIMITS",
    "Located",
    "SourceError",
    "SourceLimitError",
    "SourceLimits",
    "read_source",
]

#: libyaml's parser when PyYAML was built with it, else the pure-Python one. Only its event
#: stream is used: values are built by :func:`_build` (so on/off/yes/no stay strings).
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]

_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?(\d[\d_]*)?\.\d+([eE][-+]?\d+)?|[-+]?\d[\d_]*[eE][-+]?\d+")
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


@dataclass(frozen=True, slots=True)
class SourceLimits:
    """How much work reading one model may take; see "Limits" in docs/models.md."""

    max_chars: int = 2_000_000  # characters of text
    max_depth: int = 64  # nested mappings/sequences
    max_nodes: int = 100_000  # values (keys, scalars, collections), aliases expanded
    max_expanded_chars: int = 8_000_000  # characters of all scalars, aliases expanded
    max_scalar_chars: int = 65_536  # characters of one key or value
    max_anchors: int = 100
    max_aliases: int = 1_000


#: the limits of a model file the operator loads
DEFAULT_LIMITS = SourceLimits()
#: the limits of a model posted over the network (``POST /v1/models/validate``): no aliases
#: at all (so no expansion to bound), and no value longer than a long reply
POSTED_LIMITS = SourceLimits(max_aliases=0, max_scalar_chars=16_384)


@dataclass
class Located:
    """Plain data read from a file, with the position of every mapping key and value."""

    data: Any
    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col), 1-based
    #: the folder a code unit's ``python: file.py`` is found in; None (text that did not come
    #: from a model file the operator loaded, e.g. a posted model): code units are refused
    code_base: FilePath | None = None
    #: where each scalar value starts, and how many characters precede its text there (1
    #: for a quoted scalar): a problem inside a value (a template, a condition) points at it
    values: dict[Path, tuple[int, int, int]] = field(default_factory=dict)

    def where_in(self, path: Path, offset: int) -> tuple[int, int] | None:
        """Line and column of character ``offset`` of the one-line scalar at ``path``."""
        hit = self.values.get(tuple(path))
        if hit is None:
            return None
        line, col, lead = hit
        return line, col + lead + offset

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
        if node.start_mark.line == node.end_mark.line and node.style in (None, "", "'", '"'):
            lead = 1 if node.style else 0
            loc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1, lead)
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


def _events(text: str, file: str, limits: SourceLimits) -> list[Event]:
    """The text's YAML events, every limit checked as they come (so a refusal is early)."""

    def refuse(event: Event, limit: str, message: str) -> SourceLimitError:
        mark = event.start_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return SourceLimitError(Problem(message, file, line, col), limit)

    events: list[Event] = []
    nodes = chars = anchors = aliases = 0
    sizes: dict[str, tuple[int, int]] = {}  # finished anchor -> (nodes, chars) it expands to
    open_: list[tuple[str | None, int, int]] = []  # (anchor, nodes, chars) at each start
    parser = _Parser(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            events.append(event)
            if isinstance(event, AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    raise refuse(event, "max_aliases", f"more than {limits.max_aliases} "
                                 "aliases (*name) in one model" if limits.max_aliases else
                                 "aliases (*name) are not accepted here; write the value out")
                name = event.anchor or ""
                if name not in sizes and any(a == name for a, _, _ in open_):
                    raise refuse(event, "recursive_alias",
                                 f"the alias *{name} is inside its own anchor &{name}")
                n, c = sizes.get(name, (1, 0))  # an undefined alias: the composer says so
                nodes += n
                chars += c
            elif isinstance(event, ScalarEvent | CollectionStartEvent):
                if event.anchor is not None:
                    anchors += 1
                    if anchors > limits.max_anchors:
                        raise refuse(event, "max_anchors", f"more than {limits.max_anchors} "
                                     "anchors (&name) in one model")
                start = (nodes, chars)
                nodes += 1
                if isinstance(event, ScalarEvent):
                    if len(event.value) > limits.max_scalar_chars:
                        raise refuse(event, "max_scalar_chars", f"a value of {len(event.value)}"
                                     f" characters; the limit is {limits.max_scalar_chars}")
                    chars += len(event.value)
                    if event.anchor is not None:
                        sizes[event.anchor] = (1, len(event.value))
                else:
                    open_.append((event.anchor, *start))
                    if len(open_) > limits.max_depth:
                        raise refuse(event, "max_depth", "mappings and lists nested deeper "
                                     f"than {limits.max_depth} levels")
            elif isinstance(event, CollectionEndEvent) and open_:
                anchor, n0, c0 = open_.pop()
                if anchor is not None:
                    sizes[anchor] = (nodes - n0, chars - c0)
            if nodes > limits.max_nodes:
                raise refuse(event, "max_nodes", f"more than {limits.max_nodes} values once "
                             "aliases are expanded")
            if chars > limits.max_expanded_chars:
                raise refuse(event, "max_expanded_chars", f"more than "
                             f"{limits.max_expanded_chars} characters once aliases are expanded")
    finally:
        parser.dispose()
    return events


class _Replay(Composer, BaseResolver):
    """PyYAML's composer fed from events already read (and checked) by :func:`_events`.

    BaseResolver has no implicit resolvers: every scalar's tag is plain ``str``, and
    :func:`_scalar` decides its type.
    """

    def __init__(self, events: list[Event]) -> None:
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self._queue = events
        self._at = 0

    def check_event(self, *choices: type[Event]) -> bool:
        if self._at >= len(self._queue):
            return False
        return not choices or isinstance(self._queue[self._at], choices)

    def peek_event(self) -> Event:
        return self._queue[self._at]

    def get_event(self) -> Event:
        event = self._queue[self._at]
        self._at += 1
        return event


def read_source(
    text: str,
    file: str = "<model>",
    limits: SourceLimits = DEFAULT_LIMITS,
    *,
    code_base: FilePath | None = None,
) -> Located:
    """Parse YAML or JSON text into :class:`Located` data; raises SourceError if unparsable,
    SourceLimitError if it is over one of ``limits``. ``code_base``: see :class:`Located`."""
    loc = Located(data=None, file=file, code_base=code_base)
    if len(text) > limits.max_chars:
        raise SourceLimitError(
            Problem(f"the model is {len(text)} characters; the limit is {limits.max_chars}",
                    file, 1, 1),
            "max_chars",
        )
    try:
        root = _Replay(_events(text, file, limits)).get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit, while scanning
            raise SourceLimitError(
                Problem(f"mappings and lists nested deeper than {limits.max_depth} levels",
                        file, line, col),
                "max_depth",
            ) from None
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
