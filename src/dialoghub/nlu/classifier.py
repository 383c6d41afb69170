"""The learned intent classifier: multinomial logistic regression over a text's features.

Trained with CRFsuite's L-BFGS on one-item sequences (a one-item CRF is exactly a
maximum-entropy classifier), then kept as plain weights, attribute -> {intent: weight}, and
applied in pure Python: a text's score per intent is the sum of its features' weights, and
the softmax of the scores is the probability of each intent. L2 regularisation keeps the
probabilities honest (an unknown text gets about the prior, not a confident guess), which is
what lets ``threshold`` and the ``ambiguous`` handler mean what they say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dialoghub.nlu import crf

__all__ = ["IntentClassifier"]

_BIAS = "bias"
# L2 strength: found on the SNIPS benchmark's training utterances (by cross-validation on
# them, never on its test set); 70 or 2,000 examples an intent want about the same.
_L2 = 0.01


class IntentClassifier:
    """Probabilities of intents for a text's features (see the module docstring)."""

    def __init__(self, labels: Sequence[str], weights: dict[str, dict[int, float]]) -> None:
        self.labels = tuple(labels)
        self._weights = {a: tuple(w.items()) for a, w in weights.items()}
        self._bias = [weights.get(_BIAS, {}).get(k, 0.0) for k in range(len(self.labels))]

    @classmethod
    def train(cls, items: Sequence[tuple[dict[str, float], str]]) -> IntentClassifier:
        """Fit on (features, intent) pairs; deterministic for the same pairs in the same order."""
        labels = sorted({label for _, label in items})
        if len(labels) < 2:
            # One intent: nothing to tell apart, every text is it (as far as this model goes).
            return cls(labels, {})
        data = [([{**f, _BIAS: 1.0}], [label]) for f, label in items]
        model = crf.train(
            data,
            algorithm="lbfgs",
            params={"c1": 0.0, "c2": _L2, "max_iterations": 200, "feature.minfreq": 0},
        )
        trained_labels, weights = crf.state_weights(model)
        return cls(trained_labels, weights)

    def probabilities(self, features: dict[str, float]) -> list[float]:
        """P(intent | text) for every label, in :attr:`labels` order."""
        scores = list(self._bias)
        weights = self._weights
        for attribute, value in features.items():
            row = weights.get(attribute)
            if row is not None:
                for k, w in row:
                    scores[k] += w * value
        if not scores:
            return []
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]
