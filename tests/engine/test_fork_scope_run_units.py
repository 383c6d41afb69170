"""Unit tests of engine/fork.py (a fork's snapshot and first event) and engine/scope.py (how
a name finds its value in a session), read back exactly."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from dialoghub.engine.fold import replay
from dialoghub.engine.fork import fork
from dialoghub.engine.records import Event, Session, SetVariables, Status, Text
from dialoghub.engine.scope import evaluate_value, lookup, lookup_in
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.templates import Template

T0 = 1_700_000_000.0

MODEL = """
id: forky
intents:
  bye: [bye, goodbye]
states:
  ask:
    ask: "Your name?"
    on: {bye: done}
  done: {say: "Bye.", final: true}
"""


def _session(**kw: Any) -> Session:
    base: dict[str, Any] = {
        "id": "s",
        "model_id": "m",
        "model_version": "1",
        "unit": "main",
        "state": "a",
    }
    return Session(**{**base, **kw})


# --- fork -----------------------------------------------------------------------------------


def _source() -> Session:
    model = load_model_text(MODEL)
    r = start(model, "src", now=T0, metadata={"who": "ann"}, lifetime={"absolute": 100.0})
    r = step(model, r.session, SetVariables(variables={"n": 7}), T0 + 5)
    return r.session


def test_fork_event_carries_the_source_and_its_snapshot() -> None:
    source = _source()
    assert source.version == 2 and source.seq > 2
    snapshot, event = fork(source, "copy", now=T0 + 50)
    assert event == Event(
        seq=1,
        version=1,
        time=T0 + 50,
        type="session_forked",
        data={
            "id": "copy",
            "source": {"id": "src", "seq": source.seq, "version": 2},
            "snapshot": msgspec.to_builtins(source),
        },
    )
    assert replay([event]) == snapshot  # the fork's own log folds into it


def test_fork_snapshot_is_the_source_under_a_new_id_and_history() -> None:
    source = _source()
    before = msgspec.to_builtins(source)
    snapshot, _ = fork(source, "copy", now=T0 + 50)
    assert (snapshot.id, snapshot.seq, snapshot.version) == ("copy", 1, 1)
    assert (snapshot.created_at, snapshot.updated_at) == (T0 + 50, T0 + 50)
    assert snapshot.expires_at == T0 + 150  # the absolute lifetime counts from the fork
    assert (snapshot.unit, snapshot.state) == (source.unit, source.state)
    assert snapshot.variables == {"main": {"n": 7}}
    assert snapshot.metadata == {"who": "ann"}
    assert snapshot.awaiting == source.awaiting and snapshot.awaiting is not None
    assert snapshot.status is Status.ACTIVE
    assert msgspec.to_builtins(source) == before  # the source is left as it was
    assert source.id == "src"


def test_a_fork_runs_on_by_itself() -> None:
    model = load_model_text(MODEL)
    source = _source()
    snapshot, _ = fork(source, "copy", now=T0 + 50)
    r = step(model, snapshot, Text(text="bye"), T0 + 51)
    assert r.session.ended and r.session.id == "copy"
    assert r.events[0].seq == 2
    assert not source.ended


# --- scope ----------------------------------------------------------------------------------


def test_lookup_a_plain_name_reads_the_current_unit() -> None:
    s = _session(variables={"main": {"city": "Paris", "zero": 0}, "other": {"city": "Rome"}})
    assert lookup(s, "city") == "Paris"
    assert lookup(s, "zero") == 0
    assert lookup(s, "missing") is None
    assert lookup(_session(unit="nowhere", variables={"main": {"city": "x"}}), "city") is None


def test_lookup_params_and_metadata_dig_into_dicts() -> None:
    s = _session(
        params={"x": 1, "deep": {"a": {"b": "B"}}, "flat": 5},
        metadata={"user": {"name": "ann"}, "x": "meta"},
        variables={"main": {"params": {"x": "local"}}},
    )
    assert lookup(s, "params.x") == 1  # params wins over a local dict variable of that name
    assert lookup(s, "params.deep.a.b") == "B"
    assert lookup(s, "params.deep.a") == {"b": "B"}
    assert lookup(s, "params.flat.more") is None  # 5 is no dict: nothing below it
    assert lookup(s, "params.nothing") is None
    assert lookup(s, "params.nothing.more") is None
    assert lookup(s, "metadata.user.name") == "ann"
    assert lookup(s, "metadata.x") == "meta"
    assert lookup(s, "metadata.nothing") is None


def test_lookup_a_local_dict_variable_wins_over_a_unit_of_that_name() -> None:
    s = _session(
        variables={
            "main": {"address": {"street": "A st"}, "name": "plain"},
            "address": {"street": "B st"},
            "name": {"first": "Ann"},
        }
    )
    assert lookup(s, "address.street") == "A st"
    assert lookup(s, "address.nothing") is None  # the local dict answers, even with None
    # a local variable that is no dict does not hide the unit of that name
    assert lookup(s, "name.first") == "Ann"
    assert lookup(s, "name.last") is None
    assert lookup(s, "nounit.street") is None


def test_lookup_another_units_variable_and_deeper() -> None:
    s = _session(variables={"main": {}, "profile": {"home": {"city": "Oslo"}, "n": 3}})
    assert lookup(s, "profile.n") == 3
    assert lookup(s, "profile.home.city") == "Oslo"
    assert lookup(s, "profile.n.more") is None


def test_lookup_in_binds_the_session() -> None:
    s = _session(variables={"main": {"a": 1}}, params={"p": 2})
    get = lookup_in(s)
    assert get("a") == 1
    assert get("params.p") == 2
    assert get("b") is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{n}", 42),  # exactly one placeholder keeps the type
        ("{items}", [1, 2]),
        ("{missing}", None),
        ("n={n}", "n=42"),
        ("{n}!", "42!"),
        ("{n}{n}", "4242"),
        ("plain", "plain"),
        ("{a.b}", "deep"),
    ],
)
def test_evaluate_value_renders_templates(source: str, expected: Any) -> None:
    s = _session(variables={"main": {"n": 42, "items": [1, 2], "a": {"b": "deep"}}})
    assert evaluate_value(Template.parse(source), s) == expected


def test_evaluate_value_keeps_literals() -> None:
    s = _session(variables={"main": {"n": 42}})
    for literal in (5, "{n}", None, [1], {"k": "v"}):
        assert evaluate_value(literal, s) == literal
