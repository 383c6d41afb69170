"""Validation: every problem at once, each at file:line:column, and never a half-valid model.

The corpus in ``broken/`` pins one mistake per file; these tests pin the rules behind them
(what counts as a known variable, which loops are errors) and the all-at-once behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialoghub.errors import ModelValidationError
from dialoghub.model.analysis import jump_loops
from dialoghub.model.loader import load_model_text, load_models
from dialoghub.model.source import read_source
from dialoghub.model.spec import Model

WEATHER = Path(__file__).resolve().parents[2] / "examples" / "weather" / "weather.yaml"

BASE = """\
id: m
intents:
  greet: [hello]
  order:
    examples: ["a {size} pizza"]
    slots: {size: size}
entities:
  size: [small, large]
commands:
  lookup:
    outputs: [price]
states:
  start:
    say: Hi!
    next: listen
  listen:
    on:
      greet: start
      order: answer
  answer:
    do:
      - command: lookup
%s
    next: listen
"""


def _problems(text: str, file: str = "m.yaml") -> list[str]:
    with pytest.raises(ModelValidationError) as info:
        load_model_text(text, file)
    return [f"{p.line}:{p.column} {p.message}" for p in info.value.problems]


def _loads(steps: str) -> Model:
    return load_model_text(BASE % steps, "m.yaml")


@pytest.mark.parametrize(
    "step",
    [
        '      - say: "A {size} pizza costs {price}."',  # a slot and a command output
        '      - set: {total: 3}\n      - say: "{total}"',  # a variable set by a step
        '      - append: {items: "{size}"}\n      - say: "{items}"',
        "      - increment: count\n      - say: '{count}'",
        '      - say: "{params.shop} {metadata.channel.name}"',  # the session's params/metadata
        '      - set: {order: 1}\n      - say: "{order.size}"',  # a key of a known variable
        '      - say: "{error}"',  # set by the engine when a command fails
    ],
)
def test_template_names_that_are_known(step: str) -> None:
    assert _loads(step).id == "m"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('      - say: "{prize}"', "names unknown variable {prize}; did you mean {price}?"),
        ('      - say: "{user.name}"', "names unknown variable {user.name}"),
        ('      - set: {x: "{sizes}"}', "names unknown variable {sizes}; did you mean {size}?"),
    ],
)
def test_template_naming_an_unknown_variable(step: str, message: str) -> None:
    (problem,) = _problems(BASE % step)
    assert problem.startswith("23:")  # the step (or the set key) in the answer state
    assert message in problem


def test_every_problem_is_reported_at_once() -> None:
    text = (BASE % '      - say: "{prize}"').replace("next: listen", "next: lisen", 1)
    text = text.replace("greet: start", "greet: strat").replace(
        "id: m\n", "id: m\nsample_rate: x\n"
    )
    problems = _problems(text)
    assert len(problems) == 4, problems
    assert problems == sorted(problems, key=lambda p: tuple(map(int, p.split()[0].split(":"))))


def test_a_duplicate_key_does_not_hide_other_problems() -> None:
    text = (BASE % "").replace("    say: Hi!\n", "    say: Hi!\n    say: Hello!\n")
    text = text.replace("greet: start", "greet: strat")
    problems = _problems(text)
    assert [p.split(" ", 1)[1].split(";")[0] for p in problems] == [
        "duplicate key 'say'",
        "no state 'strat'",
    ]


def test_yaml_and_json_report_the_same_problems_at_their_own_lines() -> None:
    data = read_source(BASE % '      - say: "{prize}"').data  # (keeps on: a string)
    yaml_problems = _problems(BASE % '      - say: "{prize}"')
    json_problems = _problems(json.dumps(data, indent=2), "m.json")
    assert [p.split(" ", 1)[1] for p in yaml_problems] == [
        p.split(" ", 1)[1] for p in json_problems
    ]
    assert yaml_problems[0].split()[0] != json_problems[0].split()[0]


def test_a_folder_loads_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(WEATHER.read_text())
    (tmp_path / "bad.yaml").write_text((BASE % "").replace("next: listen", "next: nowhere", 1))
    with pytest.raises(ModelValidationError) as info:
        load_models(tmp_path)
    assert [p.file for p in info.value.problems] == [str(tmp_path / "bad.yaml")]


# --- loops of jumps -------------------------------------------------------------------------

LOOPS = """\
id: loops
events: [go]
states:
  start:
    on: {go: a}
%s
"""


def _loop_problems(states: str) -> list[str]:
    return _problems(LOOPS % states)


def test_a_counting_loop_with_an_exit_is_fine() -> None:
    model = load_model_text(
        LOOPS
        % """\
  a:
    do: [{increment: n}]
    next:
      - goto: a
        when: n < 3
      - start"""
    )
    assert jump_loops(model.states) == []


def test_a_loop_through_a_waiting_state_is_fine() -> None:
    model = load_model_text(LOOPS % "  a:\n    say: again\n    next: start")
    assert jump_loops(model.states) == []


def test_a_loop_through_a_command_is_fine() -> None:
    text = (LOOPS % "  a:\n    do: [{command: c}]\n    next: b\n  b:\n    next: a").replace(
        "events: [go]", "events: [go]\ncommands: {c: {}}"
    )
    assert load_model_text(text).id == "loops"


def test_a_forced_loop_is_reported_once_at_its_first_state() -> None:
    problems = _loop_problems(
        "  a:\n    next: b\n  b:\n    say: hi\n    do: [{goto: c}]\n  c:\n    next: a"
    )
    assert problems == [
        "7:5 a loop of jumps with no wait: a -> b -> c -> a; one of these states must ask, "
        "wait, run a command, end or be final"
    ]


def test_a_loop_whose_conditions_never_lead_out_is_reported() -> None:
    problems = _loop_problems(
        """\
  a:
    next:
      - goto: b
        when: x == 1
      - goto: a
  b:
    do:
      - if: x == 2
        then: [{goto: a}]
    next: a"""
    )
    assert len(problems) == 1
    assert "a loop of jumps with no wait: a -> b -> a" in problems[0]


def test_a_conditional_end_is_a_way_out() -> None:
    model = load_model_text(
        LOOPS % "  a:\n    do:\n      - if: n > 3\n        then: [{end: done}]\n    next: a"
    )
    assert jump_loops(model.states) == []
