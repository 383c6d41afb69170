"""The pure engine on a flat dialog: start a weather session and step it N turns.

For instruction counts, the one measure these shared machines do not blur. Two runs with N
and N + 1000 turns give the cost of 1000 turns without the start-up::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python -m benchmarks.flat_steps . 200
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python -m benchmarks.flat_steps . 1200

Usage: ``python -m benchmarks.flat_steps ROOT N`` (ROOT: the checkout whose examples/ to use).
"""

import sys
from pathlib import Path

from dialoghub.engine.records import CommandAction, CommandResult, Text
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model

root = Path(sys.argv[1])
model = load_model(root / "examples" / "weather" / "weather.yaml")
N = int(sys.argv[2])
texts = ["what's the weather in Paris", "and tomorrow?", "thanks"]
t = 1_800_000_000.0
s = start(model, "s", now=t).session
for i in range(N):
    r = step(model, s, Text(text=texts[i % 3]), t + i)
    s = r.session
    while isinstance(r.actions[-1], CommandAction):
        a = r.actions[-1]
        result = CommandResult(id=a.id, outputs={"temperature": 20, "forecast": "sunny"})
        r = step(model, s, result, t + i)
        s = r.session
    if s.ended:
        s = start(model, "s", now=t + i).session
