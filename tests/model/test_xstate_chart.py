"""XState machines compiled into charts: every feature, ids and targets, order, dialects, and
every refusal at its line, in XState's words (src/dialoghub/model/xstate_chart.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dialoghub.errors import ModelValidationError
from dialoghub.model.chart import Chart, Ref, Transition
from dialoghub.model.source import SourceError, read_source
from dialoghub.model.xstate_chart import compile_xstate, detect_dialect, looks_like_xstate

ROOT = Path(__file__).resolve().parents[2]
G = {"g", "h", "isEven", "countAbove"}  # the guards every machine here may name


def chart(text: str, **kw: Any) -> Chart:
    kw.setdefault("guards", G)
    return compile_xstate(read_source(textwrap.dedent(text), "m.yaml"), **kw)


def problems(text: str, **kw: Any) -> list[tuple[int, str]]:
    kw.setdefault("guards", G)
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(read_source(textwrap.dedent(text), "m.yaml"), **kw)
    for p in info.value.problems:
        assert p.file == "m.yaml"
        assert "did you mean 'init'" not in p.message  # never the model language's hints
    return [(p.line, p.message) for p in info.value.problems]


def one(text: str, **kw: Any) -> tuple[int, str]:
    found = problems(text, **kw)
    assert len(found) == 1, found
    return found[0]


def ts(c: Chart, node: str) -> list[Transition]:
    return list(c.nodes[node].transitions)


# --- the machine, its ids and nodes ---------------------------------------------------------


def test_a_flat_machine() -> None:
    c = chart(
        """
        id: door
        initial: closed
        states:
          closed: {on: {OPEN: opened}}
          opened: {on: {CLOSE: closed}, type: final}
    """.replace("on: {CLOSE: closed}, ", "")
    )
    assert c.id == c.root == "door"
    root = c.nodes["door"]
    assert root.kind == "compound" and root.key == "" and root.parent is None
    assert root.children == ("door.closed", "door.opened")
    assert root.initial == ("door.closed",)
    assert c.nodes["door.opened"].kind == "final"
    (t,) = ts(c, "door.closed")
    assert (t.source, t.event, t.targets, t.reenter, t.line) == (
        "door.closed", "OPEN", ("door.opened",), False, 5,
    )  # fmt: skip
    assert c.dialect == "v5" and c.context == {} and not c.strict and c.predictable
    assert c.nodes["door.closed"].line == 5 and c.ancestors("door.closed") == ["door"]


def test_a_missing_id_is_the_name() -> None:
    c = chart(
        """
        initial: a
        states: {a: {states: {b: {}}, initial: b}}
    """,
        name="review",
    )
    assert c.id == "review" and set(c.nodes) == {"review", "review.a", "review.a.b"}


def test_ids_are_the_machine_id_and_the_key_path_unless_a_state_names_its_own() -> None:
    # XState: [machine.id, ...path].join('.'), even under a parent with its own id
    c = chart("""
        id: m
        initial: a
        states:
          a:
            id: p
            initial: b
            states:
              b: {}
              c: {id: own}
    """)
    assert list(c.nodes) == ["m", "p", "m.a.b", "own"]
    assert c.nodes["m.a.b"].parent == "p" and c.nodes["p"].key == "a"


def test_document_order_is_preorder_and_keys_follow_javascript() -> None:
    # Object.keys: array-index keys ascending first, then the rest as written
    c = chart("""
        id: m
        type: parallel
        states:
          b: {}
          "2": {initial: y, states: {z: {}, y: {}}}
          "1": {}
    """)
    assert c.nodes["m"].children == ("m.1", "m.2", "m.b")
    order = sorted(c.nodes.values(), key=lambda n: n.order)
    assert [n.id for n in order] == ["m", "m.1", "m.2", "m.2.z", "m.2.y", "m.b"]
    assert [n.order for n in order] == [0, 1, 2, 3, 4, 5]
    assert c.nodes["m.2"].children == ("m.2.z", "m.2.y")


def test_kinds() -> None:
    c = chart("""
        id: m
        initial: c
        states:
          c: {initial: x, states: {x: {}, h: {history: deep}}}
          p: {type: parallel, states: {r1: {}, r2: {}}}
          f: {type: final}
          a: {type: atomic}
          e: {states: {}}
    """)
    kinds = {k: c.nodes[f"m.{k}"].kind for k in ("c", "p", "f", "a", "e", "c.h")}
    assert kinds == {"c": "compound", "p": "parallel", "f": "final", "a": "atomic",
                     "e": "atomic", "c.h": "history"}  # fmt: skip
    assert c.nodes["m.c"].children == ("m.c.x", "m.c.h")  # history nodes are children too


def test_a_parallel_root_and_a_machine_without_states() -> None:
    c = chart("""
        id: m
        type: parallel
        states: {a: {}, b: {}}
    """)
    assert c.nodes["m"].kind == "parallel" and c.nodes["m"].initial == ()
    assert chart("id: solo\nentry: hello\n").nodes["solo"].kind == "atomic"


def test_located_mapping_and_marks() -> None:
    loc = read_source(
        '{"id": "j", "initial": "a",\n "states": {"a": {"on": {"X": "b"}}}}', "j.json"
    )
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(loc.data, marks=loc)
    (p,) = info.value.problems
    assert (p.file, p.line) == ("j.json", 2) and "'b'" in p.message
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(loc.data, marks=loc.marks, file="k.json")
    assert info.value.problems[0].file == "k.json"
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(loc.data, name="plain")  # no lines: the name is the file
    assert info.value.problems[0].file == "plain"


def test_python_data_with_functions_is_refused() -> None:
    config = {"initial": "a", "context": {"n": lambda: 1}, "states": {"a": {"entry": print}}}
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(config)
    text = str(info.value)
    assert "'context.n' must be plain data: functions do not survive JSON" in text
    assert "an XState action is a name (a string) or {type, params}" in text


def test_python_int_keys() -> None:
    c = compile_xstate({"initial": "a", "states": {"a": {"after": {1000: "b"}}, "b": {}}})
    assert c.nodes["machine.a"].after[0].delay_ms == 1000


# --- targets --------------------------------------------------------------------------------

TARGETS = """
    id: m
    initial: a
    on:
      ROOT_DOT: .b
      ROOT_ID: "#deep"
    states:
      a:
        initial: a1
        states:
          a1:
            on:
              SIB: a2
              UP_ID: "#m.b"
              ID_PATH: "#m.b.b1"
              OWN_ID_PATH: "#bee.b1"
          a2: {}
        on:
          SIB: b
          PATH: b.b1
          CHILD: .a2
          CHILD_PATH: .a1
          SELF: a
          NONE: {actions: [noted]}
          EMPTY: ""
          SEVERAL: {target: ["#m.p.r1.y", "#m.p.r2.y"]}
          ID_ESC: '#m.b.b1'
      b:
        id: bee
        initial: b1
        states:
          b1: {states: {deep: {id: deep}}, initial: deep}
      p:
        type: parallel
        states:
          r1: {initial: x, states: {x: {}, y: {}}}
          r2: {initial: x, states: {x: {}, y: {}}}
