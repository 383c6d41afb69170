"""How well and how fast the recognizer understands users: ``python -m benchmarks.nlu``.

Accuracy is measured on ``benchmarks/data/nlu_labelled.jsonl``: utterances for the example
models written by hand to read like real users (word order, typos, synonyms, extra words,
numbers as digits or words, and out-of-scope requests labelled ``"intent": null``), never
generated from the models' training examples. Each line is
``{"text", "model", "intent", "slots"}``.

The set is split in two halves by line number: even lines are the *dev* half (the one looked
at when changing the recognizer), odd lines the *held-out* half (never tuned on). Both are
reported; the held-out figure is the honest one.

* intent accuracy: the recognized intent (or none) equals the label;
* slot precision / recall / F1: over (slot name, value) pairs, values compared case-folded
  (a regular-expression entity keeps the user's capitalization);
* time: mean ``Recognizer.recognize`` time per utterance (best of 5 passes after a warm-up
  pass) on each example model and on a synthetic model of 30 intents (8 examples each, 3 list
  entities of 50 values, numbers and times), the size the 0.2 ms target is set for.

``--json`` prints the figures as JSON instead of a table.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialoghub.model.loader import MODEL_SUFFIXES, load_model
from dialoghub.model.spec import Model
from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec, Recognizer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "nlu_labelled.jsonl"
EXAMPLES = ROOT / "examples"
TARGET_ACCURACY = 0.90
TARGET_MS = 0.2


@dataclass
class Score:
    """Counts for one slice of the labelled set."""

    n: int = 0
    correct: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "utterances": self.n,
            "intent_accuracy": round(self.accuracy, 4),
            "slot_precision": round(self.precision, 4),
            "slot_recall": round(self.recall, 4),
            "slot_f1": round(self.f1, 4),
        }


def load_labelled(path: Path = DATA) -> list[dict[str, Any]]:
    """The labelled utterances, each with its ``split`` (dev or held-out) added."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if line.strip():
                row = json.loads(line)
                row["split"] = "dev" if i % 2 == 0 else "held-out"
                rows.append(row)
    return rows


def example_models(ids: set[str]) -> dict[str, Model]:
    """The example models with these ids, found under ``examples/``."""
    found: dict[str, Model] = {}
    for path in sorted(EXAMPLES.glob("*/*")):
        if path.suffix not in MODEL_SUFFIXES:
            continue
        try:
            model = load_model(path)
        except Exception:
            continue
        if model.id in ids:
            found[model.id] = model
    missing = ids - set(found)
    if missing:
        raise SystemExit(f"no loadable example model for {sorted(missing)}")
    return found


def _pairs(slots: dict[str, Any]) -> set[tuple[str, str]]:
    return {(k, str(v).casefold()) for k, v in slots.items()}


def learned_recognizers(models: dict[str, Model]) -> tuple[dict[str, Any], dict[str, float]]:
    """Each model's intents and entities in a LearnedRecognizer, and seconds to train each."""
    from dialoghub.nlu import learned

    out: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for mid, m in sorted(models.items()):
        intents = [
            IntentSpec(i.name, i.examples, {s.name: s.entity for s in i.slots})
            for i in m.intents.values()
        ]
        learned._CACHE.clear()
        start = time.perf_counter()
        out[mid] = learned.LearnedRecognizer(intents, list(m.entities.values()))
        seconds[mid] = round(time.perf_counter() - start, 4)
    return out, seconds


