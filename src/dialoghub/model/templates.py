"""Reply templates: ``"In {city} it is {forecast}."``.

A template is parsed once, when the model loads, into literal text and variable references,
so rendering is a join and a bad template is a load-time error, never a runtime one. Names
are looked up like conditions do (see :mod:`dialoghub.engine.scope`): ``{city}`` in the current
unit, ``{address.street}`` in another unit, ``{params.x}`` and ``{metadata.x}`` in the
session's params and metadata. ``{{`` and ``}}`` are literal braces. A variable that is not
set renders as an empty string, unless the template says otherwise:

* ``{day|today}``: a default, rendered when ``day`` is not set (or empty);
* ``{? on {day}}``: an optional part, rendered only when every variable in it is set, so
  ``"A table for {people}{? at {time}}."`` (a part shows when the variables outside its own
  inner parts are set) reads "A table for 4." without a time (inside
  an optional part, ``}`` always closes: a literal closing brace belongs outside it).

Unlike ``str.format`` nothing here can reach attributes or call code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dialoghub.errors import TemplateError

__all__ = ["Field", "Group", "Template", "TemplateError", "render_value"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def render_value(value: Any) -> str:
    """How a variable's value appears in text: integral floats without '.0', None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(render_value(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Field:
    """``{name|default}``: a variable with the text to show when it is not set."""

    name: str
    default: str


@dataclass(frozen=True, slots=True)
class Group:
    """``{? ...}``: a part rendered only when every variable in it is set."""

    pieces: tuple[Piece, ...]


#: What a rich template is made of: literal text, a bare name (a str in ``names``), a field
#: with a default, or an optional group.
Piece = str | Field | Group | tuple[str]


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: alternating literal strings and variable names.

    A template with defaults or optional parts keeps them in ``rich`` (``parts`` is then
    empty), so the plain case, by far the most common, renders with a join.
    """

    source: str
    parts: tuple[str, ...]  # even indexes: literal text; odd indexes: variable names
    rich: tuple[Piece, ...] | None = None  # literals (str), names ((name,)), fields, groups

    @classmethod
    def parse(cls, source: str) -> Template:
        """Parse ``source``; raises TemplateError with the column of the first problem."""
        pieces, end = _parse(source, 0, nested=False)
        assert end == len(source)
        if all(isinstance(p, str | tuple) for p in pieces):
            parts: list[str] = []
            literal = ""
            for p in pieces:
                if isinstance(p, str):
                    literal += p
                elif isinstance(p, tuple):
                    parts += [literal, p[0]]
                    literal = ""
            parts.append(literal)
            return cls(source, tuple(parts))
        return cls(source, (), tuple(pieces))

    @property
    def names(self) -> tuple[str, ...]:
        """The variable names the template reads."""
        if self.rich is None:
            return self.parts[1::2]
        return tuple(_names(self.rich))

    @property
    def bare_names(self) -> tuple[str, ...]:
        """The names read with neither a default nor an optional part around them (the ones
        that render as nothing when unset)."""
        if self.rich is None:
            return self.parts[1::2]
        return tuple(p[0] for p in self.rich if isinstance(p, tuple))

    def render(self, lookup: Callable[[str], Any]) -> str:
        """Fill in the variables, each looked up with ``lookup(name)``."""
        if self.rich is not None:
            return _render(self.rich, lookup)
        if len(self.parts) == 1:
            return self.parts[0]
        out = []
        for i, part in enumerate(self.parts):
            out.append(render_value(lookup(part)) if i % 2 else part)
        return "".join(out)


def _parse(source: str, i: int, *, nested: bool) -> tuple[list[Piece], int]:
    """The pieces from ``i`` up to the end (or, ``nested``, up to the group's closing brace,
    whose index is returned)."""
    pieces: list[Piece] = []
    literal: list[str] = []
    n = len(source)

    def flush() -> None:
        if literal:
            pieces.append("".join(literal))
            literal.clear()

    while i < n:
        ch = source[i]
        if ch == "{":
            if source.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            if source.startswith("{?", i):
                flush()
                inner, close = _parse(source, i + 2, nested=True)
                if not _names(inner):
                    raise TemplateError("an optional part {? ...} needs a {variable} in it", i)
                pieces.append(Group(tuple(inner)))
                i = close + 1
                continue
            close = source.find("}", i)
            if close < 0:
                raise TemplateError("'{' is never closed (write '{{' for a brace)", i)
            body = source[i + 1 : close]
            name, bar, default = body.partition("|")
            name = name.strip()
            if not _NAME.fullmatch(name):
                raise TemplateError(
                    f"{{{name}}} is not a variable name (letters, digits, '_', '.')", i
                )
            if "{" in body:
                raise TemplateError("'{' inside a placeholder (write '{{' for a brace)", i)
            flush()
            pieces.append(Field(name, default) if bar else (name,))
            i = close + 1
        elif ch == "}":
            if nested:  # inside an optional part '}' always closes it ('}}' closes two)
                flush()
                return pieces, i
            if source.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise TemplateError("'}' without '{' (write '}}' for a brace)", i)
        else:
            literal.append(ch)
            i += 1
    if nested:
        raise TemplateError("an optional part '{?' is never closed", n)
    flush()
    return pieces, i


def _names(pieces: Sequence[Piece]) -> list[str]:
    out: list[str] = []
    for p in pieces:
        if isinstance(p, tuple):
            out.append(p[0])
        elif isinstance(p, Field):
            out.append(p.name)
        elif isinstance(p, Group):
            out += _names(p.pieces)
    return out


def _direct(pieces: Sequence[Piece]) -> list[str]:
    """The names of a part outside its own optional parts (those decide for themselves)."""
    return [
        p[0] if isinstance(p, tuple) else p.name for p in pieces if isinstance(p, tuple | Field)
    ]


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == []


def _render(pieces: Sequence[Piece], lookup: Callable[[str], Any]) -> str:
    out = []
    for p in pieces:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, tuple):
            out.append(render_value(lookup(p[0])))
        elif isinstance(p, Field):
            value = lookup(p.name)
            out.append(p.default if _unset(value) else render_value(value))
        elif not any(_unset(lookup(name)) for name in _direct(p.pieces)):
            out.append(_render(p.pieces, lookup))
    return "".join(out)