"""


@pytest.mark.parametrize(
    ("source", "event", "targets"),
    [
        ("m", "ROOT_DOT", ("bee",)),
        ("m", "ROOT_ID", ("deep",)),
        ("m.a.a1", "SIB", ("m.a.a2",)),
        ("m.a.a1", "UP_ID", ("bee",)),
        ("m.a.a1", "ID_PATH", ("m.b.b1",)),
        ("m.a.a1", "OWN_ID_PATH", ("m.b.b1",)),
        ("m.a", "SIB", ("bee",)),
        ("m.a", "PATH", ("m.b.b1",)),
        ("m.a", "CHILD", ("m.a.a2",)),
        ("m.a", "CHILD_PATH", ("m.a.a1",)),
        ("m.a", "SELF", ("m.a",)),
        ("m.a", "NONE", ()),
        ("m.a", "EMPTY", ()),
        ("m.a", "SEVERAL", ("m.p.r1.y", "m.p.r2.y")),
        ("m.a", "ID_ESC", ("m.b.b1",)),
    ],
)
@pytest.mark.parametrize("dialect", ["v4", "v5"])
def test_target_resolution(source: str, event: str, targets: tuple[str, ...], dialect: str) -> None:
    c = chart(TARGETS, dialect=dialect)
    (t,) = [t for t in ts(c, source) if t.event == event]
    assert t.targets == targets


@pytest.mark.parametrize(
    ("event", "v4", "v5"),
    [
        ("SIB", True, False),  # a sibling: external in v4 (it changes nothing for a sibling)
        ("CHILD", False, False),  # .child: internal in v4 too
        ("SELF", True, False),  # self: v4 re-enters by default, v5 does not
        ("NONE", False, False),  # targetless: internal
        ("PATH", True, False),
    ],
)
def test_reenter_defaults(event: str, v4: bool, v5: bool) -> None:
    for dialect, want in (("v4", v4), ("v5", v5)):
        (t,) = [t for t in ts(chart(TARGETS, dialect=dialect), "m.a") if t.event == event]
        assert t.reenter is want, dialect


def test_internal_and_reenter_written() -> None:
    c4 = chart("""
        initial: a
        states:
          a:
            initial: x
            states: {x: {}}
            on:
              IN: {target: a, internal: true}
              OUT: {target: .x, internal: false}
    """)
    assert c4.dialect == "v4"
    assert [t.reenter for t in ts(c4, "machine.a")] == [False, True]
    c5 = chart("""
        initial: a
        states:
          a: {on: {R: {target: a, reenter: true}, N: {target: a, reenter: false}}}
    """)
    assert c5.dialect == "v5" and [t.reenter for t in ts(c5, "machine.a")] == [True, False]


def test_v4_resolves_a_plain_target_from_the_root_and_a_dotted_id_whole() -> None:
    c = chart("""
        id: m
        initial: a
        on: {X: b}
        states:
          a: {on: {Y: "#foo.bar"}}
          b: {id: foo.bar}
    """)
    assert c.dialect == "v4"  # a plain target from the root is v4's spelling (v5 throws)
    assert ts(c, "m")[0].targets == ("foo.bar",)
    assert ts(c, "m.a")[0].targets == ("foo.bar",)


def test_v5_splits_an_id_target_at_its_first_dot() -> None:
    # v5 getStateNodeById: '#foo.bar' is the state 'bar' of the state with id 'foo'
    line, message = one(
        """
        id: m
        initial: a
        states:
          a: {on: {Y: "#foo.bar"}}
          b: {id: foo.bar}
    """,
        dialect="v5",
    )
    assert line == 5 and "no state has the id 'foo'" in message


def test_alternatives_are_not_several_targets() -> None:
    c = chart("""
        initial: a
        states:
          a: {on: {X: [{target: b, guard: g}, c]}}
          b: {}
          c: {}
    """)
    first, second = ts(c, "machine.a")
    assert first.targets == ("machine.b",) and first.guard == Ref("g", {}, 4)
    assert second.targets == ("machine.c",) and second.guard is None


# --- transitions: events, eventless, wildcards, done, order ---------------------------------


def test_transition_order_and_events() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            initial: x
            states: {x: {}, done: {type: final}}
            on: {Z: b, "1": b, "*": b}
            always: {target: b, guard: g}
            onDone: b
            invoke: {src: fetch, onDone: b, onError: b}
            after: {100: b}
          b: {}
    """)
    events = [t.event for t in ts(c, "m.a")]
    assert events == [
        "1", "Z", "*", None, "xstate.done.state.m.a", "xstate.done.actor.0.m.a",
        "xstate.error.actor.0.m.a", "xstate.after.100.m.a",
    ]  # fmt: skip


def test_v4_eventless_key_and_always() -> None:
    c = chart("""
        initial: a
        states:
          a: {on: {"": [{target: b, cond: g}], GO: b}, always: c}
          b: {}
          c: {}
    """)
    assert c.dialect == "v4"
    assert [(t.event, t.targets) for t in ts(c, "machine.a")] == [
        (None, ("machine.b",)), ("GO", ("machine.b",)), (None, ("machine.c",)),
    ]  # fmt: skip


def test_wildcards() -> None:
    c = chart("""
        initial: a
        states:
          a: {on: {"*": a, "mouse.*": a}}
    """)
    assert [t.event for t in ts(c, "machine.a")] == ["*", "mouse.*"]
    # v4 has only '*': any other descriptor with a '*' is a literal event name, as in XState v4
    v4 = chart(
        """
        initial: a
        states:
          a: {on: {"mouse.*": a, "m*": a, "*": a}}
    """,
        dialect="v4",
    )
    assert [t.event for t in ts(v4, "machine.a")] == ["mouse.*", "m*", "*"]
    # a partial wildcard alone reads as v5; beside a v4 key it is v4's literal name
    assert detect_dialect({"initial": "a", "states": {"a": {"on": {"a.*": "a"}}}}) == "v5"
    mixed = {"initial": "a", "states": {"a": {"on": {"a.*": {"target": "a", "cond": "g"}}}}}
    assert detect_dialect(mixed) == "v4"
    assert chart(json.dumps(mixed)).dialect == "v4"
    # a misplaced '*': XState v5 warns and runs it as matchesEventDescriptor reads it
    odd = chart("""
        initial: a
        states:
          a: {on: {"m*": b, "x.*.y.*": b}}
          b: {}
    """)
    assert [t.event for t in ts(odd, "machine.a")] == ["m*", "x.*.y.*"]
    from dialoghub.engine import chart as E

    for sent, moved in (("m*", True), ("mouse", False), ("x.a.y.z", False), ("x.*.y.*", True)):
        step = E.send(odd, E.start(odd).state, {"type": sent})
        assert ("machine.b" in step.state.configuration) is moved, sent


