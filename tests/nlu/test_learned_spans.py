"""How the learned tagger's labels become slot runs."""

from __future__ import annotations

from dialoghub.nlu.tagger import spans


def test_the_tagger_drops_a_stray_inside_label_the_plain_reading_keeps() -> None:
    labels = ["O", "I-a", "I-a", "O", "B-b", "I-b", "I-c"]
    assert spans(labels) == [("a", 1, 3), ("b", 4, 6), ("c", 6, 7)]
    assert spans(labels, stray=False) == [("b", 4, 6)]
