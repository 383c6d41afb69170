"""Intent and slot recognition on a public seven-intent benchmark, against two baselines.

    python -m benchmarks.understanding --data DIR [--json] [--sizes 70,full] [--train-only]

``DIR`` is the ``2017-06-custom-intent-engines`` folder of the SNIPS NLU benchmark
(github.com/snipsco/nlu-benchmark, CC0; see docs/understanding.md for how to get it). Per
intent it has ``train_<Intent>.json`` (300 utterances), ``train_<Intent>_full.json`` (about
2,000) and ``validate_<Intent>.json`` (100, the test set). Every system trains only on the
training utterances (the first 70 of ``train_<Intent>.json``, or the whole ``_full`` file)
and is tested on the 700 validation utterances, which share no utterance with them.

Systems, all in one run:

* ``matcher``: dialoghub's deterministic recognizer (``recognizer: matcher``);
* ``learned``: dialoghub's learned recognizer (``recognizer: learned``);
* ``tfidf+lr``: scikit-learn's TF-IDF (words and word pairs) and logistic regression, intents
  only;
* ``crf``: a CRF tagger per intent with the usual word features (the word, its case, its
  suffixes, its neighbours), slots only.

The dialoghub models are built as a model author would write them: one example per training
utterance, each slot value kept as ``{slot=value}``, and one entity per slot whose values are
the training values of that slot (free-text entities for the learned recognizer, the same
values as a list for the matcher, which has no free text).

Figures: intent accuracy (a text given no intent, below the default threshold of 0.5, is
wrong), and the accuracy of the best intent whatever its confidence (``top acc``: how the
baseline, which never answers "none", is measured); slot F1 with the intent given
(``extract_slots(gold intent, text)``), over (slot, words) pairs compared case- and
punctuation-folded, micro (every pair counts once), per slot (the mean of each slot name's
F1, 39 names) and per intent slot (the mean over the 53 (intent, slot) pairs, as the
benchmark's own metrics files give each engine's precision and recall); milliseconds per
utterance (``recognize``, best of three passes) and training seconds (building the recognizer
from nothing, cache cleared), both in CPU time of this process: on a shared machine wall time
measures the neighbours too (a library that trains on several threads is charged for all of
them).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec, Recognizer

Chunk = tuple[str, str | None]  # (text, slot or None)
Utterance = list[Chunk]

_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def _read(path: Path) -> Any:
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # train_PlayMusic_full.json is Latin-1
        return json.loads(raw.decode("latin-1"))


def load(root: Path, size: str) -> tuple[dict[str, list[Utterance]], dict[str, list[Utterance]]]:
    """Training and test utterances per intent; ``size`` is a number or ``full``."""
    train: dict[str, list[Utterance]] = {}
    test: dict[str, list[Utterance]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        intent = folder.name
        name = f"train_{intent}_full.json" if size == "full" else f"train_{intent}.json"
        rows = _read(folder / name)[intent]
        if size != "full":
            rows = rows[: int(size)]
        train[intent] = [_chunks(r) for r in rows]
        test[intent] = [_chunks(r) for r in _read(folder / f"validate_{intent}.json")[intent]]
    if not train:
        raise SystemExit(f"no intent folders in {root}")
    return train, test


def _chunks(row: dict[str, Any]) -> Utterance:
    return [(c["text"], c.get("entity")) for c in row["data"]]


def text_of(u: Utterance) -> str:
    return "".join(t for t, _ in u)


def fold(s: str) -> str:
    """How slot values are compared: case, punctuation and spacing folded."""
    return " ".join(re.sub(r"[^\w]+", " ", s.casefold()).split())


def gold_slots(u: Utterance) -> set[tuple[str, str]]:
    return {(slot, fold(t)) for t, slot in u if slot is not None and fold(t)}


# --- dialoghub models ------------------------------------------------------------------------


def _example(u: Utterance) -> str:
    out = []
    for t, slot in u:
        if slot is None:
            out.append(t.replace("{", "(").replace("}", ")"))
        else:
            value = t.strip().replace("{", "(").replace("}", ")")
            lead = t[: len(t) - len(t.lstrip())]
            trail = t[len(t.rstrip()) :]
            out.append(f"{lead}{{{slot}={value}}}{trail}")
    return "".join(out)


def dialoghub_model(
    train: dict[str, list[Utterance]], kind: EntityKind
) -> tuple[list[IntentSpec], list[EntitySpec]]:
    values: dict[str, dict[str, None]] = {}
    intents = []
    for intent, utterances in train.items():
        slots: dict[str, str] = {}
        for u in utterances:
            for t, slot in u:
                if slot is not None and t.strip():
                    slots[slot] = slot
                    values.setdefault(slot, {})[t.strip()] = None
        intents.append(IntentSpec(intent, tuple(_example(u) for u in utterances), slots))
    entities = [
        EntitySpec(slot, kind, tuple(EntityValue(v) for v in vs))
        for slot, vs in sorted(values.items())
    ]
    return intents, entities


# --- baselines -------------------------------------------------------------------------------


class TfidfLogReg:
    """TF-IDF over words and word pairs, then logistic regression (scikit-learn)."""

    def __init__(self, train: dict[str, list[Utterance]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        texts = [text_of(u) for us in train.values() for u in us]
        labels = [i for i, us in train.items() for _ in us]
        self.pipe = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=10.0),
        )
        self.pipe.fit(texts, labels)

    def intent(self, text: str) -> str:
        return str(self.pipe.predict([text])[0])


def _crf_features(words: Sequence[str]) -> list[dict[str, float]]:
    out = []
    for k, w in enumerate(words):
        f = {
            "bias": 1.0, "w=" + w.lower(): 1.0, "s3=" + w[-3:].lower(): 1.0,
            "s2=" + w[-2:].lower(): 1.0, "upper": float(w.isupper()),
            "title": float(w.istitle()), "digit": float(w.isdigit()),
        }  # fmt: skip
        if k > 0:
            f["-1w=" + words[k - 1].lower()] = 1.0
            f["-1title"] = float(words[k - 1].istitle())
        else:
            f["BOS"] = 1.0
        if k + 1 < len(words):
            f["+1w=" + words[k + 1].lower()] = 1.0
            f["+1title"] = float(words[k + 1].istitle())
        else:
            f["EOS"] = 1.0
        out.append(f)
    return out


def _bio(u: Utterance) -> tuple[list[str], list[str]]:
    words: list[str] = []
    labels: list[str] = []
    for t, slot in u:
        for k, w in enumerate(_TOKEN.findall(t)):
            words.append(w)
            labels.append("O" if slot is None else ("B-" if k == 0 else "I-") + slot)
    return words, labels


class CrfBaseline:
    """A CRF per intent (L-BFGS, elastic net) with the usual word features, intent given."""

    def __init__(self, train: dict[str, list[Utterance]]) -> None:
        from dialoghub.nlu import crf

        self.taggers = {}
        for intent, us in train.items():
            seqs = []
            for u in us:
                words, labels = _bio(u)
                seqs.append((_crf_features(words), labels))
            model = crf.train(
                seqs, algorithm="lbfgs", params={"c1": 0.1, "c2": 0.1, "max_iterations": 100}
            )
            self.taggers[intent] = crf.Tagger(model)

    def slots(self, intent: str, text: str) -> set[tuple[str, str]]:
        from dialoghub.nlu.tagger import spans

        words = _TOKEN.findall(text)
        labels = self.taggers[intent].tag(_crf_features(words))
        return {(s, fold(" ".join(words[a:b]))) for s, a, b in spans(labels)}


# --- measuring -------------------------------------------------------------------------------


class Counts:
    def __init__(self) -> None:
        self.per_slot: dict[str, list[int]] = {}  # slot -> [tp, fp, fn]

    def add(self, want: set[tuple[str, str]], got: set[tuple[str, str]]) -> None:
        for slot, _ in want | got:
            self.per_slot.setdefault(slot, [0, 0, 0])
        for slot, _ in want & got:
            self.per_slot[slot][0] += 1
        for slot, _ in got - want:
            self.per_slot[slot][1] += 1
        for slot, _ in want - got:
            self.per_slot[slot][2] += 1

    @staticmethod
    def _f1(tp: int, fp: int, fn: int) -> float:
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0

    def micro(self) -> float:
        tp, fp, fn = (sum(c[i] for c in self.per_slot.values()) for i in range(3))
        return self._f1(tp, fp, fn)

    def macro(self) -> float:
        f = [self._f1(*c) for c in self.per_slot.values()]
        return sum(f) / len(f) if f else 1.0


def _qualified(intent: str, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Slots named by intent and slot: the publishers' metrics files average over these (53
    pairs; "per slot" merges a slot name several intents share, 39 names)."""
    return {(f"{intent}/{slot}", value) for slot, value in pairs}


