"""python-crfsuite, the one learning library of the learned recognizer, behind a small face.

Why CRFsuite: it is a small C library with no further dependency (no numpy), trains a
linear-chain CRF on a few thousand sentences in about a second, decodes one sentence in tens
of microseconds, and is deterministic (see below). A one-item sequence is a maximum-entropy
(multinomial logistic regression) classifier, so the same library also trains the intent
classifier.

Training is deterministic: L-BFGS visits the data in order, and the C library's random
generator, which the online algorithms shuffle with, is seeded before each training.

CRFsuite only writes a trained model to a file name. The model is written to an anonymous
in-memory file (``memfd``, Linux) or, elsewhere, to a temporary file that is removed at
once, and read back as bytes: the rest of the recognizer only ever holds bytes.

The library is an optional extra (``pip install dialoghub[nlu]``) imported on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from dialoghub.errors import RecognizerUnavailable

__all__ = ["Features", "Item", "Tagger", "available", "state_weights", "train"]

#: One item's features: attribute name -> value.
Features = dict[str, float]
#: What CRFsuite takes for one item: features, or the names of features of value 1.0.
Item = Features | list[str]


def _crfsuite() -> Any:
    try:
        import pycrfsuite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RecognizerUnavailable(
            "the learned recognizer needs python-crfsuite: pip install 'dialoghub[nlu]'",
            recognizer="learned",
        ) from exc
    return pycrfsuite


_QUIET: Any = None


def _seed() -> None:
    """Seed the C library's ``rand``, which CRFsuite's online trainers (passive-aggressive,
    averaged perceptron, AROW) shuffle the data with: without it a model depends on what
    was trained before in the process, so the same model trained twice differs."""
    # No C library to reach (some platforms): the online trainers stay as they were.
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).srand(1)  # 1: the seed a fresh process starts with


def _quiet(crfsuite: Any) -> Any:
    """A Trainer that ignores CRFsuite's log: pycrfsuite parses every line of it even when
    not verbose, which took a third of the training time on the SNIPS benchmark."""
    global _QUIET
    if _QUIET is None:

        class Quiet(crfsuite.Trainer):  # type: ignore[misc]
            def message(self, message: str) -> None:
                pass

        _QUIET = Quiet
    return _QUIET


def available() -> bool:
    """Whether python-crfsuite can be imported."""
    try:
        _crfsuite()
    except RecognizerUnavailable:
        return False
    return True


def train(
    sequences: Iterable[tuple[Sequence[Item], Sequence[str]]],
    *,
    algorithm: str,
    params: dict[str, Any],
    binary: bool = False,
) -> bytes:
    """Train a CRF on (features per item, label per item) sequences; the model as bytes.

    ``binary``: every item is a dict whose every value is 1.0, so only the names are handed
    over (CRFsuite reads a name alone as 1.0): the same model, and a quarter less time
    turning the items into CRFsuite's (a third of the tagger's training time on the SNIPS
    benchmark).
    """
    crfsuite = _crfsuite()
    trainer = _quiet(crfsuite)(verbose=False, algorithm=algorithm)
    for features, labels in sequences:
        items = [list(f) for f in features] if binary else list(features)
        trainer.append(crfsuite.ItemSequence(items), list(labels))
    trainer.set_params(params)
    _seed()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("dialoghub-crf")
        try:
            trainer.train(f"/proc/self/fd/{fd}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    with tempfile.TemporaryDirectory(prefix="dialoghub-crf-") as folder:  # pragma: no cover
        path = os.path.join(folder, "model")
        trainer.train(path)
        with open(path, "rb") as f:
            return f.read()


class Tagger:
    """A trained CRF, opened from its bytes, that labels sequences."""

    def __init__(self, model: bytes) -> None:
        self._tagger = _crfsuite().Tagger()
        self._tagger.open_inmemory(model)
        self.model = model

    def tag(self, features: Sequence[Features], *, binary: bool = False) -> list[str]:
        """The most likely label of every item (``binary``: as in :func:`train`)."""
        if not features:
            return []
        items = [list(f) for f in features] if binary else list(features)
        return list(self._tagger.tag(_crfsuite().ItemSequence(items)))

    def marginals(self, features: Features | list[str], labels: Sequence[str]) -> list[float]:
        """P(label) of a one-item sequence, for each of ``labels``: a maximum-entropy
        classifier's probabilities, computed by CRFsuite (a list: names of value 1.0)."""
        self._tagger.set(_crfsuite().ItemSequence([features]))
        return [self._tagger.marginal(label, 0) for label in labels]

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the model knows."""
        return tuple(self._tagger.labels())


def state_weights(model: bytes) -> tuple[tuple[str, ...], dict[str, dict[int, float]]]:
    """A model's labels and its state-feature weights: attribute -> label index -> weight."""
    tagger = _crfsuite().Tagger()
    tagger.open_inmemory(model)
    labels = tuple(sorted(tagger.labels()))
    index = {label: k for k, label in enumerate(labels)}
    weights: dict[str, dict[int, float]] = {}
    for (attribute, label), weight in sorted(tagger.info().state_features.items()):
        weights.setdefault(attribute, {})[index[label]] = weight
    tagger.close()
    return labels, weights
