"""How the learned recognizer chooses its training examples, and how its tagger's labels
become runs."""

from __future__ import annotations

import itertools

from dialoghub.nlu import IntentSpec, learned
from dialoghub.nlu.tagger import spans


def test_examples_of_a_rare_slot_are_all_kept_and_the_others_spread() -> None:
    n = 3000
    examples = [f"play {{song}} number {k}" if k % 100 == 0 else f"say hi {k}" for k in range(n)]
    keep = learned._keep(examples, 1000)
    assert len(keep) == 1000 == len(set(keep))
    assert keep == sorted(keep)
    assert set(range(0, n, 100)) <= set(keep)  # 30 examples, 1%: every one
    # The others are evenly spread: no stretch of 100 examples is left out.
    assert max(b - a for a, b in itertools.pairwise(keep)) <= 4


def test_a_slot_used_often_is_not_rare_and_rare_ones_take_at_most_a_third() -> None:
    n = 2000
    common = [f"to {{city}} {k}" if k % 5 == 0 else f"hello {k}" for k in range(n)]  # 20%
    assert learned._keep(common, 1000) == learned._spread(n, 1000)
    rare = [f"to {{city}} {k}" if k % 11 == 0 else f"hello {k}" for k in range(n)]  # 9%: rare
    keep = learned._keep(rare, 100)
    firsts = [k for k in keep if k % 11 == 0]
    assert len(keep) == 100
    assert firsts[:33] == list(range(0, 33 * 11, 11))  # the first third: rare ones, in order
    assert len(firsts) < 50  # the rest spread, not more rare ones first
    assert learned._keep(rare[:50], 100) == list(range(50))  # few: all


def test_the_classifier_learns_from_an_even_spread_and_the_tagger_from_rare_first() -> None:
    n = learned.TAG_EXAMPLES * 2
    examples = tuple(
        f"book {{city}} trip {k}" if k % 50 == 1 else f"book a trip {k}" for k in range(n)
    )
    sampled, roles = learned._sample(
        [IntentSpec("book", examples), IntentSpec("x", ("x",))], {"city"}
    )
    kept = sampled[0].examples
    role = roles["book"]
    assert role is not None and roles["x"] is None and sampled[1].examples == ("x",)
    classify, tag = role
    assert sorted(kept[p] for p in classify) == sorted(
        examples[k] for k in learned._spread(n, learned.CLASSIFY_EXAMPLES)
    )
    assert {kept[p] for p in tag} == {
        examples[k] for k in learned._keep(examples, learned.TAG_EXAMPLES)
    }
    assert len(kept) == len(classify | tag) > learned.TAG_EXAMPLES  # the union, once each


def test_the_tagger_drops_a_stray_inside_label_the_plain_reading_keeps() -> None:
    labels = ["O", "I-a", "I-a", "O", "B-b", "I-b", "I-c"]
    assert spans(labels) == [("a", 1, 3), ("b", 4, 6), ("c", 6, 7)]
    assert spans(labels, stray=False) == [("b", 4, 6)]