def test_v4_internal_event_names_become_v5s() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            on:
              done.invoke.svc: b
              done.state.m.a: b
              error.platform.svc: b
              xstate.after(1000)#m.a: b
              internal: {target: b, internal: true}
          b: {}
    """)
    assert [t.event for t in ts(c, "m.a")] == [
        "xstate.done.actor.svc", "xstate.done.state.m.a", "xstate.error.actor.svc",
        "xstate.after.1000.m.a", "internal",
    ]  # fmt: skip


def test_v4_on_as_a_list() -> None:
    c = chart("""
        initial: a
        states:
          a:
            on:
              - {event: X, target: b}
              - {event: "", target: b, cond: g}
          b: {}
    """)
    assert c.dialect == "v4" and [t.event for t in ts(c, "machine.a")] == ["X", None]


# --- after ---------------------------------------------------------------------------------


def test_after_forms() -> None:
    c = chart(
        """
        id: m
        initial: a
        states:
          a:
            after:
              "2000": b
              1e3: [{target: b, guard: g}, {target: c}]
              500: b
              slow: c
          b: {}
          c: {}
    """,
        delays={"slow": 5000},
    )
    a = c.nodes["m.a"]
    assert [(d.delay_ms, d.event) for d in a.after] == [
        (500, "xstate.after.500.m.a"), (2000, "xstate.after.2000.m.a"),
        (1000, "xstate.after.1000.m.a"), (5000, "xstate.after.slow.m.a"),
    ]  # fmt: skip
    assert [(t.event, t.targets, t.guard is not None) for t in a.transitions] == [
        ("xstate.after.500.m.a", ("m.b",), False),
        ("xstate.after.2000.m.a", ("m.b",), False),
        ("xstate.after.1000.m.a", ("m.b",), True),
        ("xstate.after.1000.m.a", ("m.c",), False),
        ("xstate.after.slow.m.a", ("m.c",), False),
    ]


def test_v4_after_as_a_list() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a: {after: [{delay: 100, target: b, cond: g}, {delay: "200", target: b}]}
          b: {}
    """)
    assert c.dialect == "v4"
    assert [d.delay_ms for d in c.nodes["m.a"].after] == [100, 200]


@pytest.mark.parametrize(
    ("delay", "message"),
    [
        ("slow", "'slow' is not a number of milliseconds, and no delay of that name"),
        ("0x10", "'0x10' is not a number of milliseconds"),
        ("1.5", "must be a whole, non-negative number"),
        ("-5", "must be a whole, non-negative number"),
    ],
)
def test_after_refusals(delay: str, message: str) -> None:
    line, text = one(f"""
        initial: a
        states:
          a:
            after:
              "{delay}": b
          b: {{}}
    """)
    assert line == 6 and message in text


# --- guards ---------------------------------------------------------------------------------


def test_v5_guards() -> None:
    c = chart("""
        id: m
        type: parallel
        states:
          r:
            initial: x
            states:
              x:
                on:
                  A: {target: y, guard: g}
                  B: {target: y, guard: {type: countAbove, params: {n: 5}}}
                  C: {target: y, guard: {type: and, guards: [g, {type: not, guards: [h]}]}}
                  D: {target: y, guard: {type: or, params: {guards: [g, h]}}}
                  E: {target: y, guard: {type: stateIn, params: {state: "#m.s.q"}}}
                  F: {target: y, guard: {type: xstate.stateIn, stateValue: {s: q}}}
                  G: {target: y, guard: {type: not, params: {guard: g}}}
                  H: {target: y, guard: {type: stateIn, stateValue: {r: x, s: q}}}
              y: {}
          s: {initial: q, states: {q: {}}}
    """)
    g = {t.event: t.guard for t in ts(c, "m.r.x")}
    assert g["A"] == Ref("g", {}, 10)
    assert g["B"] == Ref("countAbove", {"n": 5}, 11)
    assert g["C"] == Ref("xstate.and", {"guards": [Ref("g", {}, 12), Ref(
        "xstate.not", {"guards": [Ref("h", {}, 12)]}, 12)]}, 12)  # fmt: skip
    assert g["D"] == Ref("xstate.or", {"guards": [Ref("g", {}, 13), Ref("h", {}, 13)]}, 13)
    assert g["E"] == Ref("xstate.stateIn", {"state": "m.s.q"}, 14)
    assert g["F"] == Ref("xstate.stateIn", {"state": "m.s.q"}, 15)
    assert g["G"] == Ref("xstate.not", {"guards": [Ref("g", {}, 16)]}, 16)
    h = g["H"]
    assert h is not None and h.name == "xstate.and"
    assert [r.params["state"] for r in h.params["guards"]] == ["m.r.x", "m.s.q"]


def test_v4_guards_and_in() -> None:
    c = chart("""
        id: m
        type: parallel
        states:
          r:
            initial: x
            states:
              x:
                on:
                  A: {target: y, cond: g}
                  B: {target: y, cond: {type: countAbove, n: 5}}
                  C: {target: y, in: s.q}
                  D: {target: y, in: "#m.s.q", cond: g}
              y: {}
          s: {initial: q, states: {q: {}}}
    """)
    assert c.dialect == "v4"
    g = {t.event: t.guard for t in ts(c, "m.r.x")}
    assert g["A"] == Ref("g", {}, 10)
    assert g["B"] == Ref("countAbove", {"n": 5}, 11)
    # v4 reads a relative 'in' from the source's grandparent (here the root)
    assert g["C"] == Ref("xstate.stateIn", {"state": "m.s.q"}, 12)
    assert g["D"] == Ref("xstate.and", {"guards": [Ref("xstate.stateIn", {"state": "m.s.q"}, 13),
                                            Ref("g", {}, 13)]}, 13)  # fmt: skip


