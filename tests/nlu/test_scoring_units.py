"""ScoreIndex (nlu/scoring.py) on hand-made bags of terms, each score worked out from the
formula in the module's docstring.

A term weighs ``ln(1 + intents / intents using it)``, halved for an entity term or a stopword;
a word no example uses weighs half of ``ln(1 + intents)``; a filler weighs nothing. For an
example sharing ``m`` with a text of weight ``T``, its intent sharing ``mi`` with it, and the
example weighing ``N``, the score is ``sqrt((min(m/T, 1) + min(mi/T, 1)) / 2 * m/N)``, times
0.8 when only entity terms are shared with an example that also has words; an intent scores
as its best example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from dialoghub.nlu.entities import Analysis, Match
from dialoghub.nlu.scoring import ScoreIndex
from dialoghub.nlu.words import FILLER, OTHER, TERM

LN2, LN3, LN4 = math.log(2), math.log(3), math.log(4)


def text(
    *words: str, kinds: Sequence[int] | None = None, quality: Sequence[float] | None = None
) -> tuple[Analysis, list[int]]:
    """An analysed text of these words (spans as if separated by one space)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    q = list(quality) if quality is not None else [1.0] * len(words)
    k = list(kinds) if kinds is not None else [TERM] * len(words)
    return Analysis(" ".join(words), list(words), spans, q), k


def match(entity: str, start: int, end: int, chars: tuple[int, int], score: float = 1.0) -> Match:
    return Match(entity, "v", start, end, chars[0], chars[1], score, 3)


def formula(m: float, mi: float, t: float, n: float, factor: float = 1.0) -> float:
    """The score of an example as the module docstring states it."""
    return math.sqrt((min(m / t, 1.0) + min(mi / t, 1.0)) / 2 * (m / n)) * factor


def same(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
                                    for x, y in zip(a, b, strict=True))  # fmt: skip


# red, green, fruit: "red" and "green" are one intent's, "apple" two intents', "the" a
# stopword and "@fruit" an entity term (both halved).
FRUIT = ScoreIndex([["red", "apple"], ["green", "apple"], ["the", "@fruit"]], [0, 1, 2], 3)
W_RED, W_APPLE, W_THE, W_FRUIT = LN4, math.log(2.5), 0.5 * LN4, 0.5 * LN4
W_GREEN_APPLE = LN4 + math.log(2.5)
PENALTY3 = 0.5 * LN4  # an unknown word, with 3 intents


def test_an_exact_example_scores_one_and_a_shared_word_its_share() -> None:
    got = FRUIT.scores(*text("red", "apple"), [])
    t = W_RED + W_APPLE
    assert got[0] == pytest.approx(1.0, abs=1e-15)
    assert same(got, [got[0], formula(W_APPLE, W_APPLE, t, W_GREEN_APPLE), 0.0])


def test_a_word_weighs_by_the_intents_that_use_it() -> None:
    n_red = W_RED + W_APPLE
    assert same(FRUIT.scores(*text("red"), []), [formula(W_RED, W_RED, W_RED, n_red), 0.0, 0.0])
    apple = formula(W_APPLE, W_APPLE, W_APPLE, n_red)
    assert same(FRUIT.scores(*text("apple"), []), [apple, apple, 0.0])


def test_a_stopword_weighs_half() -> None:
    n_fruit = W_THE + W_FRUIT
    assert same(FRUIT.scores(*text("the"), []), [0.0, 0.0, formula(W_THE, W_THE, W_THE, n_fruit)])
    assert W_THE / n_fruit == pytest.approx(0.5)


def test_an_unknown_word_counts_against_every_intent_and_a_filler_not_at_all() -> None:
    t = W_RED + W_APPLE + PENALTY3
    got = FRUIT.scores(*text("red", "apple", "kiwi", kinds=[TERM, TERM, OTHER]), [])
    assert same(got, [formula(t - PENALTY3, t - PENALTY3, t, t - PENALTY3),
                      formula(W_APPLE, W_APPLE, t, W_GREEN_APPLE), 0.0])  # fmt: skip
    # each unknown word counts, repeated or not
    t2 = W_RED + 2 * PENALTY3
    got = FRUIT.scores(*text("kiwi", "red", "kiwi", kinds=[OTHER, TERM, OTHER]), [])
    assert same(got, [formula(W_RED, W_RED, t2, W_RED + W_APPLE), 0.0, 0.0])
    # a filler is as if not written
    got = FRUIT.scores(*text("um", "red", kinds=[FILLER, TERM]), [])
    assert same(got, FRUIT.scores(*text("red"), []))


