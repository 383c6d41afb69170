"""The recognizer's score arithmetic, checked against the formula its docstring states.

Small vocabularies whose weights can be worked out by hand: a term weighs
``ln(1 + intents / intents using it)`` (halved for an entity term or a stopword), an unknown
word weighs half of ``ln(1 + intents)``, and an example scores the geometric mean of how
much of the text it explains and how much of itself the text contains. The boundaries
(threshold 0 and 1, the number of alternatives, ties) and the model errors are here too.
"""

from __future__ import annotations

import math

import pytest

from dialoghub.errors import ModelError
from dialoghub.nlu import EntitySpec, EntityValue, IntentSpec
from dialoghub.nlu.recognizer import MAX_ALTERNATIVES, Recognizer

LN2, LN3 = math.log(2), math.log(3)

FRUIT = [IntentSpec("red", ("red apple",)), IntentSpec("green", ("green apple",))]
CITY = EntitySpec("city", values=(EntityValue("Paris"), EntityValue("Rome")))


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 5e-5  # confidences are rounded to four places


def test_an_exact_example_scores_one_and_the_other_its_share() -> None:
    r = Recognizer(FRUIT, []).recognize("red apple")
    assert (r.intent, r.confidence) == ("red", 1.0)
    # "green apple" shares "apple" (ln 2) of a text and an example that both weigh ln 3 + ln 2
    ((name, score),) = r.alternatives
    assert name == "green"
    assert close(score, LN2 / (LN2 + LN3))


def test_an_unknown_word_weighs_half_a_word_of_one_intent() -> None:
    r = Recognizer(FRUIT, []).recognize("red apple kiwi")
    assert r.intent == "red"
    explained = (LN3 + LN2) / (LN3 + LN2 + 0.5 * LN3)
    assert close(r.confidence, math.sqrt(explained))  # the example is all in the text


def test_a_filler_weighs_nothing() -> None:
    rec = Recognizer(FRUIT, [])
    assert rec.recognize("um red apple please").confidence == 1.0
    assert (
        rec.recognize("um red apple please").alternatives == rec.recognize("red apple").alternatives
    )


def test_a_repeated_word_weighs_once() -> None:
    rec = Recognizer(FRUIT, [])
    assert rec.recognize("red red apple") == rec.recognize("red apple")


def test_a_spell_corrected_word_counts_for_less() -> None:
    juice = [IntentSpec("orange", ("orange juice",)), IntentSpec("lemon", ("lemon juice",))]
    rec = Recognizer(juice, [])
    assert rec.analyse("ornge juice").words == ["orange", "juice"]
    r = rec.recognize("ornge juice")
    assert r.intent == "orange"
    share = (0.85 * LN3 + LN2) / (LN3 + LN2)  # one edit: the word counts 0.85
    assert close(r.confidence, share)
    # a word too far from any model word is unknown: both intents share only "juice"
    far = rec.recognize("oarnje juice")
    assert far.intent is None
    assert far.alternatives[0][1] == far.alternatives[1][1]


def test_an_entity_term_weighs_half_and_a_value_alone_is_scaled_down() -> None:
    rec = Recognizer(
        [IntentSpec("weather", ("weather {city}",), {"city": "city"}), IntentSpec("bye", ("bye",))],
        [CITY],
    )
    assert rec.recognize("weather Paris").confidence == 1.0
    alone = rec.recognize("Paris")
    # the text is all @city (0.5 ln 3); the example weighs ln 3 + 0.5 ln 3: it holds a third,
    # and a text of slot values only, against an example with words, counts 0.8
    expected = 0.8 * math.sqrt(1 / 3)
    assert alone.intent is None  # below the default threshold of 0.5
    assert close(alone.confidence, expected)
    assert alone.alternatives == (("weather", alone.confidence),)


def test_an_example_made_of_a_slot_only_is_not_scaled_down() -> None:
    rec = Recognizer(
        [IntentSpec("answer", ("{city}",), {"city": "city"}), IntentSpec("bye", ("bye",))],
        [CITY],
    )
    r = rec.recognize("Rome")
    assert (r.intent, r.confidence) == ("answer", 1.0)
    assert r.slots["city"].value == "Rome"


def test_an_intent_explains_the_text_with_all_its_examples() -> None:
    # "good morning nice" is best matched by "good morning" in both intents; the intent that
    # also has "nice weather" explains more of the text, and scores higher
    two = IntentSpec("two", ("good morning", "nice weather"))
    one = IntentSpec("one", ("good morning",))
    other = IntentSpec("other", ("farewell",))
    scores = Recognizer([one, two, other], []).intent_scores("good morning nice")[2]
    assert scores[1] > scores[0] > 0


