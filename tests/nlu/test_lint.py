"""Warnings about list values that are ordinary words of the model's examples (issue 15)."""

from __future__ import annotations

from dialoghub.model.loader import load_model_text
from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.lint import everyday_values

STATES = EntitySpec(
    "state",
    values=(
        EntityValue("IN", ("Indiana",)),
        EntityValue("OR"),
        EntityValue("ME", case_sensitive=True),
        EntityValue("TX", ("the lone star state",)),
    ),
)
WEATHER = IntentSpec("weather", ("weather in {state}", "rain or snow in {state=OR} for me"))


def test_single_word_values_the_examples_use_are_reported() -> None:
    assert everyday_values([WEATHER], [STATES]) == [("state", 0, "IN"), ("state", 1, "OR")]


def test_case_sensitive_values_and_other_kinds_are_not() -> None:
    cased = EntitySpec("state", values=STATES.values, case_sensitive=True)
    assert everyday_values([WEATHER], [cased]) == []
    number = EntitySpec("in", EntityKind.NUMBER)
    assert everyday_values([WEATHER], [number]) == []
    assert everyday_values([], [STATES]) == []


MODEL = """
id: w
start: main
{settings}
entities:
  state: [IN, OR, Texas]
intents:
  weather: ["weather in {{state}}", "is it sunny in {{state}}"]
states:
  main:
    say: Hi
    on: {{weather: main}}
"""


def test_the_compiler_warns_for_the_matcher_only() -> None:
    warnings = load_model_text(MODEL.format(settings="")).warnings
    assert [w.message for w in warnings if "'IN'" in w.message]
    assert not [w for w in warnings if "Texas" in w.message or "'OR'" in w.message]
    learned = MODEL.format(settings="settings: {recognizer: learned}")
    try:
        import pycrfsuite  # noqa: F401
    except ImportError:
        return
    assert not [w for w in load_model_text(learned).warnings if "'IN'" in w.message]
