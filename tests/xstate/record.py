"""Record what XState does with every corpus machine: ``corpus/expected/<name>.<version>.json``.

    .venv/bin/python -m tests.xstate.record            # write every expected file
    .venv/bin/python -m tests.xstate.record NAME ...   # only these entries (name or prefix)
    .venv/bin/python -m tests.xstate.record --show NAME  # print the traces, write nothing

The files are for the reader (what XState does, step by step) and for the test, which runs
XState again and requires the same answer (a new xstate version shows up as a diff here).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.xstate.corpus import EXPECTED_DIR, Case, load_corpus
from tests.xstate.reference import Reference

__all__ = ["expected_document", "format_document", "main"]


def expected_document(case: Case, results: list[dict[str, Any]], xstate: str) -> dict[str, Any]:
    """The expected file of ``case`` from the runner's answers to its requests."""
    doc: dict[str, Any] = {
        "name": case.name,
        "description": case.entry.description,
        "features": list(case.entry.features),
        "xstate": xstate,
        "machine": case.machine,
    }
    if case.entry.context is not None:
        doc["context"] = case.entry.context
    doc["sequences"] = [
        {"events": req["events"], **res} for req, res in zip(case.requests(), results, strict=True)
    ]
    return doc


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def format_document(doc: dict[str, Any]) -> str:
    """JSON with one step per line: the machine indented, each trace step on its own line."""
    out = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        comma = "," if i < len(keys) - 1 else ""
        value = doc[key]
        if key == "machine":
            body = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            out.append(f'  "machine": {body}{comma}')
        elif key == "sequences":
            out.append('  "sequences": [')
            for j, seq in enumerate(value):
                out.append("    {")
                out.append(f'      "events": {_line(seq["events"])},')
                out.append('      "trace": [')
                steps = seq["trace"]
                for k, step in enumerate(steps):
                    out.append(f"        {_line(step)}{',' if k < len(steps) - 1 else ''}")
                out.append("      ],")
                out.append(f'      "error": {_line(seq["error"])},')
                out.append(f'      "warnings": {_line(seq["warnings"])}')
                out.append("    }" + ("," if j < len(value) - 1 else ""))
            out.append("  ]" + comma)
        else:
            out.append(f"  {_line(key)}: {_line(value)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    show = "--show" in argv
    names = [a for a in argv if not a.startswith("--")]
    cases = [c for e in load_corpus() for c in e.cases()]
    if names:
        cases = [c for c in cases if any(c.name == n or c.name.startswith(n) for n in names)]
    with Reference() as ref:
        requests = [r for c in cases for r in c.requests()]
        answers = iter(ref.results(requests))
        for case in cases:
            results = [next(answers) for _ in case.requests()]
            doc = expected_document(case, results, ref.versions[case.version])
            text = format_document(doc)
            if show:
                print(text)
                continue
            EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
            case.expected_path.write_text(text)
            errors = sum(1 for r in results if r["error"])
            print(
                f"{case.name}: {len(results)} sequences" + (f", {errors} failing" if errors else "")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
