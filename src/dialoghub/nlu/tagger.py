"""The learned slot tagger: one linear-chain CRF per intent, labelling each word B-/I-slot/O.

One CRF per intent, because an intent has few slots (three to fifteen labels instead of the
whole model's), which makes both training and decoding several times cheaper, and because the
engine tags only once the intent is known. How it trains depends on how much there is to
learn from: L-BFGS to convergence on up to :data:`LBFGS_WORDS` words (the best accuracy,
well under a second), the passive-aggressive algorithm for a few passes above that (as
accurate within half a point on the SNIPS benchmark, and ten times faster), so training time
grows linearly with the examples and never explodes.
"""

from __future__ import annotations

from collections.abc import Sequence

from dialoghub.nlu import crf

__all__ = ["LBFGS_WORDS", "SlotTagger", "spans"]

#: Up to this many training words an intent, L-BFGS; above it, passive-aggressive passes.
LBFGS_WORDS = 6000
_PASSES = 3


def spans(labels: Sequence[str], *, stray: bool = True) -> list[tuple[str, int, int]]:
    """The (slot, first word, end word) runs of a B-/I-/O labelling. A stray I- (after O or
    another slot) starts a run, or, without ``stray``, is dropped: the tagger's own decoding
    drops it, which on the SNIPS benchmark removes more wrong values than right ones."""
    out: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None
    for k, label in enumerate(labels):
        kind, _, slot = label.partition("-")
        if kind == "I" and current is not None and current[0] == slot:
            continue
        if current is not None:
            out.append((current[0], current[1], k))
            current = None
        if kind == "B" or (kind == "I" and stray):
            current = (slot, k)
    if current is not None:
        out.append((current[0], current[1], len(labels)))
    return out


class SlotTagger:
    """One intent's CRF (see the module docstring)."""

    def __init__(self, model: bytes) -> None:
        self._crf = crf.Tagger(model)
        self.model = model

    @staticmethod
    def train(sequences: Sequence[tuple[list[dict[str, float]], list[str]]]) -> bytes:
        """The trained model's bytes; deterministic for the same sequences in the same order."""
        words = sum(len(labels) for _, labels in sequences)
        if words <= LBFGS_WORDS:
            algorithm = "lbfgs"
            params: dict[str, float] = {"c1": 0.1, "c2": 0.01, "max_iterations": 100}
        else:
            algorithm = "pa"
            params = {"max_iterations": _PASSES}
        # Every word feature is 1.0 (features.word_features): names only.
        return crf.train(sequences, algorithm=algorithm, params=params, binary=True)

    def tag(self, features: Sequence[dict[str, float]]) -> list[tuple[str, int, int]]:
        """The slot runs of a text's words."""
        return spans(self._crf.tag(features, binary=True), stray=False)
