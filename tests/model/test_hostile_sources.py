"""Hostile model texts: reading one is bounded work, and a model that did not come from a file
the operator loaded never imports or runs code.

The bombs are refused by the reading limits (``SourceLimits``) on the event stream, before any
value is built, so each refusal names its limit and its line; the time bounds below are only
a generous backstop (measured: every refusal well under 5 ms on a 2-core machine).
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from dialoghub.errors import ModelValidationError
from dialoghub.model import source
from dialoghub.model.codeunit import NOT_FROM_POSTED
from dialoghub.model.loader import ModelTooComplex, load_model, load_model_text
from dialoghub.model.source import (
    DEFAULT_LIMITS,
    POSTED_LIMITS,
    SourceLimitError,
    SourceLimits,
    read_source,
)

BACKSTOP = 1.0  # CPU seconds; a refusal that costs this much was not refused by a limit
# (CPU time of this thread, not wall time: a loaded machine must not fail a cheap refusal)


def laughs(levels: int) -> str:
    """The "billion laughs": each level a list of nine aliases of the level below."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(text: str, limits: SourceLimits = DEFAULT_LIMITS) -> SourceLimitError:
    started = time.thread_time()
    with pytest.raises(SourceLimitError) as info:
        read_source(text, "bomb.yaml", limits)
    assert time.thread_time() - started < BACKSTOP
    assert len(info.value.problems) == 1
    assert info.value.problems[0].file == "bomb.yaml"
    return info.value


# --- aliases -------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", range(1, 10))
def test_a_posted_model_has_no_aliases_at_all(levels: int) -> None:
    err = refused(laughs(levels), POSTED_LIMITS)
    assert err.limit == "max_aliases"
    p = err.problems[0]
    assert (p.line, p.column) == (2, 10)  # the first alias
    assert "aliases (*name) are not accepted here" in p.message


@pytest.mark.parametrize("levels", range(5, 10))
def test_alias_expansion_past_the_node_limit_is_refused_at_its_line(levels: int) -> None:
    # 9 ** 6 = 531441 values at level 5: over 100000 while that level is read
    err = refused(laughs(levels))
    assert err.limit == "max_nodes"
    assert err.problems[0].line == 6
    assert "more than 100000 values once aliases are expanded" in err.problems[0].message


@pytest.mark.parametrize("levels", range(1, 5))
def test_aliases_within_the_limits_are_expanded(levels: int) -> None:
    loc = read_source(laughs(levels), "ok.yaml")
    top = loc.data[f"l{levels}"]
    for _ in range(levels):
        assert len(top) == 9
        top = top[0]
    assert top == ["lol"] * 9


def test_an_alias_keeps_the_marks_of_its_anchor() -> None:
    loc = read_source("a: &x {k: 1}\nb: *x\n", "m.yaml")
    assert loc.data == {"a": {"k": 1}, "b": {"k": 1}}
    assert loc.where(("b", "k")) == (1, 8)


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    # before: the composer made a cycle and building it raised RecursionError
    err = refused("a: &a [1, *a]\n")
    assert err.limit == "recursive_alias"
    assert (err.problems[0].line, err.problems[0].column) == (1, 11)


def test_too_many_anchors_or_aliases() -> None:
    anchors = "".join(f"a{i}: &a{i} x\n" for i in range(101))
    assert refused(anchors).limit == "max_anchors"
    aliases = "a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n"
    assert refused(aliases).limit == "max_aliases"


def test_long_strings_multiplied_by_aliases() -> None:
    long = "x" * 60_000
    text = f"a: &a {long}\nb: [{', '.join(['*a'] * 200)}]\n"
    err = refused(text)
    assert err.limit == "max_expanded_chars"
    assert err.problems[0].line == 2


# --- depth, size, long strings -------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 990, 20_000])
def test_deep_json_is_refused_at_the_first_level_too_deep(depth: int) -> None:
    # before: about 990 levels raised RecursionError (a 500 on the server)
    text = '{"id": "x", "states": ' + "[" * depth + "]" * depth + "}"
    err = refused(text)
    assert err.limit == "max_depth"
    where = (err.problems[0].line, err.problems[0].column)
    assert where == (1, 22 + 64) if depth < 1000 else where[0] == 1  # libyaml stops at 1000
    assert "nested deeper than 64 levels" in err.problems[0].message


def test_deep_block_yaml_is_refused() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"
    err = refused(text)
    assert err.limit == "max_depth"
    assert err.problems[0].line == 65  # the value of k63 (line 65) is the 65th mapping