def test_an_entity_value_weighs_as_its_entity_term_and_its_words_not() -> None:
    # "kiwi" is a value of @fruit: the word is covered, so it is not an unknown word
    analysis, kinds = text("kiwi", kinds=[OTHER])
    got = FRUIT.scores(analysis, kinds, [match("fruit", 0, 1, (0, 4))])
    # the example "the {fruit}" has a word: sharing only the value scales it by 0.8
    assert same(got, [0.0, 0.0, formula(W_FRUIT, W_FRUIT, W_FRUIT, W_THE + W_FRUIT, 0.8)])
    # with its word too, no scaling
    analysis, kinds = text("the", "kiwi", kinds=[TERM, OTHER])
    got = FRUIT.scores(analysis, kinds, [match("fruit", 1, 2, (4, 8))])
    assert got == pytest.approx([0.0, 0.0, 1.0], abs=1e-15)


def test_a_reading_scores_as_sure_as_its_match() -> None:
    analysis, kinds = text("kiwi", kinds=[OTHER])
    got = FRUIT.scores(analysis, kinds, [match("fruit", 0, 1, (0, 4), score=0.6)])
    m = 0.6 * W_FRUIT  # the text still weighs the whole entity term
    assert same(got, [0.0, 0.0, formula(m, m, W_FRUIT, W_THE + W_FRUIT, 0.8)])


def test_a_term_inside_a_value_still_matches_an_example_that_spells_it_out() -> None:
    # "red" is inside a value of an entity no example uses: the text then weighs nothing
    # but the example still shares "red" with it, and explains all of it
    analysis, kinds = text("red")
    got = FRUIT.scores(analysis, kinds, [match("colour", 0, 1, (0, 3))])
    n_red = W_RED + W_APPLE
    assert same(got, [math.sqrt(W_RED / n_red), 0.0, 0.0])
    # the same with a word weighing less than 1 (ln 2.5)
    got = FRUIT.scores(*text("apple"), [match("colour", 0, 1, (0, 5))])
    apple = math.sqrt(W_APPLE / n_red)
    assert same(got, [apple, apple, 0.0])


def test_a_light_text_is_not_taken_for_an_empty_one() -> None:
    # "apple" spell-corrected: the text weighs ln 2.5 (below 1), the examples share 0.85 of it
    got = FRUIT.scores(*text("apple", quality=[0.85]), [])
    m = 0.85 * W_APPLE
    apple = formula(m, m, W_APPLE, W_RED + W_APPLE)
    assert same(got, [apple, apple, 0.0])


def test_an_unused_entity_weighs_nothing() -> None:
    # "kiwi" is a value of @colour, which no example uses: it is not an unknown word
    # either, so "red kiwi" weighs as "red"
    analysis, kinds = text("red", "kiwi", kinds=[TERM, OTHER])
    got = FRUIT.scores(analysis, kinds, [match("colour", 1, 2, (4, 8))])
    assert same(got, FRUIT.scores(*text("red"), []))


def test_a_spell_corrected_word_shares_less_and_the_text_weighs_the_same() -> None:
    n_red = W_RED + W_APPLE
    got = FRUIT.scores(*text("red", quality=[0.85]), [])
    m = 0.85 * W_RED
    assert same(got, [formula(m, m, W_RED, n_red), 0.0, 0.0])
    # a repeated word counts as its least sure writing, whichever comes first
    for quality in ([1.0, 0.85], [0.85, 1.0]):
        got = FRUIT.scores(*text("red", "red", quality=quality), [])
        assert same(got, [formula(m, m, W_RED, n_red), 0.0, 0.0])


# farewell: "bye bye" and "bye ciao"; short: "bye". "bye" is both intents' (ln 2), "ciao" one's
# (ln 3), an unknown word weighs ln 3 / 2.
BYE = ScoreIndex([["bye", "bye"], ["bye", "ciao"], ["bye"]], [0, 0, 1], 2)
KIWIS = 2 * 0.5 * LN3  # two unknown words


