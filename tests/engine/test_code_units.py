"""Unit tests of engine/code.py: the Context a code unit's state function gets, and how
``run_state`` carries out what the function decided (events, actions, errors read back)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dialoghub import errors
from dialoghub.engine.code import Context, Slots
from dialoghub.engine.fold import replay
from dialoghub.engine.records import (
    EndAction,
    Event,
    Input,
    Reply,
    Session,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.step import MAX_STATE_ENTRIES, start, step
from dialoghub.model.codeunit import CodeUnit, model_from_code
from dialoghub.model.loader import load_model
from dialoghub.model.spec import Model

T0 = 1_700_000_000.0
EXAMPLES = Path(__file__).parent.parent.parent / "examples"
StateFn = Callable[[Context], None]


class Talk:
    """A session of a model driven through the pure engine, replay checked at each step."""

    def __init__(self, model: Model, **kw: Any) -> None:
        self.model = model
        self.now = T0
        r = start(model, "sid", now=self.now, **kw)
        self.session: Session = r.session
        self.events: list[Event] = list(r.events)
        self.new: list[Event] = list(r.events)
        self.actions = r.actions
        assert replay(self.events) == self.session

    def send(self, inp: Input | str) -> list[str]:
        self.now += 1
        r = step(self.model, self.session, Text(text=inp) if isinstance(inp, str) else inp,
                 self.now)  # fmt: skip
        self.session, self.actions, self.new = r.session, r.actions, list(r.events)
        self.events.extend(r.events)
        assert replay(self.events) == self.session
        return [a.text for a in self.actions if isinstance(a, Reply)]

    @property
    def var(self) -> dict[str, Any]:
        return self.session.unit_variables()

    def entered(self) -> list[str]:
        return [e.data["state"] for e in self.new if e.type == "state_entered"]


def unit_of(*fns: StateFn, name: str = "cu", start_at: str | None = None) -> Model:
    unit = CodeUnit(name, start=start_at)
    for fn in fns:
        unit.state(fn)
    return model_from_code(unit)


def waits(t: Talk) -> WaitForUser:
    last = t.actions[-1]
    assert isinstance(last, WaitForUser)
    return last


# --- what the context shows -------------------------------------------------------------------


def test_context_shows_the_session_served() -> None:
    seen: list[dict[str, Any]] = []

    def begin(ctx: Context) -> None:
        seen.append({
            "id": ctx.session_id, "unit": ctx.unit, "state": ctx.state, "now": ctx.now,
            "text": ctx.text, "timed_out": ctx.timed_out, "timeouts": ctx.timeouts,
            "params": dict(ctx.params), "metadata": dict(ctx.metadata),
        })  # fmt: skip
        ctx.next("after")

    def after(ctx: Context) -> None:
        seen.append({"state": ctx.state, "text": ctx.text, "now": ctx.now})

    t = Talk(unit_of(begin, after), params={"p": 1}, metadata={"m": "x"})
    assert seen == [{
        "id": "sid", "unit": "cu", "state": "begin", "now": T0, "text": None,
        "timed_out": False, "timeouts": 0, "params": {"p": 1}, "metadata": {"m": "x"},
    }]  # fmt: skip
    assert t.session.state == "after"
    t.send("hello")
    assert seen[1:] == [{"state": "after", "text": "hello", "now": T0 + 1}]


def test_variables_set_get_delete() -> None:
    got: list[Any] = []

    def begin(ctx: Context) -> None:
        ctx.set("n", 1)
        ctx.set("when", {"a": [1, 2]})
        got.append((ctx.get("n"), ctx.get("missing"), ctx.get("missing", "dflt")))
        got.append(ctx.get("n", "dflt"))
        ctx.delete("n")
        ctx.delete("never_set")  # nothing to clear: no event
        got.append(ctx.variables)
        ctx.next("begin")

    t = Talk(unit_of(begin))
    assert got == [(1, None, "dflt"), 1, {"when": {"a": [1, 2]}}]
    assert t.var == {"when": {"a": [1, 2]}}
    assert [(e.type, e.data) for e in t.events if e.type.startswith("variable")] == [
        ("variable_set", {"name": "n", "value": 1}),
        ("variable_set", {"name": "when", "value": {"a": [1, 2]}}),
        ("variable_cleared", {"name": "n"}),
    ]


def test_variables_is_a_copy_and_get_reads_other_units() -> None:
    def begin(ctx: Context) -> None:
        ctx.variables["sneaky"] = 1  # a copy: changes nothing
        ctx.set("seen", ctx.get("params.p"))
        ctx.next("begin")

    t = Talk(unit_of(begin), params={"p": "P"})
    assert t.var == {"seen": "P"}


@pytest.mark.parametrize("bad", ["", "a.b", 5, None])
def test_set_refuses_a_name_that_is_no_variable_name(bad: Any) -> None:
    def begin(ctx: Context) -> None:
        ctx.set(bad, 1)

    with pytest.raises(errors.InvalidInput) as info:
        Talk(unit_of(begin))
    assert info.value.message == f"{bad!r} is not a variable name (no dots, not empty)"


def test_set_refuses_a_value_that_is_not_json_like() -> None:
    class Thing:
        pass

    def begin(ctx: Context) -> None:
        ctx.set("x", Thing())

    with pytest.raises(errors.InvalidInput) as info:
        Talk(unit_of(begin))
    assert info.value.message == "variable 'x' cannot hold Thing"
    assert isinstance(info.value.__cause__, TypeError)


# --- saying and asking ------------------------------------------------------------------------


def test_say_and_an_idle_wait() -> None:
    def begin(ctx: Context) -> None:
        ctx.say("one")
        ctx.say(2)  # type: ignore[arg-type]

    t = Talk(unit_of(begin))
    assert list(t.actions) == [Reply(text="one"), Reply(text="2"), WaitForUser(immediate=False)]
    assert t.session.awaiting == {"kind": "user", "immediate": False}
    assert t.session.due_at is None


def test_ask_waits_immediately_with_its_prompt() -> None:
    def begin(ctx: Context) -> None:
        ctx.ask("Name?")

    t = Talk(unit_of(begin))
    assert list(t.actions) == [Reply(text="Name?"), WaitForUser(immediate=True)]
    assert t.session.awaiting == {"kind": "user", "immediate": True, "prompt": ["Name?"]}
    assert t.session.due_at is None


def test_ask_with_a_timeout_and_its_handler() -> None:
    def begin(ctx: Context) -> None:
        ctx.ask("Name?", timeout=0.5, on_timeout="late")

    def late(ctx: Context) -> None:
        ctx.say(f"late {ctx.timed_out} {ctx.timeouts} {ctx.text}")

    t = Talk(unit_of(begin, late))
    assert t.session.awaiting == {
        "kind": "user", "immediate": True, "prompt": ["Name?"], "timeout": 0.5,
        "due_at": T0 + 0.5, "on_timeout": "late",
    }  # fmt: skip
    assert t.session.due_at == T0 + 0.5
    assert t.send(Timeout()) == ["late True 1 None"]
    assert t.session.state == "begin"  # the handler ran; the session stays where it was


def test_a_timeout_without_handler_runs_the_state_itself() -> None:
    def begin(ctx: Context) -> None:
        if ctx.timed_out:
            ctx.ask(f"Again ({ctx.timeouts})?", timeout=3)
        else:
            ctx.ask("Name?", timeout=2)

    t = Talk(unit_of(begin))
    assert t.session.awaiting is not None and "on_timeout" not in t.session.awaiting
    assert t.session.due_at == T0 + 2
    assert t.send(Timeout()) == ["Again (1)?"]
    assert t.session.due_at == T0 + 1 + 3
    assert t.send(Timeout()) == ["Again (2)?"]
    assert t.send("answer") == ["Name?"]  # an answer resets the count and is no timeout


@pytest.mark.parametrize("bad", [0, -1, 0.0, -0.5, "5", [5]])
def test_ask_refuses_a_timeout_that_is_no_positive_number(bad: Any) -> None:
    def begin(ctx: Context) -> None:
        ctx.ask("Name?", timeout=bad)

    with pytest.raises(errors.InvalidInput) as info:
        Talk(unit_of(begin))
    assert info.value.message == (f"timeout must be a positive number of seconds, not {bad!r}")


def test_ask_takes_a_timeout_under_one_second() -> None:
    def begin(ctx: Context) -> None:
        ctx.ask("Name?", timeout=0.25)

    assert Talk(unit_of(begin)).session.due_at == T0 + 0.25


# --- moving -----------------------------------------------------------------------------------


def test_run_runs_another_state_now_with_the_same_input() -> None:
    log: list[tuple[str, str | None, bool]] = []

    def begin(ctx: Context) -> None:
        ctx.ask("Go?")
        ctx.next("first")

    def first(ctx: Context) -> None:
        log.append(("first", ctx.text, ctx.timed_out))
        ctx.run("second")

    def second(ctx: Context) -> None:
        log.append(("second", ctx.text, ctx.timed_out))
        ctx.say("in second")

    t = Talk(unit_of(begin, first, second))
    assert t.send("go") == ["in second"]
    assert log == [("first", "go", False), ("second", "go", False)]
    assert t.session.state == "second"
    assert t.entered() == ["second"]
    assert not waits(t).immediate


def test_a_timeout_handler_that_runs_a_state_runs_it_as_no_timeout() -> None:
    log: list[bool] = []

    def begin(ctx: Context) -> None:
        ctx.ask("Go?", timeout=5, on_timeout="late")

    def late(ctx: Context) -> None:
        log.append(ctx.timed_out)
        ctx.run("other")

    def other(ctx: Context) -> None:
        log.append(ctx.timed_out)

    t = Talk(unit_of(begin, late, other))
    t.send(Timeout())
    assert log == [True, False]
    assert t.session.state == "other"


def test_next_to_the_current_state_enters_nothing() -> None:
    def begin(ctx: Context) -> None:
        ctx.next("begin")
        ctx.say("hi")

    t = Talk(unit_of(begin))
    t.send("x")
    assert t.entered() == []
    assert t.session.state == "begin"


def test_next_moves_to_another_state() -> None:
    def begin(ctx: Context) -> None:
        ctx.next("other")

    def other(ctx: Context) -> None:
        ctx.next("begin")

    t = Talk(unit_of(begin, other))
    assert t.session.state == "other"
    t.send("x")
    assert t.entered() == ["begin"]
    assert t.session.state == "begin"


def test_a_state_that_runs_itself_forever_is_a_loop() -> None:
    def begin(ctx: Context) -> None:
        ctx.run("spin")

    def spin(ctx: Context) -> None:
        ctx.run("spin")

    with pytest.raises(errors.ModelError) as info:
        Talk(unit_of(begin, spin))
    assert info.value.message == (
        f"model 'cu' entered {MAX_STATE_ENTRIES} states in one update without waiting "
        "(last: 'spin'); a loop of jumps needs a wait"
    )
    assert info.value.details == {"state": "spin"}


@pytest.mark.parametrize("how", ["next", "run", "on_timeout"])
def test_naming_a_state_the_unit_lacks_is_a_model_error(how: str) -> None:
    def begin(ctx: Context) -> None:
        if how == "next":
            ctx.next("nowhere")
        elif how == "run":
            ctx.run("nowhere")
        else:
            ctx.ask("Q?", timeout=1, on_timeout="nowhere")

    def other(ctx: Context) -> None:
        pass

    with pytest.raises(errors.ModelError) as info:
        Talk(unit_of(begin, other))
    assert info.value.message == "code unit 'cu' has no state 'nowhere'; it has: begin, other"
    assert info.value.details == {"unit": "cu", "state": "nowhere"}


def test_a_session_in_a_state_whose_function_is_gone_is_refused() -> None:
    unit = CodeUnit("cu")

    @unit.state
    def begin(ctx: Context) -> None:
        ctx.next("gone")

    @unit.state
    def gone(ctx: Context) -> None:
        pass

    t = Talk(model_from_code(unit))
    del unit.functions["gone"]  # the unit's code changed under a stored session
    with pytest.raises(errors.ModelError) as info:
        t.send("x")
    assert info.value.message == "code unit 'cu' has no state 'gone'"
    assert info.value.details == {"state": "gone"}


def test_an_exception_in_a_state_function_is_a_model_error() -> None:
    def begin(ctx: Context) -> None:
        ctx.next("boom")

    def boom(ctx: Context) -> None:
        raise KeyError("k")

    t = Talk(unit_of(begin, boom))
    with pytest.raises(errors.ModelError) as info:
        t.send("x")
    assert info.value.message == "state 'boom' of code unit 'cu' raised KeyError: 'k'"
    assert info.value.details == {"unit": "cu", "state": "boom"}
    assert isinstance(info.value.__cause__, KeyError)


def test_a_dialoghub_error_in_a_state_function_passes_through() -> None:
    def begin(ctx: Context) -> None:
        raise errors.InvalidInput("said no", why="test")

    with pytest.raises(errors.InvalidInput) as info:
        Talk(unit_of(begin))
    assert (info.value.message, info.value.details) == ("said no", {"why": "test"})


# --- ending -----------------------------------------------------------------------------------


def test_end_finishes_a_top_level_unit_with_its_reason() -> None:
    def begin(ctx: Context) -> None:
        ctx.say("bye")
        ctx.end("all done")
        ctx.next("begin")  # ending wins over the rest

    t = Talk(unit_of(begin))
    assert list(t.actions) == [Reply(text="bye"), EndAction(reason="all done")]
    assert t.session.ended
    assert t.events[-1].type == "session_ended"
    assert t.events[-1].data == {"reason": "all done", "status": "ended"}


def test_end_has_a_default_reason() -> None:
    def begin(ctx: Context) -> None:
        ctx.end()

    t = Talk(unit_of(begin))
    assert list(t.actions) == [EndAction(reason="dialog ended")]


def test_end_of_a_called_unit_returns_to_its_caller() -> None:
    t = Talk(load_model(EXAMPLES / "getname" / "getname.yaml"))
    assert (t.session.unit, t.session.state) == ("getname", "name")
    assert t.session.stack != []
    assert t.send("my name is ada") == ["Nice to meet you, Ada!", "Welcome aboard, Ada."]
    assert t.actions[-1] == EndAction(reason="done")
    popped = [e.data for e in t.new if e.type == "frame_popped"]
    assert popped == [{"unit": "main", "state": t.session.state}]
    assert t.session.stack == [] and t.session.ended


# --- matching ---------------------------------------------------------------------------------


def test_match_searches_the_input_case_insensitively() -> None:
    found: list[Any] = []

    def begin(ctx: Context) -> None:
        found.append(ctx.match(r"x"))  # no input when entered
        ctx.next("listen")

    def listen(ctx: Context) -> None:
        found.append(ctx.match(r"plus (?P<by>\d+)(?P<unit> km)?"))
        found.append(ctx.match(r"STOP"))
        found.append(ctx.match(r"absent"))
        found.append(ctx.match(r"(?P<w>\w+)", text="other words"))
        found.append(ctx.match(r"plus", text="nothing here"))

    t = Talk(unit_of(begin, listen))
    t.send("Plus 3 and stop")
    assert found == [None, {"by": "3"}, {}, None, {"w": "other"}, None]
    assert isinstance(found[2], Slots) and bool(found[2])  # matched, without groups: true


def test_match_on_a_timeout_has_no_text() -> None:
    found: list[Any] = []

    def begin(ctx: Context) -> None:
        if ctx.timed_out:
            found.append(ctx.match(r".*"))
            found.append(ctx.match(r"a", text="A"))
        ctx.ask("Q?", timeout=1)

    t = Talk(unit_of(begin))
    t.send(Timeout())
    assert found == [None, {}]
