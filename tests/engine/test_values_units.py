"""Unit tests of engine/values.py: session ids, inputs and the values they carry, refused with
the exact message and details, at the exact boundaries (200 characters, 64 levels, 64 bits)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import msgspec
import pytest

from dialoghub.engine import values
from dialoghub.engine.records import (
    CommandResult,
    Event,
    EventInput,
    Jump,
    SetVariables,
    Text,
)
from dialoghub.engine.values import (
    MAX_VALUE_DEPTH,
    check_input,
    check_session_id,
    check_storable,
    too_deep,
)
from dialoghub.errors import InvalidInput


def nest(levels: int, key: str = "a") -> Any:
    """``levels`` dicts one in another, the innermost holding a scalar (depth ``levels``)."""
    value: Any = 1
    for _ in range(levels):
        value = {key: value}
    return value


def nest_lists(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


# --- too_deep ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scalar", [1, 1.5, "s", b"b", True, None, {1, 2}, object()])
def test_too_deep_scalars_and_unknown_types_nest_nothing(scalar: Any) -> None:
    assert too_deep(scalar, 0) is None
    assert too_deep(scalar) is None


def test_too_deep_counts_levels_exactly() -> None:
    assert too_deep({}, 0) == "(top)"  # a dict is one level: deeper than zero
    assert too_deep([], 0) == "(top)"
    assert too_deep({"a": 1}, 1) is None
    assert too_deep({"a": {"b": 1}}, 1) == "a"
    assert too_deep({"a": {"b": 1}}, 2) is None
    assert too_deep(nest(3), 2) == "a.a"
    assert too_deep(nest(3), 3) is None
    assert too_deep(nest(MAX_VALUE_DEPTH)) is None
    assert too_deep(nest(MAX_VALUE_DEPTH + 1)) == ".".join(["a"] * MAX_VALUE_DEPTH)


def test_too_deep_of_lists_and_tuples_names_indexes() -> None:
    assert too_deep(nest_lists(3), 2) == "0.0"
    assert too_deep(nest_lists(3), 3) is None
    assert too_deep(("x", ("y", ("z",))), 2) == "1.1"
    assert too_deep([1, "a", [2, [3]]], 2) == "2.1"
    assert too_deep([[], []], 1) == "1"  # the last child is looked at first


def test_too_deep_a_container_of_scalars_at_the_limit_is_too_deep() -> None:
    # {"a": {...}} at limit 1: the inner dict holds only scalars, but it is level 2
    assert too_deep({"a": {"b": 1, "c": "x"}}, 1) == "a"
    assert too_deep({"a": [1, 2]}, 1) == "a"
    assert too_deep({"a": [1, 2], "b": 2}, 2) is None
    assert too_deep([{"k": 1}], 1) == "0"


def test_too_deep_mixed_nesting_and_key_spelling() -> None:
    value = {"users": [{"name": "ann", "tags": ["x", {"deep": {"k": 1}}]}]}
    assert too_deep(value, 5) == "users.0.tags.1.deep"
    assert too_deep(value, 6) is None
    long = "k" * 30
    assert too_deep({long: {5: {"x": 1}}}, 2) == "k" * 20 + ".5"


def test_too_deep_walks_past_scalars_and_unknown_values() -> None:
    value = {"s": "x", "n": 1, "o": object(), "set": {1}, "d": nest(3)}
    assert too_deep(value, 3) == "d.a.a"
    assert too_deep(value, 4) is None


def test_too_deep_dict_and_list_subclasses_count_as_their_base() -> None:
    assert too_deep(OrderedDict(a=OrderedDict(b=1)), 1) == "a"

    class L(list[Any]):
        pass

    assert too_deep(L([L([1])]), 1) == "0"


def test_too_deep_structs_count_like_the_dicts_they_encode_to() -> None:
    assert too_deep(Text(text="x"), 0) == "(top)"
    assert too_deep(Text(text="x"), 1) is None
    deep = SetVariables(variables={"v": nest(2)})
    assert too_deep(deep, 3) == "variables.v.a"
    assert too_deep(deep, 4) is None
    event = Event(seq=1, version=1, time=0.0, type="t", data={"x": [1]})
    assert too_deep(event, 2) == "data.x"
    assert too_deep(event, 3) is None
    assert too_deep({"e": Jump(state="s", params={"p": {"q": 1}})}, 3) == "e.params.p"


def test_too_deep_looks_past_a_sibling_of_scalars_only() -> None:
    # a child holding only scalars within the limit is not stacked; its later siblings are
    assert too_deep({"a": {"x": 1}, "b": nest(3)}, 3) == "b.a.a"
    assert too_deep([[1, 2], ["s"], nest_lists(3)], 3) == "2.0.0"
    assert too_deep(SetVariables(variables={"flat": [1], "deep": nest(2)}), 3) == (
        "variables.deep.a"
    )
    assert too_deep({"o": object(), "b": nest(2)}, 2) == "b.a"  # past an unknown value too


def test_the_kind_cache_remembers_each_types_kind() -> None:
    class D(dict[str, Any]):
        pass

    class L(list[Any]):
        pass

    class Opaque:
        pass

    class Record(msgspec.Struct):  # new types: no earlier walk has cached them
        n: int

    assert too_deep({"d": D(), "l": L(), "r": Record(1), "o": Opaque()}, 5) is None
    assert too_deep("top", 0) is None
    kinds = values._KINDS
    assert (kinds[D], kinds[L], kinds[Record], kinds[Opaque]) == (
        values._DICT, values._SEQ, values._STRUCT, values._OTHER
    )  # fmt: skip
    assert kinds[str] == kinds[int] == values._FLAT  # a scalar at the top leaves it flat


def test_the_kind_cache_is_bounded() -> None:
    saved = dict(values._KINDS)
    try:
        made = [type(f"T{i}", (), {}) for i in range(values._MAX_KINDS + 10)]
        for t in made:
            assert too_deep({"x": t()}, 5) is None
        assert len(values._KINDS) == values._MAX_KINDS
        late = type("LateDict", (dict,), {})  # made after the cache is full: never cached
        assert too_deep(late(a=late(b=1)), 1) == "a"
        assert late not in values._KINDS
    finally:  # the other tests find the cache as it was
        values._KINDS.clear()
        values._KINDS.update(saved)


# --- check_session_id -------------------------------------------------------------------------


@pytest.mark.parametrize("ok", ["a", "x" * 200, "...", ".a", "a.", "a b", "é-ü_1", "..x"])
def test_check_session_id_accepts(ok: str) -> None:
    assert check_session_id(ok) is ok


@pytest.mark.parametrize(
    "bad", ["", "x" * 201, ".", "..", "a/b", "a\\b", "a\x00", "\x1f", "a\x7f", "\n", 5, None]
)
def test_check_session_id_refuses(bad: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        check_session_id(bad)
    assert info.value.message == (
        f"invalid session id {bad!r}: 1 to 200 characters, no '/', '\\' or control "
        "characters, not '.' or '..'"
    )
    assert info.value.details == {"session_id": bad}


# --- check_input ------------------------------------------------------------------------------


def test_check_input_gives_text_back_as_it_is() -> None:
    inp = Text(text="hello")
    assert check_input(inp) is inp


def test_check_input_refuses_text_that_cannot_be_encoded() -> None:
    with pytest.raises(UnicodeEncodeError):
        check_input(Text(text="\ud800"))


def test_check_input_checks_field_types() -> None:
    with pytest.raises(InvalidInput) as info:
        check_input(Text(text=5))  # type: ignore[arg-type]
    assert info.value.message == "invalid Text input: Expected `str`, got `int` - at `$.text`"
    with pytest.raises(InvalidInput) as info:
        check_input(CommandResult(id=5))  # type: ignore[arg-type]
    assert info.value.message == (
        "invalid CommandResult input: Expected `str`, got `int` - at `$.id`"
    )
    assert info.value.details == {}


def test_check_input_returns_the_decoded_copy() -> None:
    inp = EventInput(name="GO", params={"a": [1, {"b": None}]})
    checked = check_input(inp)
    assert checked == inp and checked is not inp
    assert check_input(SetVariables(variables={"s": (1, 2)})) == SetVariables(
        variables={"s": [1, 2]}
    )
    assert check_input(SetVariables(variables={"s": {3}})) == SetVariables(variables={"s": [3]})


def test_check_input_refuses_what_cannot_be_encoded() -> None:
    with pytest.raises(InvalidInput) as info:
        check_input(SetVariables(variables={"o": object()}))
    assert info.value.message == (
        "invalid SetVariables input: Encoding objects of type object is unsupported"
    )


@pytest.mark.parametrize("big", [2**64, -(2**63) - 1])
def test_check_input_refuses_integers_beyond_64_bits(big: int) -> None:
    with pytest.raises(InvalidInput) as info:
        check_input(SetVariables(variables={"n": big}))
    assert info.value.message == "SetVariables input has an integer that does not fit in 64 bits"


@pytest.mark.parametrize("edge", [2**64 - 1, -(2**63)])
def test_check_input_takes_integers_within_64_bits(edge: int) -> None:
    assert check_input(SetVariables(variables={"n": edge})) == SetVariables(variables={"n": edge})


def test_check_input_depth_counts_from_the_inputs_values() -> None:
    fits = SetVariables(variables=nest(MAX_VALUE_DEPTH))
    assert check_input(fits) == fits
    with pytest.raises(InvalidInput) as info:
        check_input(SetVariables(variables=nest(MAX_VALUE_DEPTH + 1)))
    where = "variables." + ".".join(["a"] * MAX_VALUE_DEPTH)
    assert info.value.message == (
        f"SetVariables input nests dicts and lists deeper than 64 levels (at {where})"
    )
    assert info.value.details == {"max_depth": MAX_VALUE_DEPTH}


def test_check_input_finds_nesting_a_dataclass_encodes_to() -> None:
    @dataclasses.dataclass
    class Box:
        inside: Any

    assert check_input(SetVariables(variables={"b": Box(1)})) == SetVariables(
        variables={"b": {"inside": 1}}
    )
    fits = SetVariables(variables={"b": Box(nest(MAX_VALUE_DEPTH - 2))})
    assert check_input(fits) == SetVariables(variables={"b": {"inside": nest(MAX_VALUE_DEPTH - 2)}})
    with pytest.raises(InvalidInput) as info:
        check_input(SetVariables(variables={"b": Box(nest(MAX_VALUE_DEPTH - 1))}))
    where = "variables.b.inside." + ".".join(["a"] * (MAX_VALUE_DEPTH - 2))
    assert info.value.message == (
        f"SetVariables input nests dicts and lists deeper than 64 levels (at {where})"
    )
    with pytest.raises(InvalidInput) as info:
        check_input(SetVariables(variables={"b": Box(2**64)}))
    assert info.value.message == "SetVariables input has an integer that does not fit in 64 bits"


def test_check_input_checks_the_depth_of_what_an_unknown_input_encodes_to() -> None:
    @dataclasses.dataclass
    class Posing:  # no record, but it encodes to a set_variables input
        type: str
        variables: Any

    fits = Posing("set_variables", nest(MAX_VALUE_DEPTH))
    assert check_input(fits) == SetVariables(variables=nest(MAX_VALUE_DEPTH))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as info:
        check_input(Posing("set_variables", nest(MAX_VALUE_DEPTH + 1)))  # type: ignore[arg-type]
    where = "variables." + ".".join(["a"] * MAX_VALUE_DEPTH)
    assert info.value.message == (
        f"Posing input nests dicts and lists deeper than 64 levels (at {where})"
    )


# --- check_storable ---------------------------------------------------------------------------


def test_check_storable_accepts_json_like_values() -> None:
    check_storable({"a": [1, "x", None, 2.5, {"b": True}]}, "metadata")
    check_storable(nest(MAX_VALUE_DEPTH), "metadata")
    check_storable(nest(3), "metadata", 3)


def test_check_storable_refuses_nesting_beyond_its_depth() -> None:
    with pytest.raises(InvalidInput) as info:
        check_storable(nest(MAX_VALUE_DEPTH + 1, "k"), "metadata")
    where = ".".join(["k"] * MAX_VALUE_DEPTH)
    assert info.value.message == (
        f"metadata nests dicts and lists deeper than 64 levels (at {where})"
    )
    assert info.value.details == {"max_depth": 64}
    with pytest.raises(InvalidInput) as info:
        check_storable(nest(3), "params", 2)
    assert info.value.message == "params nests dicts and lists deeper than 64 levels (at a.a)"


def test_check_storable_refuses_big_integers_and_unknown_types() -> None:
    with pytest.raises(InvalidInput) as info:
        check_storable({"a": [2**64]}, "outputs")
    assert info.value.message == "outputs has an integer that does not fit in 64 bits"
    assert info.value.details == {}
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(InvalidInput) as info:
        check_storable({"a": object()}, "outputs")
    assert info.value.message == (
        "outputs has a value that cannot be stored: Encoding objects of type object is unsupported"
    )
    assert info.value.__suppress_context__
