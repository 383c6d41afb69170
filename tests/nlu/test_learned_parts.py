"""The pieces of the learned recognizer: examples, gazetteer, BIO runs, the benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, Recognizer
from dialoghub.nlu.examples import Segment, fill, parse_example, sample_values
from dialoghub.nlu.gazetteer import Gazetteer
from dialoghub.nlu.tagger import spans

SAMPLE = Path(__file__).parent / "data" / "snips"


def test_examples_parse_into_text_and_placeholders() -> None:
    assert parse_example("fly from {origin} to {destination=New York} now") == [
        Segment("fly from ", None),
        Segment("", "origin"),
        Segment(" to ", None),
        Segment("New York", "destination"),
        Segment(" now", None),
    ]
    assert parse_example("{ city }") == [Segment("", "city")]
    assert parse_example("no placeholders") == [Segment("no placeholders", None)]
    assert parse_example("") == []


def test_fill_writes_values_and_their_spans() -> None:
    segments = parse_example("add {song} to {list=my mix}")
    filled = fill(segments, {"song": ("Hey Jude", "Yesterday")}, 0)
    assert filled.text in ("add Hey Jude to my mix", "add Yesterday to my mix")
    for slot, start, end in filled.spans:
        assert filled.text[start:end] == {"song": filled.text[4:start + (end - start)],
                                          "list": "my mix"}[slot]  # fmt: skip
    variants = {fill(segments, {"song": ("A", "B", "C")}, v).text for v in range(6)}
    assert len(variants) == 3  # the variants go through the values
    glued = fill(parse_example("{a}{b}"), {"a": ("x",), "b": ("y",)}, 0)
    assert glued.text == "x y"  # two values never run together
    marked = fill(parse_example("flight {f} now"), {}, 0, marker={"f": "zzreflight"})
    assert marked.text == "flight zzreflight now" and marked.spans == ()


def test_sample_values_by_kind() -> None:
    assert sample_values(EntitySpec("n", EntityKind.NUMBER))
    assert sample_values(EntitySpec("t", EntityKind.TIME))
    assert sample_values(EntitySpec("r", EntityKind.REGEX, pattern="x")) == ()
    city = EntitySpec("c", values=(EntityValue("Paris", ("paname",)),))
    assert sample_values(city) == ("Paris", "paname")
    text = sample_values(EntitySpec("s", EntityKind.TEXT, (EntityValue("Lost"),)))
    assert text[0] == "Lost" and len(text) > 5  # generic fillers too


def _analysis(text: str) -> object:
    return Recognizer([], []).analyse(text)


def test_the_gazetteer_finds_overlapping_values_and_respects_case() -> None:
    g = Gazetteer([
        EntitySpec("city", values=(EntityValue("New York", ("the big apple",)),)),
        EntitySpec("state", values=(EntityValue("New York"), EntityValue("IN")),
                   case_sensitive=True),
        EntitySpec("n", EntityKind.NUMBER),
    ])  # fmt: skip
    found = g.find(Recognizer([], []).analyse("from big apple to New York in IN"))
    got = sorted((m.entity, m.value, m.start, m.end) for m in found)
    assert got == [
        ("city", "New York", 1, 3),  # the article may be left out
        ("city", "New York", 4, 6),
        ("state", "IN", 7, 8),  # "in" lower case is no state
        ("state", "New York", 4, 6),
    ]
    assert g.find(Recognizer([], []).analyse("new york")) != []
    assert [m.entity for m in g.find(Recognizer([], []).analyse("new york"))] == ["city"]


@pytest.mark.parametrize(
    ("labels", "runs"),
    [
        (["O", "B-a", "I-a", "O"], [("a", 1, 3)]),
        (["B-a", "B-a"], [("a", 0, 1), ("a", 1, 2)]),
        (["I-a", "I-b", "O"], [("a", 0, 1), ("b", 1, 2)]),  # a stray I- starts a run
        (["O", "B-a", "I-a"], [("a", 1, 3)]),
        ([], []),
    ],
)
def test_bio_runs(labels: list[str], runs: list[tuple[str, int, int]]) -> None:
    assert spans(labels) == runs


def test_the_understanding_benchmark_runs_on_its_sample() -> None:
    pytest.importorskip("pycrfsuite")
    from benchmarks import understanding

    train, test = understanding.load(SAMPLE, "20")
    assert len(train) == 7 and all(len(us) == 20 for us in train.values())
    assert all(len(us) == 12 for us in test.values())
    texts = {understanding.text_of(u) for us in test.values() for u in us}
    assert not texts & {understanding.text_of(u) for us in train.values() for u in us}
    result = understanding.measure(SAMPLE, "20", tfidf=False)
    assert result["per_intent"] == 20
    assert result["learned"]["intent_accuracy"] > result["matcher"]["intent_accuracy"]
    assert result["learned"]["slot_f1"] > result["matcher"]["slot_f1"]
    assert "learned" in understanding.table([result])