def bye(count: int) -> list[float]:
    words = ["bye"] * count + ["kiwi", "kiwi"]
    return BYE.scores(*text(*words, kinds=[TERM] * count + [OTHER, OTHER]), [])


def test_a_word_said_once_shares_one_of_its_uses_in_an_example() -> None:
    t = LN2 + KIWIS
    # "bye bye" shares one "bye" of two; the intent shares one
    farewell = max(formula(LN2, LN2, t, 2 * LN2), formula(LN2, LN2, t, LN2 + LN3))
    assert same(bye(1), [farewell, formula(LN2, LN2, t, LN2)])


@pytest.mark.parametrize("count", [2, 3, 5])
def test_a_repeated_word_weighs_once_and_shares_as_often_as_the_example_has_it(
    count: int,
) -> None:
    t = LN2 + KIWIS  # the text weighs "bye" once, however often it is said
    # "bye bye" shares both; the intent too (its count is the most of its examples: 2);
    # "bye" shares its one
    farewell = max(formula(2 * LN2, 2 * LN2, t, 2 * LN2), formula(LN2, 2 * LN2, t, LN2 + LN3))
    assert same(bye(count), [farewell, formula(LN2, LN2, t, LN2)])


def test_an_intents_count_of_a_term_is_its_most_in_one_example() -> None:
    # the same examples, the single one first: the intent still counts "bye" twice
    index = ScoreIndex([["bye", "ciao"], ["bye", "bye"], ["bye"]], [0, 0, 1], 2)
    t = LN2 + KIWIS
    got = index.scores(*text("bye", "bye", "kiwi", "kiwi", kinds=[TERM, TERM, OTHER, OTHER]), [])
    farewell = max(formula(LN2, 2 * LN2, t, LN2 + LN3), formula(2 * LN2, 2 * LN2, t, 2 * LN2))
    assert same(got, [farewell, formula(LN2, LN2, t, LN2)])
    # "bye ciao bye": the first example shares one "bye" and "ciao", the intent both "bye"s
    # and "ciao" (more than the whole text: clamped at 1)
    t = LN2 + LN3
    got = index.scores(*text("bye", "ciao", "bye"), [])
    assert same(got, [max(formula(LN2 + LN3, 2 * LN2 + LN3, t, LN2 + LN3),
                          formula(2 * LN2, 2 * LN2 + LN3, t, 2 * LN2)),
                      formula(LN2, LN2, t, LN2)])  # fmt: skip
    assert got[0] == pytest.approx(1.0, abs=1e-15)


def test_a_repeated_entity_term_shares_as_often_as_the_example_has_it() -> None:
    # "from {city} to {city}" and "{city}": two values of one entity
    index = ScoreIndex([["from", "@city", "to", "@city"], ["@city"]], [0, 1], 2)
    w_city = 0.5 * LN2
    w_from, w_to = LN3, 0.5 * LN3  # words of one intent, "to" a stopword
    analysis, kinds = text("paris", "rome", kinds=[OTHER, OTHER])
    matches = [match("city", 1, 2, (6, 10)), match("city", 0, 1, (0, 5))]
    got = index.scores(analysis, kinds, matches)
    t = 2 * w_city  # two separate values: both weigh
    n_trip = w_from + w_to + 2 * w_city
    assert same(got, [formula(2 * w_city, 2 * w_city, t, n_trip, 0.8),
                      formula(w_city, w_city, t, w_city)])  # fmt: skip
    # one value shares one of the two {city} of the first example
    analysis, kinds = text("paris", kinds=[OTHER])
    got = index.scores(analysis, kinds, [match("city", 0, 1, (0, 5))])
    assert same(got, [formula(w_city, w_city, w_city, n_trip, 0.8), 1.0])


def test_readings_of_the_same_words_weigh_as_the_heaviest() -> None:
    # "7" read as a time and as a number: alternatives, not two values
    index = ScoreIndex([["@time"], ["add", "@number"], ["@number", "@time"]], [0, 1, 1], 2)
    w_time, w_number = 0.5 * LN2, 0.5 * LN3  # @time is both intents', @number one's
    both = [match("time", 0, 1, (0, 1)), match("number", 0, 1, (0, 1))]
    got = index.scores(*text("7", kinds=[OTHER]), both)
    t = max(w_time, w_number)  # not the sum
    assert same(got, [formula(w_time, w_time, t, w_time),
                      max(formula(w_number, w_number + w_time, t, LN3 + w_number, 0.8),
                          formula(w_number + w_time, w_number + w_time, t,
                                  w_number + w_time))])  # fmt: skip
    # in whichever order the matchers found them
    assert index.scores(*text("7", kinds=[OTHER]), both[::-1]) == got