def _timed(make: Callable[[], Any]) -> tuple[Any, float]:
    start = time.process_time()
    made = make()
    return made, time.process_time() - start


def _ms_per(call: Callable[[str], Any], texts: Sequence[str], rounds: int = 3) -> float:
    for t in texts:
        call(t)
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for t in texts:
            call(t)
        best = min(best, (time.process_time() - start) * 1000 / len(texts))
    return best


def measure(root: Path, size: str, *, tfidf: bool = True) -> dict[str, Any]:
    """Every system's figures at one training size (``tfidf``: with the scikit-learn one)."""
    from dialoghub.nlu import learned

    train, test = load(root, size)
    cases = [(intent, u) for intent, us in test.items() for u in us]
    texts = [text_of(u) for _, u in cases]
    out: dict[str, Any] = {
        "per_intent": round(sum(len(us) for us in train.values()) / len(train)),
        "train_utterances": sum(len(us) for us in train.values()),
        "test_utterances": len(cases),
    }
    for name, kind in (("matcher", EntityKind.LIST), ("learned", EntityKind.TEXT)):
        intents, entities = dialoghub_model(train, kind)
        learned._CACHE.clear()
        factory = learned.LearnedRecognizer if name == "learned" else Recognizer
        rec, seconds = _timed(lambda f=factory, i=intents, e=entities: f(i, e))  # type: ignore[misc]
        correct = no_intent = top = 0
        counts, pairs = Counts(), Counts()
        for (intent, u), text in zip(cases, texts, strict=True):
            r = rec.recognize(text)
            correct += r.intent == intent
            no_intent += r.intent is None
            # The best intent even below the threshold: what the baseline (which never
            # answers "none") is measured by.
            best = r.intent or (r.alternatives[0][0] if r.alternatives else None)
            top += best == intent
            got = {(s, fold(v.text)) for s, v in rec.extract_slots(intent, text).items()}
            counts.add(gold_slots(u), got)
            pairs.add(_qualified(intent, gold_slots(u)), _qualified(intent, got))
        out[name] = {
            "intent_accuracy": round(correct / len(cases), 4),
            "top_intent_accuracy": round(top / len(cases), 4),
            "no_intent": round(no_intent / len(cases), 4),
            "slot_f1": round(counts.micro(), 4),
            "slot_f1_per_slot": round(counts.macro(), 4),
            "slot_f1_per_intent_slot": round(pairs.macro(), 4),
            "ms_per_utterance": round(_ms_per(rec.recognize, texts), 4),
            "train_seconds": round(seconds, 3),
        }
    try:
        if not tfidf:
            raise ImportError("not asked for")
        # Imported before the timing starts: the import alone takes seconds.
        from sklearn import feature_extraction, linear_model, pipeline  # noqa: F401
    except ImportError:  # the bench extra is not installed: no baseline, say so
        out["tfidf+lr"] = {"unavailable": "pip install scikit-learn"}
    else:
        lr, seconds = _timed(lambda: TfidfLogReg(train))
        correct = sum(lr.intent(t) == i for (i, _), t in zip(cases, texts, strict=True))
        out["tfidf+lr"] = {
            "intent_accuracy": round(correct / len(cases), 4),
            "ms_per_utterance": round(_ms_per(lr.intent, texts[:200]), 4),
            "train_seconds": round(seconds, 3),
        }
    crf_tagger, seconds = _timed(lambda: CrfBaseline(train))
    counts, pairs = Counts(), Counts()
    for (intent, u), text in zip(cases, texts, strict=True):
        got = crf_tagger.slots(intent, text)
        counts.add(gold_slots(u), got)
        pairs.add(_qualified(intent, gold_slots(u)), _qualified(intent, got))
    out["crf"] = {
        "slot_f1": round(counts.micro(), 4),
        "slot_f1_per_slot": round(counts.macro(), 4),
        "slot_f1_per_intent_slot": round(pairs.macro(), 4),
        "train_seconds": round(seconds, 3),
    }
    return out