def evaluate(
    rows: Sequence[dict[str, Any]],
    models: dict[str, Model],
    recognizers: dict[str, Any] | None = None,
) -> dict[str, Score]:
    """Scores per slice: ``all``, ``dev``, ``held-out`` and ``model:<id>`` (``recognizers``:
    instead of the models' own)."""
    scores: dict[str, Score] = {}
    for row in rows:
        own = models[row["model"]].recognizer
        recognizer = recognizers[row["model"]] if recognizers is not None else own
        rec = recognizer.recognize(row["text"])
        got_slots = {k: v.value for k, v in rec.slots.items()}
        want, got = _pairs(row["slots"]), _pairs(got_slots)
        ok = rec.intent == row["intent"]
        for key in ("all", row["split"], f"model:{row['model']}"):
            s = scores.setdefault(key, Score())
            s.n += 1
            s.correct += ok
            s.tp += len(want & got)
            s.fp += len(got - want)
            s.fn += len(want - got)
            if key == "all" and (not ok or want != got):
                s.errors.append(
                    {
                        "text": row["text"],
                        "split": row["split"],
                        "want": [row["intent"], row["slots"]],
                        "got": [rec.intent, got_slots, round(rec.confidence, 3)],
                    }
                )
    return scores


def time_per_utterance(recognizer: Recognizer, texts: Sequence[str], rounds: int = 5) -> float:
    """Mean milliseconds per ``recognize`` call after a warm-up pass: the best of ``rounds``.

    The best round, not the average, because on a shared machine the other rounds measure
    the neighbours too.
    """
    for text in texts:
        recognizer.recognize(text)
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            recognizer.recognize(text)
        per_round.append((time.perf_counter() - start) * 1000 / len(texts))
    return min(per_round)


# --- a synthetic model of 30 intents -----------------------------------------------------------

_TOPICS = [
    "weather", "flight", "hotel", "table", "taxi", "music", "alarm", "timer", "reminder",
    "email", "message", "call", "calendar", "news", "recipe", "order", "payment", "balance",
    "transfer", "password", "account", "delivery", "refund", "ticket", "movie", "lights",
    "thermostat", "volume", "translation", "joke",
]  # fmt: skip
_VERBS = ["book", "show", "check", "cancel", "change", "find", "get", "set", "play", "send"]
_FRAMES = (
    "{verb} my {topic}",
    "i want to {verb} a {topic} in {city}",
    "can you {verb} the {topic} for {count}",
    "please {verb} {topic} at {time}",
    "{topic} {product} now",
    "how do i {verb} my {topic} with {color}",
    "{verb} {topic} {product} for {count} people",
    "what about the {topic} status",
)