# --- the threshold ------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [-0.01, 1.01, 2.0])
def test_a_threshold_outside_zero_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError) as info:
        Recognizer(FRUIT, [], threshold=threshold)
    assert str(info.value) == f"threshold must be in [0, 1], not {threshold!r}"


def test_threshold_zero_takes_any_score() -> None:
    weather = IntentSpec("weather", ("weather {city}",), {"city": "city"})
    rec = Recognizer([weather, IntentSpec("bye", ("bye",))], [CITY], threshold=0.0)
    r = rec.recognize("Paris")
    assert r.intent == "weather" and 0 < r.confidence < 0.5
    assert r.alternatives == ()  # the runners-up only: no other intent scores above 0


def test_threshold_one_takes_only_a_certain_match() -> None:
    rec = Recognizer(FRUIT, [], threshold=1.0)
    assert rec.recognize("red apple").intent == "red"
    r = rec.recognize("red apple kiwi")
    assert r.intent is None
    assert r.alternatives[0] == ("red", r.confidence)  # the best leads the list


def test_a_score_equal_to_the_threshold_is_taken() -> None:
    share = round(LN2 / (LN2 + LN3), 4)
    rec = Recognizer(FRUIT, [], threshold=share)
    assert rec.recognize("apple green").intent == "green"  # green: 1.0
    r = Recognizer(FRUIT, [], threshold=share).recognize("apple", allowed={"green"})
    assert r.confidence >= share and r.intent == "green"
    r = Recognizer(FRUIT, [], threshold=min(r.confidence + 0.0001, 1.0)).recognize(
        "apple", allowed={"green"}
    )
    assert r.intent is None


# --- alternatives and ties ----------------------------------------------------------------------


def _many(n: int) -> Recognizer:
    return Recognizer([IntentSpec(f"i{k}", (f"shared word{k}",)) for k in range(n)], [])


def test_at_most_max_alternatives_runners_up_are_listed() -> None:
    assert MAX_ALTERNATIVES == 5
    r = _many(8).recognize("shared word0")
    assert r.intent == "i0"
    assert len(r.alternatives) == MAX_ALTERNATIVES
    assert [name for name, _ in r.alternatives] == ["i1", "i2", "i3", "i4", "i5"]  # ties: order
    assert len({s for _, s in r.alternatives}) == 1


def test_below_the_threshold_the_best_and_max_alternatives_minus_one_more() -> None:
    r = _many(8).recognize("shared")
    assert r.intent is None
    assert [name for name, _ in r.alternatives] == ["i0", "i1", "i2", "i3", "i4"]


def test_fewer_intents_list_every_runner_up_with_a_score() -> None:
    r = _many(3).recognize("shared word2")
    assert [name for name, _ in r.alternatives] == ["i0", "i1"]
    assert all(score > 0 for _, score in r.alternatives)
    r = Recognizer([*FRUIT, IntentSpec("bye", ("bye",))], []).recognize("red apple")
    assert [name for name, _ in r.alternatives] == ["green"]  # bye scores 0: not listed


def test_alternatives_are_best_first() -> None:
    rec = Recognizer(
        [
            IntentSpec("a", ("alpha beta gamma",)),
            IntentSpec("b", ("alpha",)),
            IntentSpec("c", ("alpha beta",)),
        ],
        [],
    )
    r = rec.recognize("alpha beta gamma")
    assert r.intent == "a"
    assert [name for name, _ in r.alternatives] == ["c", "b"]
    assert r.alternatives[0][1] > r.alternatives[1][1]


def test_a_tie_is_reported() -> None:
    rec = Recognizer([IntentSpec("x", ("same words",)), IntentSpec("y", ("same words",))], [])
    r = rec.recognize("same words")
    assert (r.intent, r.tied) == ("x", ("x", "y"))
    assert r.alternatives == (("y", 1.0),)
    assert Recognizer(FRUIT, []).recognize("red apple").tied == ()


def test_allowed_leaves_out_other_intents_and_ignores_unknown_names() -> None:
    rec = Recognizer(FRUIT, [])
    r = rec.recognize("red apple", allowed={"green", "nope"})
    assert r.intent is None  # green scores below the threshold
    assert r.alternatives == (("green", round(LN2 / (LN2 + LN3), 4)),)
    assert rec.recognize("red apple", allowed=set()).confidence == 0.0


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(text: str) -> None:
    r = Recognizer(FRUIT, []).recognize(text)
    assert (r.intent, r.confidence, r.alternatives, r.slots) == (None, 0.0, (), {})


def test_a_text_sharing_nothing_scores_zero() -> None:
    r = Recognizer(FRUIT, []).recognize("banana")
    assert (r.intent, r.confidence, r.alternatives) == (None, 0.0, ())


