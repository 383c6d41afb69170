"""python-crfsuite behind dialoghub.nlu.crf: feature names alone stand for value 1.0."""

from __future__ import annotations

import pytest

pytest.importorskip("pycrfsuite")

from dialoghub.nlu import crf

_SEQUENCES = [
    ([{"bias": 1.0, "w=play": 1.0}, {"bias": 1.0, "w=jazz": 1.0, "first": 1.0}], ["O", "B-genre"]),
    ([{"bias": 1.0, "w=play": 1.0}, {"bias": 1.0, "w=rock": 1.0}], ["O", "B-genre"]),
    ([{"bias": 1.0, "w=stop": 1.0}, {"bias": 1.0, "w=now": 1.0}], ["O", "O"]),
]


@pytest.mark.parametrize("algorithm", ["lbfgs", "pa"])
def test_names_only_train_the_same_model_as_values_of_one(algorithm: str) -> None:
    params = {"max_iterations": 20}
    plain = crf.train(_SEQUENCES, algorithm=algorithm, params=params)
    binary = crf.train(_SEQUENCES, algorithm=algorithm, params=params, binary=True)
    names = crf.train(
        [([list(f) for f in fs], labels) for fs, labels in _SEQUENCES],
        algorithm=algorithm,
        params=params,
    )
    assert plain == binary == names
    tagger = crf.Tagger(binary)
    item = [{"bias": 1.0, "w=play": 1.0}, {"bias": 1.0, "w=jazz": 1.0}]
    assert tagger.tag(item, binary=True) == tagger.tag(item) == ["O", "B-genre"]


def test_the_online_trainer_gives_the_same_model_whatever_was_trained_before() -> None:
    # CRFsuite's passive-aggressive passes shuffle the data with the C library's rand().
    params = {"max_iterations": 20}
    first = crf.train(_SEQUENCES, algorithm="pa", params=params)
    for _ in range(3):
        crf.train(_SEQUENCES[::-1], algorithm="ap", params=params)
    assert crf.train(_SEQUENCES, algorithm="pa", params=params) == first