def test_unregistered_guards_are_reported_with_their_line() -> None:
    found = problems("""
        initial: a
        states:
          a:
            on:
              X: {target: a, guard: nope}
              Y: {target: a, guard: {type: and, guards: [g, {type: gone}]}}
    """)
    assert [line for line, _ in found] == [6, 7]
    assert "XState guard 'nope' is not implemented" in found[0][1]
    assert "registered guards: countAbove, g, h, isEven" in found[0][1]
    assert "'gone'" in found[1][1]


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        ("{type: not, guards: [g, h]}", "'not' guard takes one guard"),
        ("{type: and, guards: []}", "'and' guard needs 'guards'"),
        ("{type: stateIn}", "'stateIn' guard needs 'state' or 'stateValue'"),
        ("{type: stateIn, params: {state: '#nowhere'}}", "no state has the id 'nowhere'"),
        ("{type: g, extra: 1}", "guard objects take 'type' and 'params', not 'extra'"),
        ("{type: g, params: 3}", "'params' must be a mapping"),
        ("xstate.stateIn", "'xstate.stateIn' is written as an object"),
        ("xstate.nope", "XState built-in guard 'xstate.nope' is not supported"),
        ("stateIn", "XState guard 'stateIn' is not implemented"),
    ],
)
def test_guard_refusals(guard: str, message: str) -> None:
    found = problems(f"""
        initial: a
        states:
          a: {{on: {{X: {{target: a, guard: {guard}}}}}}}
    """)
    assert found and all(line == 4 for line, _ in found)
    assert any(message in text for _, text in found), found


def test_v4_has_no_builtin_and() -> None:
    line, message = one("""
        initial: a
        states:
          a: {on: {X: {target: a, cond: {type: and, guards: [g]}}}}
    """)
    assert line == 4 and "XState v4 has no built-in 'and' guard" in message


# --- actions --------------------------------------------------------------------------------


def test_actions() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            entry: [hello, {type: mark, params: {m: 1}}]
            exit: bye
            on:
              X:
                target: a
                actions:
                  - {type: xstate.assign, assignment: {count: 0, seen: [1]}}
                  - {type: xstate.raise, event: PING}
                  - {type: xstate.raise, event: {type: PONG, n: 1}}
                  - {type: xstate.log, label: here, expr: text}
                  - notify
    """)
    a = c.nodes["m.a"]
    assert a.entry == (Ref("hello", {}, 6), Ref("mark", {"m": 1}, 6))
    assert a.exit == (Ref("bye", {}, 7),)
    (t,) = a.transitions
    assert t.actions == (
        Ref("xstate.assign", {"assignments": {"count": 0, "seen": [1]}}, 12),
        Ref("xstate.raise", {"event": {"type": "PING"}}, 13),
        Ref("xstate.raise", {"event": {"type": "PONG", "n": 1}}, 14),
        Ref("xstate.log", {"label": "here", "value": "text"}, 15),
        Ref("notify", {}, 16),
    )


def test_v4_action_spellings() -> None:
    c = chart("""
        initial: a
        states:
          a:
            onEntry: {type: mark, m: 2}
            onExit: [bye]
            on: {X: {target: a, cond: g, actions: {type: inc, by: 2}}}
    """)
    a = c.nodes["machine.a"]
    assert c.dialect == "v4"
    assert a.entry == (Ref("mark", {"m": 2}, 5),) and a.exit == (Ref("bye", {}, 6),)
    assert a.transitions[0].actions == (Ref("inc", {"by": 2}, 7),)


def test_unregistered_actions_are_commands_unless_strict() -> None:
    text = """
        initial: a
        states:
          a: {entry: [inc, notify]}
    """
    assert [r.name for r in chart(text).nodes["machine.a"].entry] == ["inc", "notify"]
    line, message = one(text, strict=True, actions={"inc"})
    assert line == 4 and "XState action 'notify' is not implemented (strict" in message
    assert chart(text, strict=True, actions={"inc", "notify"}).strict


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("{type: xstate.send, event: X}", "XState built-in action 'xstate.send' is not supported"),
        ("xstate.assign", "XState built-in action 'xstate.assign' is not supported"),
        ("{type: xstate.assign}", "needs 'assignment'"),
        ("{type: xstate.assign, assignments: {a: 1}}", "takes 'assignment'"),
        ("{type: xstate.raise, event: X, delay: 10}", "delayed raise is not supported"),
        ("{type: xstate.raise}", "needs 'event'"),
        ("{type: xstate.log, expr: {a: 1}}", "must be a string"),
        ("{type: inc, by: 2}", "action objects take 'type' and 'params', not 'by'"),
        ("3", "an XState action is a name"),
    ],
)
def test_action_refusals(action: str, message: str) -> None:
    line, text = one(f"""
        initial: a
        states:
          a: {{entry: {action}}}
    """)
    assert line == 4 and message in text


# --- history, final, onDone, invoke, context, tags, meta -----------------------------------


def test_history() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            initial: x
            states:
              x: {}
              y: {initial: y1, states: {y1: {}, y2: {}}}
              shallow: {type: history}
              deep: {type: history, history: deep, target: y.y2}
              by_id: {history: true, target: "#m.a.y"}
          p:
            type: parallel
            states:
              r: {}
              h: {type: history, history: deep}
    """)
    n = c.nodes
    assert (n["m.a.shallow"].history, n["m.a.shallow"].history_default) == ("shallow", ("m.a.x",))
    assert (n["m.a.deep"].history, n["m.a.deep"].history_default) == ("deep", ("m.a.y.y2",))
    assert (n["m.a.by_id"].kind, n["m.a.by_id"].history_default) == ("history", ("m.a.y",))
    assert n["m.p.h"].history_default == ("m.p",)  # a parallel parent: the parent itself


