"""The condition language, construct by construct: evaluation, typing rules, parse errors.

Every construct of ``model/conditions.py``'s grammar is evaluated here against a plain dict of
variables, both ways (a case where it holds and one where it does not), so an operator that
is swapped, inverted or dropped changes an answer. Parse errors are checked by message and
column, the two things a model author reads.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from dialoghub.errors import ConditionError, ModelError
from dialoghub.model.conditions import Condition


def holds(source: str, **variables: Any) -> bool:
    """Evaluate ``source`` with ``variables``; a name not given is unset (None)."""
    return Condition.parse(source).evaluate(variables.get)


# --- comparisons ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "x", "expected"),
    [
        ("x == 3", 3, True),
        ("x == 3", 4, False),
        ("x != 3", 4, True),
        ("x != 3", 3, False),
        ("x < 3", 2, True),
        ("x < 3", 3, False),
        ("x <= 3", 3, True),
        ("x <= 3", 4, False),
        ("x > 3", 4, True),
        ("x > 3", 3, False),
        ("x >= 3", 3, True),
        ("x >= 3", 2, False),
        ("x == 2.5", 2.5, True),
        ("x < 2.5", 2.4, True),
        ("x > -1", 0, True),
        ("x < -1.5", -1, False),
        ("x == 3", 3.0, True),  # numbers compare with numbers, int or float
    ],
)
def test_numeric_comparisons(source: str, x: Any, expected: bool) -> None:
    assert holds(source, x=x) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("name == 'Ada'", True),
        ('name == "Ada"', True),
        ("name != 'Bob'", True),
        ("name < 'Bob'", True),  # strings compare with strings, in code point order
        ("name <= 'Ada'", True),
        ("name > 'Bob'", False),
        ("name >= 'Ada'", True),
        ("name >= 'Adb'", False),
    ],
)
def test_string_comparisons(source: str, expected: bool) -> None:
    assert holds(source, name="Ada") is expected


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("x == 3", {"x": "3"}),
        ("x < 4", {"x": "3"}),
        ("x <= 4", {"x": "3"}),
        ("x > 2", {"x": "3"}),
        ("x >= 2", {"x": "3"}),
        ("x < 'b'", {"x": 1}),
        ("x > 0", {"x": None}),  # unset
        ("x < 1", {}),
        ("x == 1", {"x": True}),  # a boolean is not a number
        ("x > 0", {"x": True}),
        ("x >= 0", {"x": False}),
        ("x == 0", {"x": False}),
        ("x == 'a'", {"x": ["a"]}),
        ("x < [2]", {"x": [1]}),  # lists do not order
    ],
)
def test_mixed_types_compare_false(source: str, variables: dict[str, Any]) -> None:
    assert holds(source, **variables) is False


def test_both_sides_may_be_variables() -> None:
    assert holds("a == b", a=2, b=2) is True
    assert holds("a == b", a=2, b=3) is False
    assert holds("a < b", a=2, b=3) is True
    assert holds("limit >= age", limit=18, age=21) is False
    assert holds("3 < x", x=4) is True
    assert holds("x in allowed", x="a", allowed=["a"]) is True


def test_not_equal_is_the_negation_of_equal_even_across_types() -> None:
    # `!=` is `not ==`: a string is not equal to a number, so "3" != 3 holds
    assert holds("x != 3", x="3") is True
    assert holds("x != 1", x=True) is True
    assert holds("x != null", x=None) is False


def test_same_type_values_compare_by_equality() -> None:
    assert holds("x == true", x=True) is True
    assert holds("x == false", x=True) is False
    assert holds("x == null") is True  # unset is null
    assert holds("x == null", x=0) is False
    assert holds("x == [1, 2]", x=[1, 2]) is True
    assert holds("x == [1, 2]", x=[2, 1]) is False


# --- literals ---------------------------------------------------------------------------------


def test_literals_parse_to_their_values() -> None:
    def lit(source: str) -> Any:
        tree = Condition.parse(f"x == {source}").tree
        assert tree[:3] == ("cmp", "==", ("var", "x"))
        assert tree[3][0] == "lit"
        return tree[3][1]

    assert lit("12") == 12 and type(lit("12")) is int
    assert lit("-7") == -7
    assert lit("1.25") == 1.25 and type(lit("1.25")) is float
    assert lit("-0.5") == -0.5
    assert lit("'single'") == "single"
    assert lit('"double"') == "double"
    assert lit(r"'it\'s'") == "it's"
    assert lit(r'"say \"hi\""') == 'say "hi"'
    assert lit(r"'back\\slash'") == "back\\slash"
    assert lit("''") == ""
    assert lit(r"'\d+\s'") == r"\d+\s"  # a backslash before anything else is kept
    assert lit(r"'\\d'") == r"\d"
    assert lit("true") is True
    assert lit("false") is False
    assert lit("null") is None
    assert lit("[]") == []
    assert lit("[1, 'a', true, null, 2.5]") == [1, "a", True, None, 2.5]
    assert lit("[[1], []]") == [[1], []]


def test_a_literal_alone_is_its_truthiness() -> None:
    assert holds("true") is True
    assert holds("false") is False
    assert holds("null") is False
    assert holds("1") is True
    assert holds("0") is False
    assert holds("'x'") is True
    assert holds("''") is False


# --- bare truthiness, is set --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        ("", False),
        (0, False),
        (0.0, False),
        (True, True),
        ("no", True),
        (1, True),
        (-1, True),
        (0.5, True),
    ],
)
def test_bare_name_is_truthy(value: Any, expected: bool) -> None:
    assert holds("flag", flag=value) is expected
    assert holds("not flag", flag=value) is (not expected)


@pytest.mark.parametrize(
    ("value", "is_set"), [(None, False), (0, True), (False, True), ("", True), ("x", True)]
)
def test_is_set_means_not_null(value: Any, is_set: bool) -> None:
    assert holds("x is set", x=value) is is_set
    assert holds("x is not set", x=value) is (not is_set)


def test_unset_name_is_not_set() -> None:
    assert holds("x is set") is False
    assert holds("x is not set") is True


# --- and, or, not, parentheses ------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(True, True), (True, False), (False, True), (False, False)])
def test_boolean_connectives(a: bool, b: bool) -> None:
    assert holds("a and b", a=a, b=b) is (a and b)
    assert holds("a or b", a=a, b=b) is (a or b)
    assert holds("not a", a=a) is (not a)
    assert holds("not not a", a=a) is a
    assert holds("not (a and b)", a=a, b=b) is (not (a and b))
    assert holds("not a and b", a=a, b=b) is ((not a) and b)  # not binds tighter than and


def test_and_binds_tighter_than_or() -> None:
    # a or (b and c), not (a or b) and c
    assert holds("a or b and c", a=True, b=True, c=False) is True
    assert holds("(a or b) and c", a=True, b=True, c=False) is False
    assert holds("a and b or c", a=False, b=True, c=True) is True
    assert holds("a and (b or c)", a=False, b=True, c=True) is False


def test_connectives_chain_left_to_right() -> None:
    assert holds("a or b or c", c=True) is True
    assert holds("a or b or c") is False
    assert holds("a and b and c", a=1, b=1, c=1) is True
    assert holds("a and b and c", a=1, b=1, c=0) is False


def test_connectives_read_truthiness_of_values() -> None:
    assert holds("name and age > 17", name="Ada", age=36) is True
    assert holds("name and age > 17", name="", age=36) is False
    assert holds("name or nick", nick="Bo") is True
    assert holds("(x)", x=0) is False


def test_and_or_short_circuit() -> None:
    seen: list[str] = []

    def look(name: str) -> Any:
        seen.append(name)
        return {"a": False, "b": True}.get(name)

    assert Condition.parse("a and c").evaluate(look) is False
    assert seen == ["a"]
    seen.clear()
    assert Condition.parse("b or c").evaluate(look) is True
    assert seen == ["b"]


# --- in, not in, matches ------------------------------------------------------------------------


def test_in_a_list_compares_typed() -> None:
    assert holds("city in ['Paris', 'Rome']", city="Rome") is True
    assert holds("city in ['Paris', 'Rome']", city="Oslo") is False
    assert holds("n in [1, 2]", n=2.0) is True  # numbers are numbers
    assert holds("n in ['1', '2']", n=1) is False  # mixed types are never equal
    assert holds("n in [1, 2]", n=True) is False  # a boolean is not 1
    assert holds("n in []", n=1) is False
    assert holds("n in [null]") is True


def test_in_a_string_is_a_substring_test() -> None:
    assert holds("'ar' in city", city="Paris") is True
    assert holds("'ra' in city", city="Paris") is False
    assert holds("'' in city", city="Paris") is True
    assert holds("n in city", n=1, city="a1") is False  # only a string is in a string


def test_in_a_variable_list_or_mapping() -> None:
    assert holds("x in items", x="b", items=["a", "b"]) is True
    assert holds("x in items", x="c", items=("a", "b")) is False
    assert holds("x in items", x="a", items=("a", "b")) is True
    assert holds("x in d", x="k", d={"k": 1}) is True  # a mapping's keys
    assert holds("x in d", x=1, d={"k": 1}) is False


@pytest.mark.parametrize("hay", [None, 12, 1.5, True])
def test_in_anything_else_is_false(hay: Any) -> None:
    assert holds("x in hay", x=12, hay=hay) is False
    assert holds("x not in hay", x=12, hay=hay) is True


def test_not_in_is_the_negation_of_in() -> None:
    assert holds("city not in ['Paris', 'Rome']", city="Oslo") is True
    assert holds("city not in ['Paris', 'Rome']", city="Paris") is False
    assert holds("'z' not in word", word="jazz") is False
    assert Condition.parse("a not in [1]").tree == ("not", ("in", ("var", "a"), ("lit", [1])))


def test_not_in_and_a_following_connective() -> None:
    assert holds("a not in [1] and b", a=2, b=True) is True
    assert holds("a not in [1] and b", a=2, b=False) is False
    assert holds("a not in [1] or b", a=1, b=True) is True


def test_matches_searches_anywhere() -> None:
    assert holds("code matches '[A-Z]{3}-\\d+'", code="ref ABC-12 ok") is True
    assert holds("code matches '^[A-Z]{3}$'", code="ABCD") is False
    assert holds("code matches 'b'", code="abc") is True
    assert holds("code matches 'z'", code="abc") is False
    assert holds("not code matches 'z'", code="abc") is True


def test_matches_reads_regex_escapes_as_written() -> None:
    # '\d' in a condition is the regex digit class, not an escaped letter d
    assert holds(r"code matches '^\d{3}$'", code="123") is True
    assert holds(r"code matches '^\d{3}$'", code="ddd") is False
    assert holds(r"code matches 'a\.b'", code="a.b") is True
    assert holds(r"code matches 'a\.b'", code="axb") is False


@pytest.mark.parametrize("value", [None, 12, True, ["abc"]])
def test_matches_anything_but_a_string_is_false(value: Any) -> None:
    assert holds("x matches '.*'", x=value) is False


def test_matches_compiles_its_regex_once_at_parse_time() -> None:
    tree = Condition.parse('x matches "a+"').tree
    assert tree[0] == "matches"
    assert isinstance(tree[2], re.Pattern) and tree[2].pattern == "a+"


# --- names and dotted names ---------------------------------------------------------------------


def test_names_are_the_variables_read() -> None:
    c = Condition.parse("a > 1 and (b.c == 'x' or not d) and e in [1] and f is set")
    assert c.names == frozenset({"a", "b.c", "d", "e", "f"})
    assert c.source == "a > 1 and (b.c == 'x' or not d) and e in [1] and f is set"
    assert Condition.parse("true or 1 == 2").names == frozenset()


def test_dotted_names_reach_the_lookup_whole() -> None:
    asked: list[str] = []

    def look(name: str) -> Any:
        asked.append(name)
        return 3

    assert Condition.parse("address.street_no == 3").evaluate(look) is True
    assert asked == ["address.street_no"]


def test_whitespace_is_free() -> None:
    assert holds("  x==3and y  ", x=3, y=1) is True
    assert holds("x\t>=\n2 ", x=2) is True
    assert holds("(x)or(y)", y=1) is True


def test_names_may_contain_keywords() -> None:
    assert holds("order_id is set", order_id=1) is True
    assert holds("android or notes", notes="x") is True
    assert holds("island", island=1) is True


def test_evaluate_returns_a_bool() -> None:
    assert Condition.parse("x").evaluate({"x": "yes"}.get) is True
    assert Condition.parse("x").evaluate({"x": 0}.get) is False


# --- parse errors: message and column -----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("x == 1 @ 2", "unexpected character '@'", 7),
        ("  $", "unexpected character '$'", 2),
        ("x = 1", "unexpected character '='", 2),
        ("x == 'open", 'unexpected character "\'"', 5),
        ("x !", "unexpected character '!'", 2),
        ("a b", "unexpected 'b'; expected 'and', 'or' or end", 2),
        ("a == 1 2", "unexpected 2; expected 'and', 'or' or end", 7),
        ("(a) )", "unexpected ')'; expected 'and', 'or' or end", 4),
        ("a not b", "unexpected 'not'; expected 'and', 'or' or end", 2),
        ("(a == 1", "expected ')'", 7),
        ("(a == 1 ]", "expected ')'", 8),
        ("a in [1, 2", "expected ']'", 10),
        ("a in [1 2]", "expected ']'", 8),
        ("a in [1, b]", "list items must be literals", 5),
        ("a in [(1)]", "list items must be literals", 5),
        ("a in [1,]", "expected a value, found ']'", 8),
        ("a ==", "condition ends too early; expected a value", 4),
        ("", "condition ends too early; expected a value", 0),
        ("   ", "condition ends too early; expected a value", 3),
        ("not", "condition ends too early; expected a value", 3),
        ("a and", "condition ends too early; expected a value", 5),
        ("a == and", "expected a value, found 'and'", 5),
        ("or", "expected a value, found 'or'", 0),
        ("a == in", "expected a value, found 'in'", 5),
        ("a == is", "expected a value, found 'is'", 5),
        ("set", "expected a value, found 'set'", 0),
        ("a == matches", "expected a value, found 'matches'", 5),
        ("a == )", "expected a value, found ')'", 5),
        ("a == ,", "expected a value, found ','", 5),
        ("a matches b", "'matches' needs a quoted regular expression", 10),
        ("a matches 3", "'matches' needs a quoted regular expression", 10),
        ("a matches", "'matches' needs a quoted regular expression", 9),
        ("a is", "expected 'set' after 'is'", 4),
        ("a is sett", "expected 'set' after 'is'", 5),
        ("a is not 'set'", "expected 'set' after 'is'", 9),
        ("a is null", "expected 'set' after 'is'", 5),
    ],
)
def test_parse_errors_say_what_and_where(source: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as info:
        Condition.parse(source)
    err = info.value
    assert (err.message, err.column) == (message, column)
    assert str(err) == message
    assert err.details == {"column": column}
    assert err.code == "condition_invalid"
    assert isinstance(err, ModelError) and isinstance(err, ValueError)


def test_invalid_regex_error_names_the_regex_problem() -> None:
    with pytest.raises(ConditionError) as info:
        Condition.parse("code matches '(ab'")
    err = info.value
    assert err.column == 13
    assert err.message == (
        "invalid regular expression: missing ), unterminated subpattern at position 0"
    )
    assert err.__cause__ is None and err.__suppress_context__  # raised `from None`


def test_a_list_item_that_is_not_a_literal_points_at_the_list() -> None:
    with pytest.raises(ConditionError) as info:
        Condition.parse("x in ['a', (y)]")
    assert (info.value.message, info.value.column) == ("list items must be literals", 5)
