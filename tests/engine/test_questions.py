"""Questions in the middle of code (``ask``/``listen`` steps) and prompt timeouts: what the
answer records, where the code goes on, and the boundaries of the re-prompts."""

from __future__ import annotations

from dialoghub.engine.records import EndAction, Timeout, WaitForUser
from tests.engine.test_branches import Talk

STORY = """
id: story
entities:
  drink: [tea, coffee]
  size: [small, large]
intents:
  order: ["a {size} {drink} please", "{drink}", "a {drink}"]
  nothing: [nothing]
init:
  - say: Welcome!
main:
  - ask: What would you like?
  - if: intent == "order"
    then: [{say: "One {drink}."}]
    else: [{say: "Sorry?"}]
"""


def test_an_ask_step_records_the_intent_and_slots_and_goes_on() -> None:
    t = Talk(STORY)
    assert t.replies == ["Welcome!", "What would you like?"]
    assert t.session.awaiting is not None
    assert t.session.awaiting["listen"] == {"block": ["do"], "pc": 1}
    assert t.actions[-1] == WaitForUser(immediate=True)
    assert t.send("a large tea please") == ["One tea.", "What would you like?"]
    (rec,) = t.data("intent_recognized")
    assert rec["intent"] == "order" and 0.5 < rec["confidence"] <= 1
    assert t.data("variable_set")[0] == {"name": "intent", "value": "order"}
    assert sorted((d["name"], d["value"]) for d in t.data("slot_filled")) == [
        ("drink", "tea"),
        ("size", "large"),
    ]


def test_an_unrecognized_answer_sets_intent_to_none_and_no_slots() -> None:
    t = Talk(STORY)
    assert t.send("xyzzy plugh") == ["Sorry?", "What would you like?"]
    assert t.data("variable_set")[0] == {"name": "intent", "value": None}
    assert t.data("slot_filled") == []
    assert t.var["intent"] is None


TIMED = """
id: timed
intents:
  ready: [ready]
states:
  start:
    ask:
      prompt: ["Ready?", "Are you ready?", "Last call: ready?"]
      timeout: 10
      retries: 2
      then: gone
    on: {ready: go}
  go: {say: Go!, final: true}
  gone: {say: Nobody there., final: true}
"""


def test_a_prompt_times_out_retries_times_then_goes_to_then() -> None:
    t = Talk(TIMED)
    aw = t.session.awaiting
    assert aw is not None
    assert (aw["timeout"], aw["retries"], aw["then"], aw["due_at"]) == (10, 2, "gone", t.now + 10)
    assert t.session.due_at == t.now + 10
    assert t.send(Timeout()) == ["Are you ready?"]
    assert t.session.due_at == t.now + 10  # the new wait is due from now
    assert t.data("timeout_fired") == [{"name": "prompt", "count": 1}]
    assert t.send(Timeout()) == ["Last call: ready?"]  # retry 2 of 2
    assert t.data("timeout_fired") == [{"name": "prompt", "count": 2}]
    assert t.send(Timeout()) == ["Nobody there."]
    assert t.actions[-1] == EndAction(reason="reached final state 'gone'")


def test_an_answer_resets_the_timeout_count() -> None:
    t = Talk(TIMED.replace("on: {ready: go}", "on: {ready: go}\n    no_match: Hm?"))
    t.send(Timeout())
    assert t.session.counters == {"prompt": 1}
    assert t.send("blah") == ["Hm?"]
    assert t.session.counters == {}
    assert t.send(Timeout()) == ["Are you ready?"]  # counting starts again
    assert t.data("timeout_fired") == [{"name": "prompt", "count": 1}]


def test_a_timed_ask_step_in_code() -> None:
    t = Talk("""
id: steps
intents:
  yes: [yes]
states:
  start:
    do:
      - ask: ["Sure?", "Really sure?"]
        timeout: 5
        retries: 1
      - say: "Heard {intent}."
    final: true
""")
    assert t.replies == ["Sure?"]
    assert t.send(Timeout()) == ["Really sure?"]
    assert t.send(Timeout()) == []
    assert t.actions == (EndAction(reason="no answer"),)


def test_an_ask_step_answered_goes_on_after_it() -> None:
    t = Talk("""
id: steps
intents:
  yes: [yes]
states:
  start:
    do:
      - ask: ["Sure?", "Really sure?"]
        timeout: 5
        retries: 1
      - say: "Heard {intent}."
    final: true
""")
    t.send(Timeout())
    assert t.send("yes") == ["Heard yes."]
    assert t.actions[-1] == EndAction(reason="reached final state 'start'")
