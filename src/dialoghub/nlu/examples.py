"""Intent examples as the learned recognizer trains on them: text with labelled slot values.

An example says where a slot goes with a placeholder: ``{city}`` (any value of the slot's
entity) or ``{city=New York}`` (this value, as a real user wrote it; a data set converted
from an annotated corpus keeps its values this way). :func:`parse_example` splits an example
into literal text and placeholders; :func:`fill` turns it into concrete sentences, choosing
values for bare placeholders from the entity's values (or from generic ones when the entity
lists none), deterministically, so the same model always trains the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from dialoghub.nlu.types import EntityKind, EntitySpec

__all__ = ["PLACEHOLDER", "Filled", "Segment", "fill", "parse_example", "sample_values"]

#: ``{slot}`` or ``{slot=value}``; the value may hold spaces but no braces.
PLACEHOLDER = re.compile(r"\{\s*([^{}=\s]+)\s*(?:=([^{}]*))?\}")

# Values for placeholders whose entity lists none. Mixed case and length on purpose: the
# tagger must learn a slot from the words around it, not from how its filler looks.
_GENERIC_TEXT = (
    "Anna", "the blue door", "Rivertown", "max weber", "The Long Night", "lumen", "Oslo",
    "north star", "Daisy Jones", "the quiet hour", "Kepler", "green valley road",
)  # fmt: skip
_NUMBERS = ("2", "three", "12", "twenty five", "4", "one hundred", "7", "1.5")
_TIMES = ("7pm", "noon", "19:30", "8 am", "half past six", "10:15", "midnight", "6 pm")


class Segment(NamedTuple):
    """A piece of an example: literal text (``slot`` None) or a placeholder."""

    text: str  # the literal text, or the placeholder's given value ("" when none)
    slot: str | None


class Filled(NamedTuple):
    """A concrete sentence and the character span of every slot value in it."""

    text: str
    spans: tuple[tuple[str, int, int], ...]  # (slot, start, end)


def parse_example(example: str) -> list[Segment]:
    """Split ``example`` into literal text and placeholders, in order."""
    out: list[Segment] = []
    pos = 0
    for m in PLACEHOLDER.finditer(example):
        if m.start() > pos:
            out.append(Segment(example[pos : m.start()], None))
        out.append(Segment((m.group(2) or "").strip(), m.group(1)))
        pos = m.end()
    if pos < len(example):
        out.append(Segment(example[pos:], None))
    return out


def sample_values(spec: EntitySpec) -> tuple[str, ...]:
    """The ways to fill a bare placeholder of ``spec``: its values and synonyms, or generic
    ones (a regular expression has none: its slot is found by the pattern, not the tagger)."""
    if spec.kind is EntityKind.NUMBER:
        return _NUMBERS
    if spec.kind is EntityKind.TIME:
        return _TIMES
    if spec.kind is EntityKind.REGEX:
        return ()
    said = tuple(s for v in spec.values for s in (v.value, *v.synonyms) if s.strip())
    if spec.kind is EntityKind.TEXT:
        # Known values and generic ones: a free-text slot must not be learned as its list.
        return said + _GENERIC_TEXT
    return said


def fill(
    segments: Sequence[Segment],
    values: dict[str, tuple[str, ...]],
    variant: int,
    *,
    marker: dict[str, str] | None = None,
) -> Filled:
    """One concrete sentence of an example: the ``variant``-th choice of values.

    ``values`` maps a slot to the values a bare placeholder takes (chosen by the variant and
    the placeholder's position, so neighbours differ). A slot in ``marker`` is written as
    that marker word instead (regular-expression slots: the tagger sees where, not what).
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    length = 0
    for k, seg in enumerate(segments):
        if seg.slot is None:
            piece = seg.text
        elif marker is not None and seg.slot in marker:
            piece = marker[seg.slot]
        else:
            piece = seg.text
            if not piece:
                options = values.get(seg.slot, ())
                piece = options[(variant * 7 + k * 3) % len(options)] if options else ""
            if piece:
                # Keep the value a word of its own, whatever the example's spacing.
                if parts and not parts[-1][-1:].isspace():
                    parts.append(" ")
                    length += 1
                spans.append((seg.slot, length, length + len(piece)))
                nxt = segments[k + 1].text if k + 1 < len(segments) else ""
                if nxt[:1].isalnum():
                    piece += " "
        parts.append(piece)
        length += len(piece)
    return Filled("".join(parts), tuple(spans))
