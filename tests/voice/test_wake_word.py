"""The wake word: a wait that requires it drops an ASR result without it (an event says so)."""

from __future__ import annotations

from dialoghub import Hub
from dialoghub.engine.records import ASR, Text, WaitForUser
from dialoghub.model.loader import load_model_text

MODEL = """
id: wake
version: "1"
wake_word: true
intents:
  greet: [hello, hi there]
states:
  start:
    on: {greet: hi}
  hi:
    say: Hello to you!
    next: start
"""


async def _hub() -> Hub:
    hub = Hub("memory://")
    await hub.__aenter__()
    hub.add_model(load_model_text(MODEL))
    return hub


async def test_an_utterance_without_the_wake_word_is_dropped_and_waited_again() -> None:
    hub = await _hub()
    try:
        v = await hub.create_session("wake", session_id="w1", metadata={"wake_word": "Hey Hub"})
        assert v.actions[-1] == WaitForUser(requires_wake_word=True)
        before = v.session
        v = await hub.update("w1", ASR(text="hello", confidence=0.9))
        assert [e.type for e in v.events] == [
            "input_received",
            "utterance_dropped",
            "action_emitted",
        ]
        assert v.events[1].data == {
            "reason": "no wake word",
            "text": "hello",
            "wake_word": "Hey Hub",
        }
        assert list(v.actions) == [WaitForUser(requires_wake_word=True)]
        assert (v.session.unit, v.session.state) == (before.unit, before.state)
        # the wake word alone is no utterance either
        v = await hub.update("w1", ASR(text="hey hub", confidence=0.9))
        assert v.events[1].type == "utterance_dropped"
        # with it, the rest of the utterance reaches the dialog (case and commas do not matter)
        v = await hub.update("w1", ASR(text="Hey, hub hello", confidence=0.9))
        assert "utterance_dropped" not in [e.type for e in v.events]
        assert [a.text for a in v.actions if hasattr(a, "text")] == ["Hello to you!"]
        # typed text is not an utterance: it needs no wake word
        v = await hub.update("w1", Text(text="hello"))
        assert "utterance_dropped" not in [e.type for e in v.events]
        # replay of the log reproduces the snapshot (the drop is folded like any event)
        events = await hub.events("w1", limit=100)
        from dialoghub.engine.fold import replay

        assert replay(events) == await hub.get_session("w1")
    finally:
        await hub.__aexit__(None, None, None)


async def test_no_wake_word_in_the_metadata_lets_every_utterance_through() -> None:
    hub = await _hub()
    try:
        await hub.create_session("wake", session_id="w2")
        v = await hub.update("w2", ASR(text="hello", confidence=0.9))
        assert [a.text for a in v.actions if hasattr(a, "text")] == ["Hello to you!"]
    finally:
        await hub.__aexit__(None, None, None)