def test_values_side_by_side_each_weigh() -> None:
    index = ScoreIndex([["@time"], ["@number"]], [0, 1], 3)
    w = 0.5 * math.log(1 + 3 / 1)
    # "7paris": two tokens, the second starting where the first ends: separate values
    analysis = Analysis("7paris", ["7", "paris"], [(0, 1), (1, 6)], [1.0, 1.0])
    got = index.scores(analysis, [OTHER, OTHER],
                       [match("number", 1, 2, (1, 6)), match("time", 0, 1, (0, 1))])  # fmt: skip
    assert same(got, [formula(w, w, 2 * w, w), formula(w, w, 2 * w, w), 0.0])


def test_a_long_reading_holds_the_shorter_ones_inside_it() -> None:
    # "new york city hall" as a place, "york" as a name, "city hall" as a building: one
    # cluster, weighing its heaviest reading, even after a reading that ends early
    index = ScoreIndex([["@place"], ["@name"], ["@building"], ["@name", "@building"]],
                       [0, 1, 2, 3], 4)  # fmt: skip
    w_place, w_one = 0.5 * math.log(1 + 4 / 1), 0.5 * math.log(1 + 4 / 2)
    analysis, kinds = text("new", "york", "city", "hall", kinds=[OTHER] * 4)
    matches = [match("place", 0, 4, (0, 18)), match("name", 1, 2, (4, 8)),
               match("building", 2, 4, (9, 18))]  # fmt: skip
    got = index.scores(analysis, kinds, matches)
    t = w_place
    assert same(got, [formula(w_place, w_place, t, w_place), formula(w_one, w_one, t, w_one),
                      formula(w_one, w_one, t, w_one),
                      formula(2 * w_one, 2 * w_one, t, 2 * w_one)])  # fmt: skip


def test_an_example_of_slots_only_is_not_scaled() -> None:
    index = ScoreIndex([["volume", "@level"], ["@level"]], [0, 1], 2)
    w_level, w_volume = 0.5 * LN2, LN3
    got = index.scores(*text("3", kinds=[OTHER]), [match("level", 0, 1, (0, 1))])
    assert same(got, [formula(w_level, w_level, w_level, w_volume + w_level, 0.8),
                      formula(w_level, w_level, w_level, w_level)])  # fmt: skip
    assert got[1] == pytest.approx(1.0, abs=1e-15)
    # with the word, the first is not scaled either
    analysis, kinds = text("volume", "3", kinds=[TERM, OTHER])
    got = index.scores(analysis, kinds, [match("level", 1, 2, (7, 8))])
    t = w_volume + w_level
    assert same(got, [1.0, formula(w_level, w_level, t, w_level)])


def test_each_intent_scores_as_its_own_best_example() -> None:
    # intent 0 owns examples 0 and 1, intent 1 example 2, intent 2 none
    index = ScoreIndex([["x"], ["y", "z"], ["z"]], [0, 0, 1], 3)
    w_x, w_y, w_z = LN4, LN4, math.log(2.5)
    got = index.scores(*text("z"), [])
    assert same(got, [formula(w_z, w_z, w_z, w_y + w_z), 1.0, 0.0])
    got = index.scores(*text("x", "y"), [])
    t = w_x + w_y
    assert same(got, [max(formula(w_x, w_x + w_y, t, w_x), formula(w_y, w_x + w_y, t, w_y + w_z)),
                      0.0, 0.0])  # fmt: skip


def test_an_empty_text_scores_zero_everywhere() -> None:
    assert FRUIT.scores(*text(), []) == [0.0, 0.0, 0.0]
    assert BYE.scores(*text("um", kinds=[FILLER]), []) == [0.0, 0.0]


