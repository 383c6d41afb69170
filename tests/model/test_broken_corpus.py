"""Every broken model of ``tests/model/broken/`` gets exactly its expected problems.

A YAML file states what is wrong with it in header comments, ``# expect: LINE:COLUMN text``
(one line per problem, ``text`` a part of the message); the JSON files are described in
``json_expect.txt``. Loading must fail with one ModelValidationError carrying every expected
problem at its line and column, and nothing else: a model never loads half-valid, and one
mistake is not reported three times.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialoghub.errors import ModelValidationError
from dialoghub.model.loader import load_model

BROKEN = Path(__file__).parent / "broken"
_EXPECT = re.compile(r"#\s*expect:\s*(\d+)(?::(\d+))?\s+(.+?)\s*$")

Expectation = tuple[int, int | None, str]


def _yaml_expectations(path: Path) -> list[Expectation]:
    out: list[Expectation] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = _EXPECT.match(line)
        if m:
            out.append((int(m[1]), int(m[2]) if m[2] else None, m[3]))
    return out


def _json_expectations() -> dict[str, list[Expectation]]:
    out: dict[str, list[Expectation]] = {}
    for line in (BROKEN / "json_expect.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, where, text = line.split(" ", 2)
        row, _, col = where.partition(":")
        out.setdefault(name, []).append((int(row), int(col) if col else None, text))
    return out


def _cases() -> list[tuple[Path, list[Expectation]]]:
    json_expect = _json_expectations()
    cases = []
    for path in sorted(BROKEN.iterdir()):
        if path.suffix in (".yaml", ".yml"):
            cases.append((path, _yaml_expectations(path)))
        elif path.suffix == ".json":
            cases.append((path, json_expect.get(path.name, [])))
    return cases


CASES = _cases()


def test_the_corpus_is_large_and_mixed() -> None:
    assert len(CASES) >= 40
    assert sum(1 for p, _ in CASES if p.suffix == ".json") >= 8
    assert all(expect for _, expect in CASES), [p.name for p, e in CASES if not e]


@pytest.mark.parametrize(("path", "expected"), CASES, ids=[p.name for p, _ in CASES])
def test_broken_model_gets_its_errors(path: Path, expected: list[Expectation]) -> None:
    with pytest.raises(ModelValidationError) as info:
        load_model(path)
    problems = list(info.value.problems)
    got = [f"{p.line}:{p.column} {p.message}" for p in problems]
    for line, column, text in expected:
        hits = [
            p
            for p in problems
            if p.line == line and (column is None or p.column == column) and text in p.message
        ]
        where = f"{line}:{column}" if column is not None else str(line)
        assert hits, f"expected {where} {text!r}; got {got}"
        assert all(p.file == str(path) for p in hits)
    assert len(problems) == len(expected), f"unexpected extra problems: {got}"
