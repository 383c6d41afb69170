"""The domain LM's corpus, built from a model per state, and the number writing both ways."""

from __future__ import annotations

from dialoghub.model.loader import load_model
from dialoghub.voice.domain import digits, domain_for, spoken, whole_model
from dialoghub.voice.service import Voice, with_wake_word
from tests.conftest import EXAMPLES

WEATHER = load_model(EXAMPLES / "weather" / "weather.yaml")
PIZZA = load_model(EXAMPLES / "pizza" / "pizza.yaml")


def test_a_state_takes_its_intents_with_entity_values_and_synonyms_expanded() -> None:
    d = domain_for(WEATHER, "main", "listen", {"kind": "user"})
    assert not d.general and not d.digits
    assert "what's the weather in tokyo" in d.sentences
    assert "forecast for the big apple tomorrow" in d.sentences  # a synonym
    assert "thanks a lot" in d.sentences and "goodbye" in d.sentences
    # an example without slots weighs as much as one expanded into many sentences
    assert d.sentences.count("thank you") >= 20


def test_filling_a_slot_takes_its_values_alone_and_confirming_takes_yes_and_no() -> None:
    fill = {"kind": "user", "fill": {"intent": "order", "slot": "kind", "filled": []}}
    d = domain_for(PIZZA, "main", "take_order", fill)
    assert "pepperoni" in d.sentences and "veggie please" in d.sentences
    confirm = domain_for(PIZZA, "main", "more", {"kind": "user", "confirm": {}})
    assert "yes" in confirm.sentences and "no thanks" in confirm.sentences


def test_a_regex_slot_speaks_the_model_s_own_examples_and_asks_for_digits() -> None:
    d = domain_for(PIZZA, "address", "ask", {"kind": "user"})
    assert d.digits
    assert "twelve baker street" in d.sentences
    assert "deliver to forty two baker street" in d.sentences


def test_domains_are_keyed_by_model_version_and_what_the_state_takes() -> None:
    a = domain_for(WEATHER, "main", "listen", {"kind": "user"})
    b = domain_for(WEATHER, "main", "listen", {"kind": "user"})
    c = domain_for(PIZZA, "main", "take_order", {"kind": "user"})
    assert a.key == b.key and a.key.startswith("weather@1:") and a.key != c.key
    assert whole_model(WEATHER).key != a.key
    voice = Voice()
    try:
        assert voice.domain(WEATHER, None) is voice.domain(WEATHER, None)  # cached
    finally:
        voice.close()


def test_the_wake_word_may_start_every_sentence() -> None:
    d = with_wake_word(domain_for(WEATHER, "main", "listen", {"kind": "user"}), "computer")
    assert "computer goodbye" in d.sentences and "goodbye" in d.sentences
    assert d.key.endswith(":wake:computer")


def test_numbers_written_both_ways() -> None:
    assert digits("twelve baker street") == "12 baker street"
    assert digits("forty two and ninety") == "42 and 90"
    assert digits("one hundred twenty three") == "123"
    assert digits("the one") == "the 1"
    assert (
        spoken("Order A1: 25 minutes, 14 degrees!")
        == "order a one twenty five minutes fourteen degrees"
    )
    assert digits(spoken("at 99 or 305")) == "at 99 or 305"
