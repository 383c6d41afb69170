"""The matcher's parts the learned recognizer builds on: analysis, entity matches, scores,
slot assignment, and the scoring tables built on first use (``score_now=False``)."""

from __future__ import annotations

import pytest

from dialoghub.errors import ModelError
from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.recognizer import Recognizer

CITY = EntitySpec(
    "city", values=(EntityValue("Paris"), EntityValue("New York", ("NYC",))), open=True
)
INTENTS = [
    IntentSpec("trip", ("trip from {origin} to {destination}",),
               {"origin": "city", "destination": "city"}),
    IntentSpec("weather", ("weather in {city} at {time}",), {"city": "city", "time": "time"}),
    IntentSpec("bye", ("bye",)),
]  # fmt: skip


def _rec(**kw: bool) -> Recognizer:
    return Recognizer(INTENTS, [CITY], **kw)


def test_analyse_normalizes_and_corrects_with_spans() -> None:
    a = _rec().analyse("Wether in NYC")
    assert a.words == ["weather", "in", "nyc"]
    assert a.spans == [(0, 6), (7, 9), (10, 13)]
    assert a.quality[0] < 1.0 and a.quality[1:] == [1.0, 1.0]


def test_entity_matches_only_of_the_entities_named() -> None:
    rec = _rec()
    a = rec.analyse("Paris at 7pm")
    assert [(m.entity, m.value) for m in rec.entity_matches(a, ["city"])] == [("city", "Paris")]
    assert [(m.entity, m.value) for m in rec.entity_matches(a, ["time", "nope"])] == [
        ("time", "19:00")
    ]
    assert rec.entity_matches(a, []) == []


def test_intent_scores_in_declaration_order() -> None:
    analysis, matches, scores = _rec().intent_scores("bye")
    assert analysis.words == ["bye"] and matches == []
    assert len(scores) == 3 and scores[2] == 1.0 and scores[0] == scores[1] == 0.0


def test_assign_gives_the_matches_to_the_intents_slots() -> None:
    rec = _rec()
    a = rec.analyse("from NYC to Paris")
    slots = rec.assign("trip", a, rec.entity_matches(a, ["city"]))
    assert {k: v.value for k, v in slots.items()} == {"origin": "New York", "destination": "Paris"}
    assert rec.assign("bye", a, rec.entity_matches(a, ["city"])) == {}


def test_a_second_open_slot_is_filled_after_a_first_from_the_list() -> None:
    rec = _rec().recognize("trip from Paris to Lyon")
    assert {k: v.value for k, v in rec.slots.items()} == {"origin": "Paris", "destination": "Lyon"}


def test_two_open_slots_are_both_filled() -> None:
    rec = _rec().recognize("trip from Lyon to Nice")
    assert {k: v.value for k, v in rec.slots.items()} == {"origin": "Lyon", "destination": "Nice"}


def test_entity_specs_and_intent_slots_name_the_built_ins() -> None:
    rec = _rec()
    specs = rec.entity_specs
    assert set(specs) == {"city", "time"}
    assert specs["time"].kind is EntityKind.TIME and specs["city"] is CITY
    assert rec.intent_slots("weather") == {"city": "city", "time": "time"}
    assert rec.intents == ("trip", "weather", "bye")


def test_scoring_tables_built_later_score_the_same() -> None:
    now, later = _rec(), _rec(score_now=False)
    for text in ("bye", "trip from Paris to Lyon", "weather in NYC at noon", "hello"):
        assert later.recognize(text) == now.recognize(text)
        assert later.intent_scores(text)[2] == now.intent_scores(text)[2]


def test_extract_slots_of_an_unknown_intent_names_it_and_the_known_ones() -> None:
    with pytest.raises(ModelError) as info:
        _rec().extract_slots("fly", "to Paris")
    assert str(info.value) == "unknown intent 'fly'"
    assert info.value.details == {"intent": "fly", "known": ["trip", "weather", "bye"]}


def test_a_spelling_tie_goes_to_the_word_the_model_uses_more() -> None:
    # "carx" is one edit from "card" and from "cart": alphabetically "card" comes first,
    # but the examples say "cart" three times.
    shop = [
        IntentSpec("cart", ("add to cart", "show my cart", "empty the cart")),
        IntentSpec("pay", ("pay by card",)),
    ]
    assert Recognizer(shop, []).analyse("carx").words == ["cart"]
    assert Recognizer(shop[1:], []).analyse("carx").words == ["card"]


def test_number_and_time_words_are_spelled_right_in_any_model() -> None:
    rec = Recognizer([IntentSpec("bye", ("bye",))], [])
    assert rec.analyse("sevn").words == ["seven"]
    assert rec.analyse("midnigt").words == ["midnight"]


def test_a_word_is_never_corrected_into_an_entity_term() -> None:
    # "@city" stands for the entity in the examples; "xcity" is one letter from it.
    assert _rec().analyse("weather in xcity").words == ["weather", "in", "xcity"]
