"""``restart_on_request``: text for an ended dialog starts it again, variables kept (NaifJs'
``request(user, text)``), through the Hub on every store kind the JSON layout uses too."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialoghub import Hub
from dialoghub.engine.fold import replay
from dialoghub.engine.records import Status
from dialoghub.errors import ModelValidationError, SessionClosed
from dialoghub.model.loader import load_model_text

MODEL = """
id: counter
restart_on_request: {restart}
intents:
  stop: [stop, that is enough]
no_match: Say stop.
states:
  start:
    do:
      - increment: visits
    ask: "Visit {{visits}}. Say stop."
    on:
      stop: bye
  bye:
    say: "Bye."
    final: true
"""


def model(restart: str = "true") -> object:
    return load_model_text(MODEL.format(restart=restart))


@pytest.mark.parametrize("url", ["memory://", "sqlite:///{tmp}/r.db", "json:///{tmp}/s.json"])
async def test_text_after_the_end_starts_the_dialog_again(url: str, tmp_path: Path) -> None:
    async with Hub(url.format(tmp=tmp_path)) as hub:
        hub.add_model(model())  # type: ignore[arg-type]
        first = await hub.create_session("counter", session_id="giorgio")
        assert first.replies == ["Visit 1. Say stop."]
        ended = await hub.process_text("giorgio", "stop")
        assert ended.session.status is Status.ENDED and ended.replies == ["Bye."]

        again = await hub.process_text("giorgio", "hello again")
        assert again.replies == ["Visit 2. Say stop."]  # the variable survived
        s = again.session
        assert (s.status, s.active, s.state) == (Status.ACTIVE, True, "start")
        assert s.last_request is not None and s.last_request["text"] == "hello again"
        types = [e.type for e in again.events]
        assert types[:2] == ["input_received", "session_restarted"]
        history = await hub.events("giorgio", limit=1000)
        assert replay(history) == s  # the restart is an event like any other


async def test_without_the_option_an_ended_dialog_refuses_text() -> None:
    async with Hub("memory://") as hub:
        hub.add_model(model("false"))  # type: ignore[arg-type]
        await hub.create_session("counter", session_id="u")
        await hub.process_text("u", "stop")
        with pytest.raises(SessionClosed):
            await hub.process_text("u", "hello")
        assert (await hub.get_session("u")).status is Status.ENDED


def test_the_option_is_a_boolean() -> None:
    with pytest.raises(ModelValidationError, match="restart_on_request must be true or false"):
        load_model_text(MODEL.format(restart='"sometimes"'))
