"""Which value goes to which slot of one entity: the words before, two before and after each
placeholder in the examples, and the order the examples use the slots in.

Each recognizer is built inside its test, so compiling the examples is part of what the test
runs (a mutation of the compiler is seen).
"""

from __future__ import annotations

from dialoghub.nlu import EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.recognizer import Recognizer

CITY = EntitySpec("city", values=(EntityValue("Paris"), EntityValue("Rome")))
SLOTS = {"origin": "city", "destination": "city"}


def _slots(text: str, *examples: str, slots: dict[str, str] = SLOTS) -> dict[str, str]:
    rec = Recognizer([IntentSpec("trip", examples, slots), IntentSpec("bye", ("bye",))], [CITY])
    return {k: v.value for k, v in rec.extract_slots("trip", text).items()}


def test_the_word_before_a_placeholder_decides() -> None:
    # By order alone Rome (said first) would be the origin.
    assert _slots("reach Rome leave Paris", "leave {origin}", "reach {destination}") == {
        "origin": "Paris",
        "destination": "Rome",
    }


def test_two_words_before_a_placeholder_decide_when_the_word_before_does_not() -> None:
    got = _slots("arrive in Rome depart via Paris", "depart from {origin}", "arrive at {destination}")
    assert got == {"origin": "Paris", "destination": "Rome"}


def test_the_word_after_a_placeholder_decides() -> None:
    got = _slots("Rome inbound Paris onwards", "{origin} onwards", "{destination} inbound")
    assert got == {"origin": "Paris", "destination": "Rome"}


def test_without_context_the_order_of_the_examples_decides_not_the_declaration() -> None:
    slots = {"destination": "city", "origin": "city"}  # declared the other way round
    got = _slots("Paris Rome", "from {origin} to {destination}", slots=slots)
    assert got == {"origin": "Paris", "destination": "Rome"}


def test_an_example_with_no_words_is_skipped_not_the_end_of_the_examples() -> None:
    rec = Recognizer([IntentSpec("bye", ("!!!", "bye")), IntentSpec("hi", ("hello",))], [])
    assert rec.recognize("bye").intent == "bye"


def test_a_placeholder_named_after_a_built_in_is_its_own_slot() -> None:
    rec = Recognizer([IntentSpec("count", ("count to {number}",))], [])
    assert rec.intent_slots("count") == {"number": "number"}
    assert rec.recognize("count to 7").slots["number"].value == 7
