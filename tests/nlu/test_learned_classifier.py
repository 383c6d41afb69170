"""The learned intent classifier's features and TF-IDF weighting (issue 15)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("pycrfsuite")

from dialoghub.nlu import IntentSpec, Recognizer, classifier, learned
from dialoghub.nlu.classifier import IntentClassifier
from dialoghub.nlu.features import intent_features

_ITEMS = [
    ({"w=play": 1.0, "w=jazz": 1.0}, "music"),
    ({"w=play": 1.0, "w=rock": 1.0}, "music"),
    ({"w=play": 1.0, "w=chess": 1.0}, "game"),
    ({"w=start": 1.0, "w=chess": 1.0}, "game"),
]


def test_subwords_are_the_marked_pieces_of_three_to_five_letters() -> None:
    analysis = Recognizer([IntentSpec("a", ("go",)), IntentSpec("b", ("stop",))], []).analyse(
        "go jazz"
    )
    plain = intent_features(analysis, [])
    with_pieces = intent_features(analysis, [], subwords=True)
    added = {name for name in with_pieces if name not in plain}
    assert added == {
        "c=<go", "c=go>", "c=<go>",
        "c=<ja", "c=jaz", "c=azz", "c=zz>", "c=<jaz", "c=jazz", "c=azz>", "c=<jazz", "c=jazz>",
    }  # fmt: skip
    assert not any(name.startswith("c=") for name in plain)
    assert set(with_pieces.values()) == {1.0}


def test_few_texts_are_weighted_by_inverse_document_frequency() -> None:
    trained = IntentClassifier.train(_ITEMS)
    assert trained.labels == ("game", "music") and trained.weights is not None
    n = len(_ITEMS)
    assert trained.weights["w=play"] == pytest.approx(math.log(5 / 4) + 1)  # in 3 of 4
    assert trained.weights["w=jazz"] == pytest.approx(math.log(5 / 2) + 1)  # in 1 of 4
    assert trained.unseen == pytest.approx(math.log(1 + n) + 1)
    game, music = trained.probabilities({"w=jazz": 1.0})
    assert music > 0.9 > 0.1 > game
    # A text of words no training text has: about the prior (two intents, two texts each;
    # the bias also absorbs what the features leave, so not exactly).
    assert trained.probabilities({"w=unknown": 1.0}) == pytest.approx([0.5, 0.5], abs=0.05)
    # The vector is normalised: a word counted twice weighs as much as once.
    assert trained.probabilities({"w=jazz": 2.0}) == pytest.approx([game, music])


def test_many_texts_train_on_binary_features(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "WEIGHTED_UNTIL", len(_ITEMS) - 1)
    trained = IntentClassifier.train(_ITEMS)
    assert trained.weights is None and trained.unseen == 0.0
    game, music = trained.probabilities({"w=jazz": 1.0})
    assert music > game


def test_the_recognizer_keeps_the_weights_through_an_export() -> None:
    intents = [
        IntentSpec("music", ("play some jazz", "put on a song", "play rock music")),
        IntentSpec("game", ("start a game of chess", "let us play chess", "a game please")),
    ]
    learned._CACHE.clear()
    first = learned.LearnedRecognizer(intents, [])
    data = learned.export_trained(first.content_key)
    assert data is not None
    exported = learned._CACHE[first.content_key].classifier
    assert exported.weights is not None and "c=jaz" in exported.weights
    learned._CACHE.clear()
    learned.import_trained(first.content_key, data)
    imported = learned._CACHE[first.content_key].classifier
    assert (imported.weights, imported.unseen) == (exported.weights, exported.unseen)
    again = learned.LearnedRecognizer(intents, [])
    assert again.recognize("play jazzy songs") == first.recognize("play jazzy songs")