def test_nesting_at_the_depth_limit_reads() -> None:
    depth = DEFAULT_LIMITS.max_depth
    loc = read_source("[" * depth + "1" + "]" * depth)
    value = loc.data
    for _ in range(depth - 1):
        value = value[0]
    assert value == [1]


def test_deep_json_model_is_a_model_too_complex() -> None:
    with pytest.raises(ModelTooComplex) as info:
        load_model_text('{"id": "x", "states": ' + "[" * 990 + "]" * 990 + "}", "deep.json")
    assert info.value.limit == "max_depth"
    assert str(info.value.problems[0]).startswith("deep.json:1:86: ")


@pytest.mark.parametrize("size", [16_385, 60_000])
def test_long_strings_in_a_posted_model(size: int) -> None:
    err = refused(f"id: x\ndescription: {'y' * size}\n", POSTED_LIMITS)
    assert err.limit == "max_scalar_chars"
    assert (err.problems[0].line, err.problems[0].column) == (2, 14)
    read_source(f"id: x\ndescription: {'y' * 16_384}\n", "ok.yaml", POSTED_LIMITS)


def test_long_strings_in_a_model_file() -> None:
    assert refused(f"id: '{'y' * 70_000}'\n").limit == "max_scalar_chars"
    assert refused("- " + "z" * 500 + "\n", SourceLimits(max_chars=100)).limit == "max_chars"


def test_an_expression_nested_past_the_recursion_limit() -> None:
    # the data is shallow, but a condition string nests: "not not ... x", "((((x))))"
    for cond in ["not " * 5000 + "x", "(" * 3000 + "x" + ")" * 3000]:
        text = (f"id: x\nstates:\n  a:\n    do:\n      - if: '{cond}'\n"
                "        then: [{say: hi}]\n    final: true\n")
        with pytest.raises(ModelTooComplex) as info:
            load_model_text(text, "expr.yaml")
        assert info.value.limit == "recursion"


# --- the parser ----------------------------------------------------------------------------


def test_libyaml_is_used_when_installed_and_on_off_yes_stay_strings() -> None:
    if yaml.__with_libyaml__:
        assert source._Parser is yaml.CSafeLoader
    loc = read_source("a: on\nb: off\nc: yes\nd: no\ne: true\nf: 1_000\ng: ~\n")
    assert loc.data == {"a": "on", "b": "off", "c": "yes", "d": "no", "e": True, "f": 1000,
                        "g": None}


# --- code units ----------------------------------------------------------------------------


def probe(folder: Path, name: str = "probe.py") -> tuple[Path, Path]:
    """A Python file that, if ever executed, writes the file ``written``."""
    written = folder / f"written-{uuid.uuid4().hex}"
    code = folder / name
    code.write_text(f"open({str(written)!r}, 'w').write('ran')\n", encoding="utf-8")
    return code, written


def with_unit(ref: str) -> str:
    return ("id: m\ninit:\n  - call: u\n  - end: done\nunits:\n  u:\n"
            f"    python: {ref}\n")


def test_text_never_imports_a_python_file(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, written = probe(tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative path must not be found in the working directory
    for ref in [str(code), "probe.py"]:
        with pytest.raises(ModelValidationError) as info:
            load_model_text(with_unit(ref), "<posted>")
        assert [str(p) for p in info.value.problems] == [
            f"<posted>:7:5: {NOT_FROM_POSTED} (at units.u.python)"
        ]
    assert not written.exists()


def test_text_never_imports_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"probe_{uuid.uuid4().hex}"
    _, written = probe(tmp_path, f"{name}.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    for ref in [name, "this"]:
        with pytest.raises(ModelValidationError, match=NOT_FROM_POSTED):
            load_model_text(with_unit(ref), "<posted>")
    assert name not in sys.modules
    assert not written.exists()


UNIT = '''from dialoghub.model.codeunit import CodeUnit
unit = CodeUnit("u")

@unit.state
def start(ctx):
    ctx.end("bye")
'''


def test_a_model_file_loads_its_unit_beside_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "dialog.py").write_text(UNIT, encoding="utf-8")
    (models / "m.yaml").write_text(with_unit("dialog.py"), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, written = probe(elsewhere, "dialog.py")  # the working directory's file is never run
    monkeypatch.chdir(elsewhere)
    model = load_model(models / "m.yaml")
    unit = model.units["u"].python
    assert unit is not None and unit.name == "u"
    assert not written.exists()
