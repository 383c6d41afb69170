"""compile_intent (nlu/intents.py) read back: the bags of terms, the slots by entity and the
words around each placeholder."""

from __future__ import annotations

from dialoghub.nlu.intents import compile_intent
from dialoghub.nlu.slots import SlotContext
from dialoghub.nlu.types import IntentSpec


def resolve(intent: str, slot: str, entity: str) -> str:
    return entity


def known(entity: str) -> bool:
    return entity in {"city", "number"}


def test_two_placeholders_side_by_side_take_no_context_from_each_other() -> None:
    spec = IntentSpec(
        "trip", ("from {origin} {destination} today",), {"origin": "city", "destination": "city"}
    )
    compiled, bags = compile_intent(spec, resolve, known)
    assert bags == [["from", "@city", "@city", "today"]]
    assert compiled.contexts == {
        # the word after {origin} is a placeholder: no "after" word
        "origin": SlotContext(frozenset({"from"}), frozenset(), frozenset()),
        # the word before {destination} is a placeholder, the one after a word
        "destination": SlotContext(frozenset(), frozenset({"from"}), frozenset({"today"})),
    }
    assert compiled.entity_slots == (("city", ("origin", "destination")),)


def test_a_placeholder_first_takes_the_word_after_it() -> None:
    spec = IntentSpec("weather", ("{city} weather please",), {"city": "city"})
    compiled, bags = compile_intent(spec, resolve, known)
    assert bags == [["@city", "weather", "please"]]
    assert compiled.contexts == {
        "city": SlotContext(frozenset(), frozenset(), frozenset({"weather"})),
    }


def test_a_declared_slot_no_example_uses_comes_last_once() -> None:
    spec = IntentSpec(
        "trip",
        ("to {destination}", "from {origin} to {destination}"),
        {"stop": "city", "origin": "city", "destination": "city", "count": "number"},
    )
    compiled, _ = compile_intent(spec, resolve, known)
    # order of first appearance in the examples, then the declared ones no example uses
    assert compiled.entity_slots == (
        ("city", ("destination", "origin", "stop")),
        ("number", ("count",)),
    )
    assert list(compiled.contexts) == ["destination", "origin", "stop", "count"]
    assert compiled.contexts["stop"] == SlotContext(frozenset(), frozenset(), frozenset())
    assert compiled.contexts["destination"] == SlotContext(
        frozenset({"to"}), frozenset(), frozenset()
    )


def test_an_example_of_one_placeholder_and_an_undeclared_entity_slot() -> None:
    spec = IntentSpec("go", ("{city}", "go to {city} now"))
    compiled, bags = compile_intent(spec, resolve, known)
    assert bags == [["@city"], ["go", "to", "@city", "now"]]
    assert compiled.slots == {"city": "city"}
    assert compiled.contexts == {
        "city": SlotContext(frozenset({"to"}), frozenset({"go"}), frozenset({"now"})),
    }