# --- slots by context -------------------------------------------------------------------------


def test_slots_of_one_entity_go_by_the_words_around_the_placeholders() -> None:
    trip = IntentSpec(
        "trip",
        ("fly from {origin} to {destination}", "fly to {destination} from {origin}"),
        {"origin": "city", "destination": "city"},
    )
    rec = Recognizer([trip, IntentSpec("bye", ("bye",))], [CITY])
    for text in ("fly from Paris to Rome", "fly to Rome from Paris", "from Paris fly to Rome"):
        slots = rec.recognize(text).slots
        assert (slots["origin"].value, slots["destination"].value) == ("Paris", "Rome"), text


def test_the_word_after_a_placeholder_is_context_too() -> None:
    trip = IntentSpec(
        "trip",
        ("{origin} departure {destination} arrival",),
        {"origin": "city", "destination": "city"},
    )
    rec = Recognizer([trip, IntentSpec("bye", ("bye",))], [CITY])
    slots = rec.recognize("Rome arrival Paris departure").slots
    assert (slots["origin"].value, slots["destination"].value) == ("Paris", "Rome")


def test_slots_carry_the_text_they_were_read_from() -> None:
    weather = IntentSpec("weather", ("weather in {city}",), {"city": "city"})
    value = Recognizer([weather], [CITY]).recognize("weather in paris please").slots["city"]
    assert (value.value, value.text, value.start, value.end) == ("Paris", "paris", 11, 16)


# --- model errors -------------------------------------------------------------------------------


def test_model_errors_name_what_and_where() -> None:
    with pytest.raises(ModelError) as info:
        Recognizer([], [CITY, CITY])
    assert (info.value.message, info.value.details) == (
        "entity 'city' is declared twice",
        {"entity": "city"},
    )
    with pytest.raises(ModelError) as info:
        Recognizer([*FRUIT, IntentSpec("red", ("x",))], [])
    assert (info.value.message, info.value.details) == (
        "intent 'red' is declared twice",
        {"intent": "red"},
    )
    with pytest.raises(ModelError) as info:
        Recognizer([IntentSpec("go", ("go {where}",), {"where": "place"})], [])
    assert (info.value.message, info.value.details) == (
        "intent 'go': slot 'where' uses unknown entity 'place'",
        {"intent": "go", "slot": "where", "entity": "place"},
    )
    with pytest.raises(ModelError) as info:
        Recognizer([IntentSpec("go", ("go to {where}",))], [])
    assert (info.value.message, info.value.details) == (
        "intent 'go': example 'go to {where}' uses undeclared slot {where}",
        {"intent": "go", "slot": "where"},
    )


def test_builtin_entities_need_no_declaration() -> None:
    rec = Recognizer([IntentSpec("volume", ("volume {n}",), {"n": "number"}),
                      IntentSpec("alarm", ("wake me at {time}",))], [])  # fmt: skip
    assert rec.recognize("volume 7").slots["n"].value == 7
    assert rec.intent_slots("alarm") == {"time": "time"}
    assert set(rec.entity_specs) == {"number", "time"}
    assert rec.intents == ("volume", "alarm")


# --- more arithmetic (mutation survivors) -------------------------------------------------


def test_a_slot_only_example_with_an_unknown_word_beside_the_value() -> None:
    # n = 2 intents: @city weighs log(3) / 2 (entity damping), the unknown word "zzz" weighs
    # the penalty log(3) / 2, so the example explains half the text and all of itself:
    # sqrt(0.5 * (0.5 + 0.5) * 1 * 1) (an example of slots only is not scaled down).
    city = EntitySpec("city", values=(EntityValue("Paris"),))
    rec = Recognizer([IntentSpec("city", ("{city}",)), IntentSpec("bye", ("bye",))], [city])
    assert rec.recognize("Paris zzz").confidence == round(math.sqrt(0.5), 4)


def test_an_intent_counts_a_term_as_often_as_its_example_with_most_of_it() -> None:
    # The order of the examples does not change it: "bye bye" counts twice either way.
    def confidence(examples: tuple[str, ...]) -> float:
        rec = Recognizer([IntentSpec("bye", examples), IntentSpec("hi", ("hello",))], [])
        return rec.recognize("bye bye zzz").confidence

    assert confidence(("bye bye", "bye")) == confidence(("bye", "bye bye")) == 1.0


def test_an_intent_without_examples_never_scores() -> None:
    rec = Recognizer([IntentSpec("empty", ()), IntentSpec("bye", ("bye",))], [])
    found = rec.recognize("bye")
    assert (found.intent, found.confidence, found.alternatives) == ("bye", 1.0, ())
    assert rec.intent_scores("bye")[2] == [0.0, 1.0]
