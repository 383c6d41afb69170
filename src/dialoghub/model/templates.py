"""Reply templates: ``"In {city} it is {forecast}."``.

A template is parsed once, when the model loads, into literal text and variable references,
so rendering is a join and a bad template is a load-time error, never a runtime one. Names
are looked up like conditions do (see :mod:`dialoghub.engine.scope`): ``{city}`` in the current
unit, ``{address.street}`` in another unit, ``{params.x}`` and ``{metadata.x}`` in the
session's params and metadata. ``{{`` and ``}}`` are literal braces. A variable that is not
set renders as an empty string.

Unlike ``str.format`` nothing here can reach attributes or call code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialoghub.errors import TemplateError

__all__ = ["Template", "TemplateError", "render_value"]

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
class Template:
    """A parsed template: alternating literal strings and variable names."""

    source: str
    parts: tuple[str, ...]  # even indexes: literal text; odd indexes: variable names

    @classmethod
    def parse(cls, source: str) -> Template:
        """Parse ``source``; raises TemplateError with the column of the first problem."""
        parts: list[str] = []
        literal: list[str] = []
        i, n = 0, len(source)
        while i < n:
            ch = source[i]
            if ch == "{":
                if source.startswith("{{", i):
                    literal.append("{")
                    i += 2
                    continue
                close = source.find("}", i)
                if close < 0:
                    raise TemplateError("'{' is never closed (write '{{' for a brace)", i)
                name = source[i + 1 : close].strip()
                if not _NAME.fullmatch(name):
                    raise TemplateError(
                        f"{{{name}}} is not a variable name (letters, digits, '_', '.')", i
                    )
                parts.append("".join(literal))
                parts.append(name)
                literal = []
                i = close + 1
            elif ch == "}":
                if source.startswith("}}", i):
                    literal.append("}")
                    i += 2
                    continue
                raise TemplateError("'}' without '{' (write '}}' for a brace)", i)
            else:
                literal.append(ch)
                i += 1
        parts.append("".join(literal))
        return cls(source, tuple(parts))

    @property
    def names(self) -> tuple[str, ...]:
        """The variable names the template reads."""
        return self.parts[1::2]

    def render(self, lookup: Callable[[str], Any]) -> str:
        """Fill in the variables, each looked up with ``lookup(name)``."""
        if len(self.parts) == 1:
            return self.parts[0]
        out = []
        for i, part in enumerate(self.parts):
            out.append(render_value(lookup(part)) if i % 2 else part)
        return "".join(out)
