"""The condition language: ``temperature > 20 and city in ["Paris", "Rome"]``.

Conditions are parsed once, at load time, into a small tree of tuples and evaluated against a
lookup function; nothing is ever passed to ``eval``. Grammar::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand [op operand] | operand "is" ["not"] "set"
    op      := == | != | < | <= | > | >= | in | "not in" | matches
    operand := number | 'string' | "string" | true | false | null | [list] | name | (expr)

Comparisons are typed: numbers compare with numbers, strings with strings; comparing values
of different types is simply false (``"3" < 4`` is false, not an error), because a variable
of the wrong type is a dialog situation, not a crash. ``matches`` is a regular-expression
search compiled at load time. A name that is not set compares as null.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialoghub.errors import ConditionError

__all__ = ["Condition", "ConditionError"]

Lookup = Callable[[str], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "set", "matches", "true", "false", "null"}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num, str, op, word, end
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise ConditionError(f"unexpected character {text[start]!r}", start)
        kind = m.lastgroup or ""
        raw = m.group(kind)
        start = m.start(kind)
        value: Any = raw
        if kind == "num":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "str":
            # only a quote or a backslash is escaped: any other backslash is kept, so a
            # regular expression reads as written ('\d+' is a digit, not the letter d)
            value = re.sub(r"\\([\\'\"])", r"\1", raw[1:-1])
        toks.append(_Tok(kind, value, start))
        pos = m.end()
    toks.append(_Tok("end", None, len(text)))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.names: set[str] = set()

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def word(self, value: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and tok.value == value:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.value != op:
            raise ConditionError(f"expected {op!r}", tok.pos)

    def parse(self) -> tuple[Any, ...]:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise ConditionError(f"unexpected {tok.value!r}; expected 'and', 'or' or end", tok.pos)
        return node

    def or_(self) -> tuple[Any, ...]:
        node = self.and_()
        while self.word("or"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> tuple[Any, ...]:
        node = self.not_()
        while self.word("and"):
            node = ("and", node, self.not_())
        return node

    def not_(self) -> tuple[Any, ...]:
        if self.word("not"):
            return ("not", self.not_())
        return self.compare()

    def compare(self) -> tuple[Any, ...]:
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", tok.value, left, self.operand())
        if self.word("in"):
            return ("in", left, self.operand())
        if tok.kind == "word" and tok.value == "not" and self.toks[self.i + 1].value == "in":
            self.i += 2
            return ("not", ("in", left, self.operand()))
        if self.word("matches"):
            pat = self.take()
            if pat.kind != "str":
                raise ConditionError("'matches' needs a quoted regular expression", pat.pos)
            try:
                regex = re.compile(pat.value)
            except re.error as exc:
                raise ConditionError(f"invalid regular expression: {exc}", pat.pos) from None
            return ("matches", left, regex)
        if self.word("is"):
            negate = self.word("not")
            tok = self.take()
            if not (tok.kind == "word" and tok.value == "set"):
                raise ConditionError("expected 'set' after 'is'", tok.pos)
            node: tuple[Any, ...] = ("isset", left)
            return ("not", node) if negate else node
        return ("truthy", left)

    def operand(self) -> tuple[Any, ...]:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return ("lit", tok.value)
        if tok.kind == "op" and tok.value == "(":
            node = self.or_()
            self.expect_op(")")
            return node
        if tok.kind == "op" and tok.value == "[":
            items: list[Any] = []
            if not (self.peek().kind == "op" and self.peek().value == "]"):
                while True:
                    item = self.operand()
                    if item[0] != "lit":
                        raise ConditionError("list items must be literals", tok.pos)
                    items.append(item[1])
                    if self.peek().kind == "op" and self.peek().value == ",":
                        self.take()
                        continue
                    break
            self.expect_op("]")
            return ("lit", items)
        if tok.kind == "word":
            if tok.value in ("true", "false"):
                return ("lit", tok.value == "true")
            if tok.value == "null":
                return ("lit", None)
            if tok.value in _KEYWORDS:
                raise ConditionError(f"expected a value, found {tok.value!r}", tok.pos)
            self.names.add(tok.value)
            return ("var", tok.value)
        if tok.kind == "end":
            raise ConditionError("condition ends too early; expected a value", tok.pos)
        raise ConditionError(f"expected a value, found {tok.value!r}", tok.pos)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return bool(a == b) if (_num(a) and _num(b)) or type(a) is type(b) else False
    if op == "!=":
        return not _compare("==", a, b)
    if not ((_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition; ``names`` are the variables it reads."""

    source: str
    tree: tuple[Any, ...]
    names: frozenset[str]

    @classmethod
    def parse(cls, source: str) -> Condition:
        """Parse ``source``; raises ConditionError with the column of the problem."""
        parser = _Parser(source)
        tree = parser.parse()
        return cls(source, tree, frozenset(parser.names))

    def evaluate(self, lookup: Lookup) -> bool:
        """True when the condition holds for the variables ``lookup`` returns."""
        return bool(self._eval(self.tree, lookup))

    def _eval(self, node: tuple[Any, ...], lookup: Lookup) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            return lookup(node[1])
        if kind == "and":
            return self._truthy(node[1], lookup) and self._truthy(node[2], lookup)
        if kind == "or":
            return self._truthy(node[1], lookup) or self._truthy(node[2], lookup)
        if kind == "not":
            return not self._truthy(node[1], lookup)
        if kind == "truthy":
            return self._truthy(node[1], lookup)
        if kind == "cmp":
            return _compare(node[1], self._eval(node[2], lookup), self._eval(node[3], lookup))
        if kind == "in":
            needle, hay = self._eval(node[1], lookup), self._eval(node[2], lookup)
            if isinstance(hay, str):
                return isinstance(needle, str) and needle in hay
            if isinstance(hay, list | tuple | dict):
                return any(_compare("==", needle, h) for h in hay)
            return False
        if kind == "matches":
            value = self._eval(node[1], lookup)
            return isinstance(value, str) and node[2].search(value) is not None
        if kind == "isset":
            return self._eval(node[1], lookup) is not None
        raise AssertionError(f"unknown condition node {kind}")  # pragma: no cover

    def _truthy(self, node: tuple[Any, ...], lookup: Lookup) -> bool:
        value = self._eval(node, lookup)
        return value is not None and value is not False and value != "" and value != 0