def train_seconds(root: Path, size: str) -> float:
    """CPU seconds to build the learned recognizer of one training size, cache empty."""
    from dialoghub.nlu import crf, learned

    train, _ = load(root, size)
    intents, entities = dialoghub_model(train, EntityKind.TEXT)
    crf.available()  # the library's import is not training
    learned._CACHE.clear()
    return _timed(lambda: learned.LearnedRecognizer(intents, entities))[1]


def table(results: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'per intent':>10} {'system':<9}{'intent acc':>11}{'top acc':>9}{'no intent':>10}"
        f"{'slot F1':>9}"
        f"{'per slot':>9}{'per i/slot':>11}{'ms/utt':>8}{'train s':>9}"
    )
    lines = [head]

    def cell(d: dict[str, Any], key: str, fmt: str) -> str:
        return format(d[key], fmt) if key in d else "-"

    for r in results:
        for system in ("matcher", "learned", "tfidf+lr", "crf"):
            d = r[system]
            lines.append(
                f"{r['per_intent']:>10} {system:<9}{cell(d, 'intent_accuracy', '.1%'):>11}"
                f"{cell(d, 'top_intent_accuracy', '.1%'):>9}{cell(d, 'no_intent', '.1%'):>10}"
                f"{cell(d, 'slot_f1', '.3f'):>9}"
                f"{cell(d, 'slot_f1_per_slot', '.3f'):>9}"
                f"{cell(d, 'slot_f1_per_intent_slot', '.3f'):>11}"
                f"{cell(d, 'ms_per_utterance', '.3f'):>8}"
                f"{cell(d, 'train_seconds', '.2f'):>9}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.understanding", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="the benchmark's folder")
    parser.add_argument("--sizes", default="70,full", help="training sizes, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="only build the learned recognizer once per size (the first build of this process,"
        " cache empty) and print its CPU seconds: run it several times to compare builds",
    )
    args = parser.parse_args(argv)
    if args.train_only:
        for size in args.sizes.split(","):
            print(f"{size}: {train_seconds(args.data, size):.3f} CPU s")
        return
    results = [measure(args.data, size) for size in args.sizes.split(",")]
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
