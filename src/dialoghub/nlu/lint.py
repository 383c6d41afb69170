"""Notes on a model's vocabulary that do not stop it from loading.

A list value that is also an ordinary word of the model's own examples ("IN" for Indiana in
a model whose examples say "weather in {state}") is found wherever users write that word:
the matcher reads "in" as Indiana. The compiler warns about each such value, and suggests
``case_sensitive`` or the learned recognizer, which takes such a value only in context.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialoghub.nlu.examples import PLACEHOLDER
from dialoghub.nlu.normalize import tokenize
from dialoghub.nlu.types import EntityKind, EntitySpec, IntentSpec

__all__ = ["everyday_values"]


def everyday_values(
    intents: Iterable[IntentSpec], entities: Iterable[EntitySpec]
) -> list[tuple[str, int, str]]:
    """(entity, index of the value, the word) for every case-insensitive list value (or
    synonym) of one word that the examples also use as an ordinary word."""
    words: set[str] = set()
    for intent in intents:
        for example in intent.examples:
            words.update(t.norm for t in tokenize(PLACEHOLDER.sub(" ", example)))
    out: list[tuple[str, int, str]] = []
    for spec in entities:
        if spec.kind not in (EntityKind.LIST, EntityKind.TEXT):
            continue
        for k, value in enumerate(spec.values):
            cased = spec.case_sensitive if value.case_sensitive is None else value.case_sensitive
            if cased:
                continue
            for said in (value.value, *value.synonyms):
                tokens = tokenize(said)
                if len(tokens) == 1 and tokens[0].norm in words:
                    out.append((spec.name, k, said))
                    break
    return out
