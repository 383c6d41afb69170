"""Real machines, written by others, through dialoghub and through XState (issue 18, part 8).

Not a test (it needs XState's repository and a TypeScript stripper, neither installed by the
Makefile): a measurement, run by hand, whose figures are in ../README.md.

1. The machines: every ``createMachine(config, implementations)`` and
   ``setup(implementations).createMachine(config)`` that XState's own examples and tests make,
   captured by ``extract.mjs`` (each file's TypeScript stripped by sucrase and run in a sandbox
   where ``xstate`` is a stub that records the config; functions are marked, and XState's own
   ``assign({...})``/``raise(e)``/``log(s)`` with data arguments become the JSON action
   objects ``{type: 'xstate.assign', assignment}`` etc. that XState v4 itself builds).
2. Each distinct config is compiled by ``compile_xstate`` in the version it was written for,
   the application's registered names being the keys of its implementations; a refusal is
   counted with its message.
3. Each accepted machine without guards or named delays (whose code is the application's, in
   JavaScript) runs 3 random sequences of 25 of its own events and 1 s advances through the
   harness (``tests.xstate.reference``): every step is compared.

Run (the xstate repository fetched to ``REPO``; sucrase installed once into ``TOOLS``)::

    npm install --prefix $TOOLS sucrase@3
    git -C $REPO archive HEAD examples packages/core/test | tar -x -C /tmp/x5
    git -C $REPO archive xstate@4.38.2 examples packages/core/test | tar -x -C /tmp/x4
    SUCRASE=$TOOLS node tests/xstate/real/extract.mjs $(find /tmp/x5 \\
        -name '*.ts' -o -name '*.tsx' -o -name '*.js') > /tmp/m5.jsonl
    .venv/bin/python -m tests.xstate.real.run v5 /tmp/m5.jsonl
"""

from __future__ import annotations

import collections
import json
import random
import re
import sys
from collections.abc import Callable
from typing import Any

from dialoghub.errors import ModelValidationError
from dialoghub.model.xstate_chart import compile_xstate
from tests.xstate.reference import Reference, as_trace, compare, ours_trace


def _function(kind: str) -> Callable[..., None]:
    def f(*args: Any) -> None:
        return None

    f.__name__ = kind
    return f


def revive(value: Any) -> Any:
    """The captured config as Python data: functions as functions (so the compiler refuses
    them in its own words), JavaScript's ``undefined`` dropped."""

    def gone(x: Any) -> bool:
        return isinstance(x, dict) and x.get("$undefined") is True

    if isinstance(value, dict):
        if set(value) == {"$fn"}:
            return _function(str(value["$fn"]))
        return {k: revive(x) for k, x in value.items() if not gone(x)}
    if isinstance(value, list):
        return [revive(x) for x in value if not gone(x)]
    return value


def event_names(cfg: Any, out: set[str]) -> set[str]:
    """Every event a state of ``cfg`` names in ``on`` (no wildcards, no internal events)."""
    if isinstance(cfg, dict):
        on = cfg.get("on")
        if isinstance(on, dict):
            out.update(k for k in on if k and "*" not in k and not k.startswith("xstate."))
        for s in (cfg.get("states") or {}).values():
            event_names(s, out)
    return out


def main(version: str, path: str) -> None:
    with open(path, encoding="utf-8") as lines:
        captured = [json.loads(line) for line in lines]
    distinct: dict[str, dict[str, Any]] = {}
    for d in captured:
        distinct.setdefault(json.dumps(d["config"], sort_keys=True), d)
    print(f"captured {len(captured)}, distinct {len(distinct)}")
    accepted: list[tuple[dict[str, Any], Any, Any]] = []
    refused: collections.Counter[str] = collections.Counter()
    data_only = data_accepted = 0
    for key, d in distinct.items():
        impl = d["impl"]
        data = '"$fn"' not in key and '"$cycle"' not in key
        data_only += data
        try:
            chart = compile_xstate(
                revive(d["config"]),
                guards=impl.get("guards", ()),
                actions=impl.get("actions", ()),
                delays={n: 1000 for n in impl.get("delays", ())},
                dialect=version,  # type: ignore[arg-type]
            )
        except ModelValidationError as e:
            refused[re.sub(r"'[^']*'", "'…'", e.problems[0].message)[:100]] += 1
            continue
        data_accepted += data
        # the same machine for XState: functions left only in keys the compiler ignores
        # (v4's schema) go; JavaScript's undefined went in revive()
        plain = json.loads(json.dumps(revive(d["config"]), default=lambda o: None))
        accepted.append((d, plain, chart))
    share = 100 * len(accepted) / len(distinct)
    print(
        f"accepted {len(accepted)} ({share:.0f}%); of the {data_only} written as data alone "
        f"(no function anywhere): {data_accepted} ({100 * data_accepted / data_only:.0f}%)"
    )
    for message, n in refused.most_common():
        print(f"  refused {n:4d}  {message}")
    ref = Reference(production=True)
    rng = random.Random(18)
    agree, differ, skipped = 0, [], 0
    for d, cfg, chart in accepted:
        guarded = any(t.guard is not None for n in chart.nodes.values() for t in n.transitions)
        if guarded or d["impl"].get("delays"):
            skipped += 1
            continue
        names = sorted(event_names(cfg, set())) or ["NONE"]
        seqs = [
            [{"advance": 1000} if rng.random() < 0.15 else {"type": rng.choice(names)}
             for _ in range(25)]
            for _ in range(3)
        ]  # fmt: skip
        answers = ref.results({"machine": cfg, "version": version, "events": ev} for ev in seqs)
        problems = [
            p
            for ev, ans in zip(seqs, answers, strict=True)
            if (p := compare(ours_trace(cfg, ev, version), as_trace(ans), cfg, ev, version))
        ]
        if problems:
            differ.append((d["file"], problems[0]))
        else:
            agree += 1
    print(
        f"compared {agree + len(differ)}: agree {agree}, disagree {len(differ)}; "
        f"not compared (guards or named delays: the application's code) {skipped}"
    )
    for file, problem in differ:
        print("---", file)
        print(problem[:1500])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
