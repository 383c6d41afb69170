"""Template defaults (``{day|today}``) and optional parts (``{? at {time}}``), and problems in a
value located at the bad character, not at its key."""

from __future__ import annotations

from typing import Any

import pytest

from dialoghub.errors import ModelValidationError, TemplateError
from dialoghub.model.loader import load_model
from dialoghub.model.templates import Template

VALUES: dict[str, Any] = {"people": 4, "time": None, "place": "", "day": "Monday"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("A table for {people}{? at {time}}.", "A table for 4."),
        ("A table for {people}{? on {day}}.", "A table for 4 on Monday."),
        (
            "{people} people at {time|any time} in {place|the garden}.",
            "4 people at any time in the garden.",
        ),
        ("{day|never}", "Monday"),
        ("{? {people} and {time}}x", "x"),
        ("{{literal}} {people}", "{literal} 4"),
        ("{? from {day}{? at {time}}} ok", " from Monday ok"),
    ],
)
def test_rendering(source: str, expected: str) -> None:
    assert Template.parse(source).render(VALUES.get) == expected


def test_names_and_bare_names() -> None:
    t = Template.parse("{a} {b|x}{? {c}}")
    assert t.names == ("a", "b", "c")
    assert t.bare_names == ("a",)  # the only one that can render as nothing
    plain = Template.parse("In {city} it is {forecast}.")
    assert plain.parts == ("In ", "city", " it is ", "forecast", ".") and plain.rich is None


@pytest.mark.parametrize(
    ("source", "column", "text"),
    [
        ("a {? b", 6, "never closed"),
        ("{? no names}", 0, "needs a {variable}"),
        ("x {a|{b}}", 2, "inside a placeholder"),
        ("x }", 2, "without '{'"),
    ],
)
def test_bad_templates(source: str, column: int, text: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(source)
    assert info.value.column == column and text in str(info.value)


def test_a_bad_value_is_located_at_the_character(tmp_path: Any) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        'id: m\nstates:\n  s:\n    say: "Hello {name"\n    next:\n'
        "      - goto: s2\n        when: size ==\n  s2: {final: true}\n"
    )
    with pytest.raises(ModelValidationError) as info:
        load_model(path)
    where = {(p.line, p.column) for p in info.value.problems}
    # 'say: "Hello {name"': the value starts at column 10, its '{' is at column 17
    assert (4, 17) in where
    # 'when: size ==' ends at column 22: the condition stops early there
    assert (7, 22) in where