def test_an_entity_no_example_uses_does_not_hide_the_readings_after_it() -> None:
    # "kiwi" read as a colour (no example uses @colour) and as a fruit
    analysis, kinds = text("kiwi", kinds=[OTHER])
    both = [match("fruit", 0, 1, (0, 4)), match("colour", 0, 1, (0, 4))]
    assert FRUIT.scores(analysis, kinds, both) == FRUIT.scores(analysis, kinds, both[:1])
    assert FRUIT.scores(analysis, kinds, both)[2] > 0.0


def test_a_text_repeating_one_word_of_an_example_still_shares_words_with_it() -> None:
    # "hello bye bye" against "hello bye": two words shared (one of them said twice), so
    # the example is not scaled as if only slot values were shared
    index = ScoreIndex([["hello", "bye"], ["other"]], [0, 1], 2)
    got = index.scores(*text("hello", "bye", "bye"), [])
    assert got == pytest.approx([1.0, 0.0], abs=1e-15)


def test_a_word_said_less_often_than_the_example_has_it_shares_as_often_as_said() -> None:
    index = ScoreIndex([["bye", "bye", "bye"], ["bye"]], [0, 1], 2)
    t = LN2 + KIWIS
    got = index.scores(*text("bye", "bye", "kiwi", "kiwi", kinds=[TERM, TERM, OTHER, OTHER]), [])
    assert same(got, [formula(2 * LN2, 2 * LN2, t, 3 * LN2), formula(LN2, LN2, t, LN2)])


def test_a_repeated_word_adds_to_what_the_intent_shares_before_it() -> None:
    # "ciao bye bye": the intent shares "ciao" and both "bye"s, whatever the words' order
    got = BYE.scores(*text("ciao", "bye", "bye"), [])
    t = LN3 + LN2
    assert same(got, [max(formula(2 * LN2, 2 * LN2 + LN3, t, 2 * LN2),
                          formula(LN3 + LN2, 2 * LN2 + LN3, t, LN2 + LN3)),
                      formula(LN2, LN2, t, LN2)])  # fmt: skip
    assert got[0] == pytest.approx(1.0, abs=1e-15)
    assert same(got, BYE.scores(*text("bye", "ciao", "bye"), []))


def test_an_example_sharing_more_than_the_text_weighs_explains_all_of_it() -> None:
    # "bye bye" weighs one "bye"; the example "bye bye ciao" shares two: explained, clamped
    # at 1, and the example is 2 ln 2 of 2 ln 2 + ln 3 in the text
    index = ScoreIndex([["bye", "bye", "ciao"], ["bye"]], [0, 1], 2)
    got = index.scores(*text("bye", "bye"), [])
    assert same(got, [math.sqrt(2 * LN2 / (2 * LN2 + LN3)), 1.0])


@pytest.mark.parametrize("n", range(2, 13))
def test_an_intent_sharing_the_whole_text_explains_exactly_all_of_it(n: int) -> None:
    # "x y" against the intent of the examples "x" and "y": each example explains half of
    # the text, the intent all of it, so the score is sqrt((1/2 + 1) / 2) with no rounding
    # of "all of it" to a hair below 1 (ln 6 * (1 / (2 ln 6)) is not 1/2 in floating point)
    bags = [["x"], ["y"]] + [[f"z{k}"] for k in range(1, n)]
    index = ScoreIndex(bags, [0, 0, *range(1, n)], n)
    assert index.scores(*text("x", "y"), [])[0] == math.sqrt(0.75)


def test_no_score_is_above_one_even_by_a_rounding() -> None:
    # The example's weight, summed in its order, and what the text shares with it, summed in
    # the text's order, differ in the last bit here: the ratio is a hair above 1.
    words = [f"w{k}" for k in range(9)]
    bags = [words, ["w1", "w3", "w4", "w6"], ["w1", "w8"], ["w1", "w2", "w3", "w8"],
            ["w1", "w3", "w4", "w6", "w8"], ["w1", "w2", "w3", "w5", "w7"], ["w1", "w5", "w7"],
            ["w1", "w3", "w7"]]  # fmt: skip
    index = ScoreIndex(bags, list(range(8)), 8)
    got = index.scores(*text("w6", "w4", "w5", "w1", "w0", "w8", "w7", "w2", "w3"), [])
    assert got[0] == 1.0
    assert all(0.0 <= s <= 1.0 for s in got)
