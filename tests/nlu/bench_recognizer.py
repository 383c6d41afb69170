"""Time ``Recognizer.recognize`` on a model of realistic size (not a test: run it by hand).

    .venv/bin/python tests/nlu/bench_recognizer.py

The model has 30 intents of 8 examples each and three list entities of 50 values, plus the
built-in number and time. The inputs are the examples themselves, rewritten the way users
write: slots filled, filler words added, words dropped, shuffled and misspelled. Both the
first pass (every word new to the caches) and later passes are reported.
"""

from __future__ import annotations

import random
import statistics
import time

from dialoghub.nlu import EntityKind, EntitySpec, EntityValue, IntentSpec, Recognizer

_TOPICS = [
    "weather", "flight", "hotel", "table", "taxi", "music", "alarm", "timer", "reminder",
    "email", "message", "call", "calendar", "news", "recipe", "order", "payment", "balance",
    "transfer", "password", "account", "delivery", "refund", "ticket", "movie", "lights",
    "thermostat", "volume", "translation", "joke",
]  # fmt: skip
_VERBS = ["book", "show", "check", "cancel", "change", "find", "get", "set", "play", "send"]
_FRAMES = [
    "{verb} my {topic}",
    "i want to {verb} a {topic} in {city}",
    "can you {verb} the {topic} for {count}",
    "please {verb} {topic} at {time}",
    "{topic} {product} now",
    "how do i {verb} my {topic} with {color}",
    "{verb} {topic} {product} for {count} people",
    "what about the {topic} status",
]
_FILLERS = ["um", "please", "could you", "hey", "i think", "like", "so", "ok"]


def _entities() -> list[EntitySpec]:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def name() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))

    def values(n: int) -> tuple[EntityValue, ...]:
        out = []
        for _ in range(n):
            v = name() if rng.random() < 0.7 else f"{name()} {name()}"
            out.append(EntityValue(v, tuple(name() for _ in range(rng.randint(0, 2)))))
        return tuple(out)

    return [
        EntitySpec("city", values=values(50)),
        EntitySpec("product", values=values(50)),
        EntitySpec("color", values=values(50)),
        EntitySpec("count", EntityKind.NUMBER),
        EntitySpec("time", EntityKind.TIME),
    ]


def _intents() -> list[IntentSpec]:
    slots = {"city": "city", "product": "product", "color": "color", "count": "count",
             "time": "time"}  # fmt: skip
    out = []
    for k, topic in enumerate(_TOPICS):
        examples = []
        for j, frame in enumerate(_FRAMES):
            verb = _VERBS[(k + j) % len(_VERBS)]
            examples.append(
                frame.replace("{verb}", verb).replace("{topic}", topic)
                + (f" {_TOPICS[(k * 7 + j) % len(_TOPICS)]}" if j % 3 == 0 else "")
            )
        out.append(IntentSpec(f"intent_{topic}", tuple(examples), dict(slots)))
    return out


def _inputs(intents: list[IntentSpec], entities: list[EntitySpec], n: int) -> list[tuple[str, str]]:
    rng = random.Random(11)
    fills = {
        "{city}": [v.value for v in entities[0].values],
        "{product}": [v.value for v in entities[1].values],
        "{color}": [v.value for v in entities[2].values],
        "{count}": ["4", "twenty one", "a hundred and five", "3.5"],
        "{time}": ["7pm", "19:30", "noon", "half past seven"],
    }
    texts = []
    for _ in range(n):
        intent = rng.choice(intents)
        text = rng.choice(intent.examples)
        for slot, options in fills.items():
            text = text.replace(slot, rng.choice(options))
        words = text.split()
        if rng.random() < 0.5:
            words.insert(0, rng.choice(_FILLERS))
        if rng.random() < 0.3 and len(words) > 3:
            del words[rng.randrange(len(words))]
        if rng.random() < 0.3:
            rng.shuffle(words)
        if rng.random() < 0.5:
            k = rng.randrange(len(words))
            w = words[k]
            if len(w) >= 5:
                i = rng.randrange(1, len(w) - 1)
                words[k] = w[:i] + w[i + 1] + w[i] + w[i + 2 :]  # swap two letters
        texts.append((" ".join(words), intent.name))
    return texts


def main() -> None:
    """Print the mean time per ``recognize`` call, cold and warm."""
    entities = _entities()
    intents = _intents()
    t0 = time.perf_counter()
    recognizer = Recognizer(intents, entities)
    build = time.perf_counter() - t0
    labelled = _inputs(intents, entities, 2000)
    texts = [text for text, _ in labelled]

    t0 = time.perf_counter()
    results = [recognizer.recognize(text) for text in texts]
    cold = (time.perf_counter() - t0) / len(texts)
    right = sum(r.intent == want for r, (_, want) in zip(results, labelled, strict=True))

    rounds = []
    cpu = []
    for _ in range(7):
        t0, c0 = time.perf_counter(), time.process_time()
        for text in texts:
            recognizer.recognize(text)
        rounds.append((time.perf_counter() - t0) / len(texts))
        cpu.append((time.process_time() - c0) / len(texts))
    n_examples = len(intents[0].examples)
    print(
        f"model: {len(intents)} intents x {n_examples} examples, compiled in {build * 1e3:.1f} ms"
    )
    print(f"inputs: {len(texts)} distinct texts, e.g. {texts[0]!r}")
    print(f"intent right for {right / len(texts):.1%} of them")
    print(f"recognize, first pass (cold caches): {cold * 1e3:.3f} ms/call")
    print(
        f"recognize, 7 later passes: wall median {statistics.median(rounds) * 1e3:.3f} ms/call,"
        f" best {min(rounds) * 1e3:.3f}; CPU median {statistics.median(cpu) * 1e3:.3f} ms/call"
    )


if __name__ == "__main__":
    main()