def synthetic(seed: int = 7) -> tuple[Recognizer, list[str]]:
    """A 30-intent recognizer and 600 user-like inputs for it (typos, fillers, shuffles)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))

    def values() -> tuple[EntityValue, ...]:
        return tuple(
            EntityValue(word() if rng.random() < 0.7 else f"{word()} {word()}", (word(),))
            for _ in range(50)
        )

    entities = [
        EntitySpec("city", values=values()),
        EntitySpec("product", values=values()),
        EntitySpec("color", values=values()),
        EntitySpec("count", EntityKind.NUMBER),
        EntitySpec("time", EntityKind.TIME),
    ]
    slots = {"city": "city", "product": "product", "color": "color", "count": "count"}
    slots["time"] = "time"
    intents = []
    for k, topic in enumerate(_TOPICS):
        verbs = [_VERBS[(k + j) % len(_VERBS)] for j in range(3)]
        examples = tuple(f.replace("{verb}", verbs[i % 3]).replace("{topic}", topic)
                         for i, f in enumerate(_FRAMES))  # fmt: skip
        intents.append(IntentSpec(f"{topic}_intent", examples, dict(slots)))
    recognizer = Recognizer(intents, entities)
    fill = {
        "{city}": lambda: rng.choice(entities[0].values).value,
        "{product}": lambda: rng.choice(entities[1].values).value,
        "{color}": lambda: rng.choice(entities[2].values).value,
        "{count}": lambda: rng.choice(["2", "three", "12", "twenty five"]),
        "{time}": lambda: rng.choice(["7pm", "noon", "19:30", "half past six"]),
    }
    texts = []
    for _ in range(600):
        text = rng.choice(rng.choice(intents).examples)
        for ph, make in fill.items():
            text = text.replace(ph, make())
        words = text.split()
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words) + 1), rng.choice(["um", "please", "hey", "so"]))
        if rng.random() < 0.3:
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 4:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        if rng.random() < 0.2:
            rng.shuffle(words)
        texts.append(" ".join(words))
    return recognizer, texts


# --- report -------------------------------------------------------------------------------------


def run(recognizer: str = "matcher") -> dict[str, Any]:
    rows = load_labelled()
    models = example_models({r["model"] for r in rows})
    recognizers: dict[str, Any] = {mid: m.recognizer for mid, m in models.items()}
    train_seconds: dict[str, float] = {}
    if recognizer == "learned":
        recognizers, train_seconds = learned_recognizers(models)
    scores = evaluate(rows, models, recognizers)
    timing = {
        mid: round(
            time_per_utterance(recognizers[mid], [r["text"] for r in rows if r["model"] == mid]),
            4,
        )
        for mid in sorted(models)
    }
    rec30, texts30 = synthetic()
    timing["synthetic-30-intents"] = round(time_per_utterance(rec30, texts30), 4)
    return {
        "data": str(DATA.relative_to(ROOT)),
        "slices": {k: s.as_dict() for k, s in scores.items()},
        "recognizer": recognizer,
        "ms_per_utterance": timing,
        "train_seconds": train_seconds,
        "targets": {"intent_accuracy": TARGET_ACCURACY, "ms_per_utterance": TARGET_MS},
        "errors": scores["all"].errors,
    }


def table(result: dict[str, Any], *, errors: bool = False) -> str:
    order = [
        "all",
        "dev",
        "held-out",
        *sorted(k for k in result["slices"] if k.startswith("model:")),
    ]
    lines = [
        f"{'slice':<16}{'n':>5}{'intent acc':>12}{'slot P':>9}{'slot R':>9}{'slot F1':>9}",
    ]
    for key in order:
        s = result["slices"][key]
        lines.append(
            f"{key:<16}{s['utterances']:>5}{s['intent_accuracy']:>12.1%}"
            f"{s['slot_precision']:>9.1%}{s['slot_recall']:>9.1%}{s['slot_f1']:>9.1%}"
        )
    lines.append("")
    lines.append(f"{'recognize() time':<28}{'ms / utterance':>16}")
    for key, ms in result["ms_per_utterance"].items():
        lines.append(f"{key:<28}{ms:>16.4f}")
    if result.get("train_seconds"):
        lines.append("")
        lines.append(f"{result['recognizer'] + ' training':<28}{'seconds':>16}")
        for key, sec in result["train_seconds"].items():
            lines.append(f"{key:<28}{sec:>16.4f}")
    acc = result["slices"]["held-out"]["intent_accuracy"]
    ms = result["ms_per_utterance"]["synthetic-30-intents"]
    lines.append("")
    lines.append(
        f"targets: intent accuracy >= {TARGET_ACCURACY:.0%} (held-out: {acc:.1%}, "
        f"{'met' if acc >= TARGET_ACCURACY else 'NOT met'}); <= {TARGET_MS} ms per utterance "
        f"on 30 intents ({ms:.4f} ms, {'met' if ms <= TARGET_MS else 'NOT met'})"
    )
    if errors:
        lines.append("")
        lines.append("misrecognized (want -> got):")
        for e in result["errors"]:
            lines.append(f"  [{e['split']}] {e['text']!r}: {e['want']} -> {e['got']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nlu", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--errors", action="store_true", help="list every misrecognized utterance")
    parser.add_argument(
        "--recognizer", choices=("matcher", "learned"), default="matcher",
        help="the example models' recognizer (learned: trained here, its time reported)",
    )  # fmt: skip
    parser.add_argument(
        "--snips", type=Path, metavar="DIR",
        help="run benchmarks.understanding on the SNIPS benchmark in DIR instead",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.snips is not None:
        from benchmarks import understanding

        understanding.main(["--data", str(args.snips), *(["--json"] if args.json else [])])
        return
    result = run(args.recognizer)
    if args.json:
        print(
            json.dumps(
                result if args.errors else {k: v for k, v in result.items() if k != "errors"},
                indent=2,
            )
        )
    else:
        print(table(result, errors=args.errors))


if __name__ == "__main__":
    main()