def test_v4_history_target_is_a_key_or_a_state_value() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            onEntry: e
            initial: x
            states:
              x: {}
              y: {initial: y1, states: {y1: {}, y2: {}}}
              h: {type: history, history: deep, target: {y: y2}}
    """)
    assert c.dialect == "v4" and c.nodes["m.a.h"].history_default == ("m.a.y.y2",)
    line, message = one(
        """
        id: m
        initial: a
        states:
          a:
            initial: x
            states:
              x: {}
              y: {initial: y1, states: {y1: {}, y2: {}}}
              h: {type: history, history: deep, target: y.y2}
    """,
        dialect="v4",
    )
    assert line == 10 and "Child state 'y.y2' does not exist on 'm.a'" in message


def test_final_output_and_done() -> None:
    c5 = chart("""
        id: m
        initial: a
        output: {from: root}
        states:
          a:
            initial: x
            states: {x: {}, done: {type: final, output: {n: 1}}}
            onDone: {target: b, actions: setOutput}
          b: {type: final, output: 42}
    """)
    assert c5.nodes["m.a.done"].output == {"n": 1} and c5.nodes["m.b"].output == 42
    assert c5.nodes["m"].output == {"from": "root"}
    assert ts(c5, "m.a")[0].event == "xstate.done.state.m.a"
    c4 = chart("""
        id: m
        initial: a
        states:
          a: {type: final, data: {n: 1}}
    """)
    assert c4.dialect == "v4" and c4.nodes["m.a"].output == {"n": 1}


def test_invoke() -> None:
    c = chart("""
        id: m
        initial: a
        states:
          a:
            invoke:
              - {src: fetch, input: {q: 1}, onDone: {target: b, actions: setOutput}}
              - {src: {type: other}, id: mine, onError: b}
          b: {invoke: {src: more}}
    """)
    assert c.nodes["m.a"].invoke[0].input == {"q": 1}
    assert [(i.id, i.src) for i in c.nodes["m.a"].invoke] == [("0.m.a", "fetch"), ("mine", "other")]
    assert [t.event for t in ts(c, "m.a")] == ["xstate.done.actor.0.m.a", "xstate.error.actor.mine"]
    c4 = chart("""
        id: m
        initial: a
        states:
          a: {invoke: {src: fetch, data: {q: 1}, onDone: {target: a, cond: g}}}
    """)
    (inv,) = c4.nodes["m.a"].invoke
    assert (inv.id, inv.input) == ("m.a:invocation[0]", {"q": 1})
    assert ts(c4, "m.a")[0].event == "xstate.done.actor.m.a:invocation[0]"


def test_context_tags_meta_and_ignored_keys() -> None:
    c = chart("""
        id: m
        version: "1.2"
        description: a machine
        types: {}
        schemas: {}
        context: {count: 0, items: [], who: {name: x}}
        initial: a
        states:
          a:
            description: a state
            tags: [busy, form]
            meta: {prompt: "Approve?", ui: {color: red}}
            on: {X: {target: a, description: again, meta: {why: because}}}
          b: {tags: one}
    """)
    assert c.context == {"count": 0, "items": [], "who": {"name": "x"}}
    assert c.nodes["m.a"].tags == ("busy", "form") and c.nodes["m.b"].tags == ("one",)
    assert c.nodes["m.a"].meta == {"prompt": "Approve?", "ui": {"color": "red"}}


def test_v5_invoke_system_id_is_kept_out_of_the_chart() -> None:
    c = chart("initial: a\nstates:\n  a: {invoke: {src: s, id: i, systemId: fetcher}}")
    assert [v.id for v in c.nodes["machine.a"].invoke] == ["i"]
    line, message = one("initial: a\nstates:\n  a: {invoke: {src: s, systemId: 3}}")
    assert line == 3 and "'invoke.systemId' is a name" in message


def test_v5_invoke_input_is_any_value() -> None:
    for given in (3, "text", [1, 2], 0.5, {"a": 1}):
        c = chart(
            f"initial: a\nstates:\n  a: {{invoke: {{src: s, id: i, input: {json.dumps(given)}}}}}"
        )
        assert c.nodes["machine.a"].invoke[0].input == given


def test_has_context_only_v4_without_context_lacks_one() -> None:
    """v4 without `context` has none (its assigns change nothing); v5 always starts at {}."""
    v4 = "initial: a\npredictableActionArguments: true\nstates: {a: {}}\n"
    assert not chart(v4).has_context
    assert chart(v4 + "context: {}\n").has_context
    assert chart("initial: a\nstates: {a: {}}\n", dialect="v5").has_context
    assert chart("initial: a\nstates: {a: {}}\n", dialect="v4").has_context is False


def test_v4_root_options() -> None:
    c = chart("""
        initial: a
        predictableActionArguments: true
        preserveActionOrder: true
        strict: true
        schema: {}
        tsTypes: {}
        states: {a: {}}
    """)
    assert (c.dialect, c.predictable, c.strict, c.v4_strict) == ("v4", True, False, True)
    legacy = chart("""
        initial: a
        states: {a: {on: {X: {target: a, cond: g}}}}
    """)
    assert (legacy.dialect, legacy.predictable) == ("v4", False)


def test_v5_initial_as_a_transition() -> None:
    c = chart("""
        id: m
        initial: {target: a, actions: [hello]}
        states: {a: {}}
    """)
    assert c.nodes["m"].initial == ("m.a",)
    assert c.nodes["m"].initial_actions == (Ref("hello", {}, 3),)


def test_initial_of_a_parallel_state_is_ignored_as_xstate_ignores_it() -> None:
    c = chart("""
        type: parallel
        initial: a
        states: {a: {}, b: {}}
    """)
    assert c.nodes["machine"].initial == ()


def test_a_named_delay_must_be_registered_as_milliseconds() -> None:
    text = """
        initial: a
        states: {a: {after: {slow: a}}}
    """
    line, message = one(text, delays={"slow": 1.5})
    assert line == 3 and "registered as 1.5" in message


def test_v4_parallel_true() -> None:
    c = chart("""
        initial: a
        states:
          a: {parallel: true, states: {r: {}, s: {}}}
    """)
    assert c.dialect == "v4" and c.nodes["machine.a"].kind == "parallel"


# --- dialects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "dialect"),
    [
        ({"initial": "a", "states": {"a": {"entry": "x", "always": "a"}}}, "v5"),
        ({"initial": "a", "states": {"a": {"on": {"X": {"target": "a", "cond": "g"}}}}}, "v4"),
        ({"initial": "a", "states": {"a": {"on": {"": "a"}}}}, "v4"),
        ({"initial": "a", "states": {"a": {"on": {"X": {"in": "#a"}}}}}, "v4"),
        ({"initial": "a", "states": {"a": {"onEntry": "x"}}}, "v4"),
        ({"initial": "a", "states": {"a": {"on": {"X": {"internal": True}}}}}, "v4"),
        ({"initial": "a", "states": {"a": {"type": "final", "data": {}}}}, "v4"),
        ({"initial": "a", "predictableActionArguments": True, "states": {"a": {}}}, "v4"),
        ({"initial": "a", "on": {"X": "a"}, "states": {"a": {}}}, "v4"),
        ({"initial": "a", "states": {"a": {"on": {"X": {"guard": "g"}}}}}, "v5"),
        ({"initial": "a", "states": {"a": {"on": {"X": {"reenter": True}}}}}, "v5"),
        ({"initial": "a", "states": {"a": {"type": "final", "output": 1}}}, "v5"),
        ({"initial": {"target": "a"}, "states": {"a": {}}}, "v5"),
        ({"initial": "a", "states": {"a": {"on": {"a.*": "a"}}}}, "v5"),
        ({"initial": "a", "states": {"a": {"invoke": {"src": "s", "input": {}}}}}, "v5"),
        # predictableActionArguments leans to v4 but never conflicts: v5 ignores it
        (
            {
                "predictableActionArguments": True,
                "initial": "a",
                "states": {"a": {"on": {"X": {"guard": "g"}}}},
            },
            "v5",
        ),
        ({"initial": "a", "states": {"a": {"on": {"X": {"guard": "g", "cond": "g"}}}}}, None),
    ],
)
def test_detect_dialect(config: dict[str, Any], dialect: str | None) -> None:
    assert detect_dialect(config) == dialect


def test_a_mix_of_versions_is_one_problem_naming_both() -> None:
    line, message = one("""
        initial: a
        states:
          a:
            onEntry: hello
            on:
              X: {target: a, guard: g}
    """)
    assert line == 7
    assert (
        "mixes XState v4 and v5: 'onEntry' (line 5) is v4's spelling, 'guard' (line 7) is "
        "v5's" in message
    )


@pytest.mark.parametrize(
    ("text", "dialect", "line", "message"),
    [
        ("a: {on: {X: {target: a, cond: g}}}", "v5", 4,
         "'cond' is XState v4's spelling, but this machine is read as XState v5: write 'guard'"),
        ("a: {on: {'': a}}", "v5", 4, "the '' key of 'on' is XState v4's spelling"),
        ("a: {onExit: x}", "v5", 4, "'onExit' is XState v4's spelling"),
        ("a: {on: {X: {target: a, guard: g}}}", "v4", 4,
         "'guard' is XState v5's spelling, but this machine is read as XState v4: write 'cond'"),
        ("a: {on: {X: {target: a, reenter: true}}}", "v4", 4, "'reenter' is XState v5's"),
        ("a: {type: final, output: 1}", "v4", 4, "'output' is XState v5's spelling"),
    ],
)  # fmt: skip
def test_a_forced_dialect_reports_the_other_versions_keys(
    text: str, dialect: str, line: int, message: str
) -> None:
    found = one(
        f"""
        initial: a
        states:
          {text}
    """,
        dialect=dialect,
    )
    assert found[0] == line and message in found[1]


def test_v5_refuses_a_plain_target_from_the_root() -> None:
    line, message = one(
        """
        initial: a
        on: {X: a}
        states: {a: {}}
    """,
        dialect="v5",
    )
    assert line == 3 and "the target 'a' from the machine's root is XState v4's" in message
    assert "write '.a'" in message


# --- refusals, each at its line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # targets that resolve nowhere
        ("initial: a\nstates:\n  a: {on: {X: nowhere}}", 3,
         "XState target 'nowhere' resolves to no state: 'machine' has no child 'nowhere'"),
        ("initial: a\nstates:\n  a: {on: {X: .kid}}", 3, "'machine.a' has no child 'kid'"),
        ("initial: a\nstates:\n  a: {on: {X: '#x'}}", 3, "no state has the id 'x'"),
        ("initial: a\nstates:\n  a: {on: {X: 'a..b'}}", 3, "has an empty segment"),
        ("initial: a\nstates:\n  a: {on: {X: {target: 3}}}", 3, "an XState target is a state's"),
        ("initial: a\nstates:\n  a: {on: {X: {target: []}}}", 3, "an empty XState 'target' list"),
        ("initial: a\nstates:\n  a: {on: {X: ~}}", 3, "an XState transition of null fails"),
        ("initial: a\nstates:\n  a: {on: {X: {target: ~}}}", 3, "XState target null fails"),
        ("initial: a\nstates:\n  a: {on: {X: {target: a, when: x}}}", 3,
         "XState has no transition key 'when'"),
        ("initial: a\nstates:\n  a: {on: {X: {target: a, reenter: 1}}}", 3,
         "'reenter' must be true or false"),
        ("initial: a\nstates:\n  a: {on: {X: []}}", 3, "an empty list of XState transitions"),
        ("initial: a\nstates:\n  a: {on: 3}", 3, "'on' must map events"),
        ("initial: a\nstates:\n  a: {on: [X]}", 3, "XState v4 'on' as a list takes {event"),
        # several targets in one region
        ("initial: a\nstates:\n  a: {on: {X: {target: [a, b]}}}\n  b: {}", 3,
         "are both inside 'machine', which is not parallel"),
        ("initial: a\nstates:\n  a: {initial: c, states: {c: {}}, on: {X: {target: [a, .c]}}}",
         3, "one is inside the other"),
        # initial
        ("initial: b\nstates:\n  a: {}", 1, "XState 'initial' 'b' is not a child of 'machine'"),
        ("initial: a\nstates:\n  a: {states: {x: {}}}", 3,
         "XState compound state 'machine.a' has no 'initial'"),
        ("initial: a\nstates:\n  a: {initial: x}", 3, "XState 'initial' names a child state"),
        ("type: parallel\ninitial: b\nstates:\n  a: {}", 2,
         "'initial' of a parallel state names no child"),
        ("initial: h\nstates:\n  a: {}\n  h: {type: history}", 1,
         "'initial' naming a history state is not supported"),
        # kinds
        ("initial: a\nstates:\n  a: {type: sometimes}", 3, "XState state 'type' must be one of"),
        ("initial: a\nstates:\n  a: {type: final, states: {b: {}}}", 3,
         "an XState final state has no child states"),
        ("initial: a\nstates:\n  a: {type: compound}", 3, "compound state needs child 'states'"),
        ("type: parallel\nstates: {}", 1, "parallel state needs at least one region"),
        ("type: final", 1, "the root of an XState machine cannot be a final state"),
        # history
        ("initial: a\nstates:\n  a: {}\n  h: {type: history, states: {x: {}}}", 4,
         "an XState history state has no child states"),
        ("initial: a\nstates:\n  a: {}\n  h: {type: history, on: {X: a}}", 4,
         "XState 'on' is not allowed on a history state"),
        ("initial: a\nstates:\n  a: {}\n  h: {type: history, history: sometimes}", 4,
         "XState 'history' must be 'shallow', 'deep' or true"),
        ("initial: a\nstates:\n  a: {}\n  h: {type: history, target: nowhere}", 4,
         "'machine' has no child 'nowhere'"),
        ("initial: a\nstates:\n  a: {initial: x, states: {x: {}, h: {type: history, target: "
         "'#machine.b'}}}\n  b: {}", 3, "must be a state inside 'machine.a'"),
        ("initial: a\nstates:\n  a: {target: b}", 3, "'target' belongs to a history state"),
        # final
        ("initial: a\nstates:\n  a: {type: final, on: {X: a}}", 3,
         "an XState final state has no transitions ('on')"),
        ("initial: a\nstates:\n  a: {type: final, after: {10: a}}", 3,
         "final state has no transitions ('after')"),
        ("initial: a\nstates:\n  a: {type: final, invoke: {src: s}}", 3,
         "final state has no transitions ('invoke')"),
        ("initial: a\nstates:\n  a: {output: 1}", 3, "XState 'output' belongs to a final state"),
        ("initial: a\nstates:\n  a: {type: final, data: 1}\n  b: {onEntry: x}", 3,
         "'data' of a final state must be a mapping"),
        # onDone
        ("initial: a\nonDone: a\nstates:\n  a: {}", 2, "XState takes no 'onDone' on the machine's"),
        ("initial: a\nstates:\n  a: {onDone: a}", 3,
         "'onDone' belongs to a compound or parallel state"),
        # invoke
        ("initial: a\nstates:\n  a: {invoke: {id: x}}", 3,
         "XState 'invoke.src' must be the name of a service (a string)"),
        ("initial: a\nstates:\n  a: {invoke: {src: {id: inline, states: {}}}}", 3,
         "functions and inline machines do not survive JSON"),
        ("initial: a\nstates:\n  a: {invoke: {src: s, onSnapshot: a}}", 3,
         "XState v5 'invoke.onSnapshot' is not supported"),
        ("initial: a\nstates:\n  a: {invoke: [{src: s, id: i}, {src: t, id: i}]}", 3,
         "two XState invocations have the id 'i'"),
        ("initial: a\nstates:\n  a: {invoke: {src: s, data: 3}}\npredictableActionArguments: true", 3,
         "'invoke.data' must be a mapping here"),
        # context and the rest
        ("context: 3\ninitial: a\nstates: {a: {}}", 1, "'context' must be a mapping"),
        ("id: 3\ninitial: a\nstates: {a: {}}", 1, "machine 'id' must be a non-empty string"),
        ("initial: a\nstates:\n  a: {}\n  b: {id: machine.a}", 4,
         "two XState states have the id 'machine.a'"),
        ("initial: a\nstates:\n  a: {history: deep, states: {x: {}}, initial: x}", 3,
         "'history' belongs to a history state"),
        ("initial: a\nstates:\n  a: {activities: [beep]}", 3, "XState v4 'activities'"),
        ("initial: a\nstates:\n  a: {entyr: x}", 3, "XState has no state key 'entyr'; did you "
         "mean 'entry'?"),
        ("initial: a\nstates:\n  a: {context: {}}", 3, "'context' belongs to the machine's root"),
        ("initial: a\nstates:\n  a: ~", 3, "XState state 'a' must be a mapping, not null"),
        ("initial: a\nstates:\n  a: {}\n  b.c: {}", 4, "XState state key 'b.c' cannot be"),
        ("initial: a\nstates:\n  a: {tags: [1]}", 3, "'tags' must be a string or a list"),
        ("initial: a\nstates:\n  a: {meta: 3}", 3, "XState 'meta' must be a mapping here"),
        ("states: [a]", 1, "XState 'states' must map state keys to states"),
    ],
)  # fmt: skip
def test_refusals(text: str, line: int, message: str) -> None:
    found = problems(text)
    assert any(message in m for _, m in found), found
    assert [ln for ln, m in found if message in m] == [line], found


def test_every_problem_at_once_sorted_by_line() -> None:
    found = problems("""
        initial: a
        states:
          a:
            on: {X: nowhere}
          b:
            type: final
            on: {Y: a}
          c: {invoke: {}}
    """)
    assert [line for line, _ in found] == [5, 8, 9]


def test_not_a_mapping() -> None:
    with pytest.raises(ModelValidationError) as info:
        compile_xstate(read_source("[1, 2]", "l.yaml"))
    assert "an XState machine is a mapping, not a list" in str(info.value)


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "xstate"),
    [
        ({"type": "parallel", "states": {"a": {}, "b": {}}}, True),
        ({"states": {"a": {"after": {"1000": "b"}}, "b": {}}}, True),
        ({"initial": "a", "states": {"a": {"on": {"X": "a"}}}}, True),
        ({"id": "m", "states": {"a": {"type": "final"}}}, True),
        ({"states": {"a": {"on": {"X": "b"}}, "b": {}}}, True),
        ({"on": {"X": ".a"}, "states": {"a": {}}}, True),
        ({"context": {}, "states": {"a": {}}}, True),
        ({"entry": "hi"}, True),
        ({"start": "a", "states": {"a": {"say": "hi", "on": {"x": "a"}}}}, False),
        ({"states": {"a": {"ask": "name?", "on": {"x": "a"}}}}, False),
        ({"intents": {}, "states": {"a": {"on": {"x": "a"}}}}, False),
        ({"id": "m", "version": "1", "states": {}}, False),
        ([1], False),
        ("text", False),
    ],
)
def test_looks_like_xstate(data: Any, xstate: bool) -> None:
    assert looks_like_xstate(data) is xstate


def _model_files() -> list[Path]:
    files = [*ROOT.joinpath("examples").rglob("*.yaml"), *ROOT.joinpath("examples").rglob(
        "*.json"), *ROOT.joinpath("tests", "model", "broken").glob("*.yaml"),
        *ROOT.joinpath("tests", "model", "broken").glob("*.json")]  # fmt: skip
    return sorted(files)


#: the shipped model files that are XState machines
XSTATE_FILES = {"review.json", "llm_review.json", "triage.json"}


@pytest.mark.parametrize("path", _model_files(), ids=lambda p: p.name)
def test_detection_of_every_shipped_model(path: Path) -> None:
    # (it agreed with the flat translator it replaced on every one of these, before that
    # translator was removed)
    try:
        data = read_source(path.read_text(encoding="utf-8"), str(path)).data
    except SourceError as exc:
        if exc.located is None:
            return
        data = exc.located.data
    assert looks_like_xstate(data) is (path.name in XSTATE_FILES), path.name


def test_docs_models_are_not_xstate_unless_they_are() -> None:
    blocks = (ROOT / "docs" / "models.md").read_text(encoding="utf-8").split("```yaml\n")[1:]
    for block in blocks:
        data = read_source(block.split("```", 1)[0]).data
        is_machine = isinstance(data, dict) and "initial" in data and "start" not in data
        assert looks_like_xstate(data) is is_machine, block[:60]


def test_the_review_example_compiles() -> None:
    path = ROOT / "examples" / "review" / "review.json"
    c = compile_xstate(read_source(path.read_text(encoding="utf-8"), str(path)))
    assert c.nodes[c.root].kind == "compound" and len(c.nodes) > 2
    assert any(n.meta and "prompt" in n.meta for n in c.nodes.values())


# --- the differential corpus (tests/xstate) -------------------------------------------------


def _corpus() -> list[Any]:
    try:
        from tests.xstate.corpus import load_corpus
    except ImportError:  # pragma: no cover - the harness is not there
        return []
    return [case for entry in load_corpus() for case in entry.cases()]


#: corpus machines XState runs and this compiler refuses on purpose, and why
REFUSED_ON_PURPOSE: set[str] = set()  # none: v4's 'mouse.*' is now its literal event name


@pytest.mark.parametrize("case", _corpus(), ids=lambda c: c.name)
def test_the_corpus_compiles_as_xstate_takes_it(case: Any) -> None:
    """Every corpus machine loads in the version it runs in; one XState refuses is refused."""
    from tests.xstate.library import ACTIONS, GUARDS

    if case.name in REFUSED_ON_PURPOSE:
        with pytest.raises(ModelValidationError):
            compile_xstate(case.machine, guards=GUARDS, actions=ACTIONS, dialect=case.version)
        return
    features = set(case.entry.features)
    expected = case.expected_path
    error = None
    if expected.exists():
        runs = json.loads(expected.read_text(encoding="utf-8"))["sequences"]
        errors = [r["error"] for r in runs if r["error"]]
        error = errors[0] if errors and errors[0]["step"] == 0 else None
    try:
        compile_xstate(case.machine, name="(machine)", guards=GUARDS, actions=ACTIONS,
                       dialect=case.version)  # fmt: skip
    except ModelValidationError as exc:
        assert "refused" in features or "runtime-error" in features or error, str(exc)
        return
    assert "refused" not in features and error is None, error


# --- anything at all: a chart or problems, never a crash ----------------------------------

_WORDS = [
    "id", "type", "states", "initial", "on", "entry", "exit", "onEntry", "onExit", "always",
    "after", "onDone", "invoke", "meta", "tags", "history", "target", "output", "data",
    "parallel", "guard", "cond", "in", "internal", "reenter", "actions", "src", "input",
    "params", "guards", "stateValue", "state", "assignment", "event", "delay", "a", "b", "*",
    "", "a.*", "#a", "context", "strict", "1000", "x.y", ".a", "#machine.a", "final", "deep",
    "compound", "xstate.assign", "and", "not", "stateIn", "g",
]  # fmt: skip


def _chart_is_whole(c: Chart) -> None:
    for n in c.nodes.values():
        assert n.parent is None or n.id in c.nodes[n.parent].children
        assert all(c.nodes[k].parent == n.id for k in n.children)
        assert set(n.initial) <= set(n.children)
        assert all(x in c.nodes for x in n.history_default)
        for t in n.transitions:
            assert t.source == n.id and all(x in c.nodes for x in t.targets)
    assert c.nodes[c.root].parent is None


def test_any_data_compiles_or_is_refused() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.sampled_from(_WORDS))
    data = st.recursive(
        scalars,
        lambda c: st.one_of(
            st.lists(c, max_size=3), st.dictionaries(st.sampled_from(_WORDS), c, max_size=4)
        ),
        max_leaves=30,
    )

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(
        st.dictionaries(st.sampled_from(_WORDS), data, max_size=6),
        st.sampled_from([None, "v4", "v5"]),
    )
    def check(config: dict[str, Any], dialect: Any) -> None:
        looks_like_xstate(config)
        detect_dialect(config)
        try:
            c = compile_xstate(config, guards={"g"}, dialect=dialect, delays={"a": 5})
        except ModelValidationError as exc:
            assert exc.problems
        else:
            _chart_is_whole(c)

    check()


def test_generated_machines_compile_whole() -> None:
    pytest.importorskip("hypothesis")
    try:
        from tests.xstate.generate import cases
        from tests.xstate.library import ACTIONS, GUARDS
    except ImportError:  # pragma: no cover - the harness is not there
        pytest.skip("tests/xstate is not there")
    import hypothesis

    @hypothesis.settings(max_examples=100, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
    @hypothesis.given(cases())
    def check(g: Any) -> None:
        for version, machine in g.versions():
            _chart_is_whole(compile_xstate(machine, guards=GUARDS, actions=ACTIONS,
                                           dialect=version))  # fmt: skip

    check()


# --- built-ins never capture an application's names ---------------------------------------


def test_application_log_and_guards_are_the_applications() -> None:
    """`log`, `raise`, `and`, `stateIn` the application registers are its own (XState looks a
    string up in the machine's implementations); the built-ins are the `xstate.` objects."""
    from dialoghub.engine import chart as E

    text = """
        id: m
        context: {n: 0}
        initial: a
        states:
          a:
            entry: [log, {type: xstate.log, label: builtin}]
            on:
              GO: [{target: b, guard: {type: and, params: {at: 2}}}, {target: c, guard: and}]
              IN: {target: b, guard: {type: xstate.stateIn, params: {state: '#m.a'}}}
          b: {entry: {type: raise, params: {to: x}}}
          c: {}
    """
    c = chart(text, guards={"and"}, actions={"log"})
    a, b = c.nodes["m.a"], c.nodes["m.b"]
    assert a.entry[0] == Ref("log", {}, 7) and a.entry[1].name == "xstate.log"
    assert b.entry == (Ref("raise", {"to": "x"}, 11),)  # unregistered: a command action
    go = [t.guard for t in ts(c, "m.a") if t.event == "GO"]
    assert go == [Ref("and", {"at": 2}, 9), Ref("and", {}, 9)]
    assert [t.guard.name for t in ts(c, "m.a") if t.event == "IN" and t.guard] == ["xstate.stateIn"]
    seen: list[Any] = []
    reg = E.Registry(
        guards={"and": lambda ctx, ev, p: seen.append(("and", p)) or p.get("at", 1) == ctx["n"]},
        actions={"log": lambda ctx, ev, p: {"n": ctx["n"] + 1}},
    )
    step = E.start(c, registry=reg)
    assert step.state.context == {"n": 1}  # the application's log ran, the built-in logged
    assert [(e.kind, e.name) for e in step.effects if e.kind == "log"] == [("log", "builtin")]
    step = E.send(c, step.state, {"type": "GO"}, registry=reg)
    assert seen == [("and", {"at": 2}), ("and", {})] and "m.c" in step.state.configuration
    assert step.effects == []  # no built-in ran for the application's names
    # the same unprefixed object without a registered `and` is XState's and()
    plain = chart("""
        initial: a
        states:
          a: {on: {GO: {target: b, guard: {type: and, params: {guards: [g, h]}}}}}
          b: {}
    """)
    assert ts(plain, "machine.a")[0].guard == Ref(
        "xstate.and", {"guards": [Ref("g", {}, 4), Ref("h", {}, 4)]}, 4)  # fmt: skip
    # and no application name can take the prefix
    assert "XState built-in action 'xstate.mine' is not supported" in one(
        "initial: a\nstates: {a: {entry: xstate.mine}}")[1]  # fmt: skip


def test_v4_root_key_names_the_machine() -> None:
    """XState v4: a root `key` without an `id` is the machine's id (StateNode: key =
    config.key || config.id); a key elsewhere, or beside another id, stays refused."""
    c = chart("initial: a\nkey: light\npredictableActionArguments: true\nstates: {a: {}}")
    assert c.id == "light" and "light.a" in c.nodes
    assert "'key'" in one("initial: a\nkey: x\nid: y\npredictableActionArguments: true\n"
                          "states: {a: {}}")[1]  # fmt: skip
    assert "'key'" in one("initial: a\npredictableActionArguments: true\nstates: {a: {key: b}}")[1]
