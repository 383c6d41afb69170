"""``Hub.watch``: a watcher sees every stored update, from whoever made it, and cannot fail it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dialoghub.engine.records import Text
from dialoghub.errors import VersionConflict
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView

WEATHER = Path(__file__).resolve().parents[1] / "examples" / "weather"


async def test_a_watcher_sees_creates_and_updates_until_unwatched() -> None:
    seen: list[tuple[str, int]] = []
    hub = Hub("memory://")
    hub.load_models(WEATHER)
    async with hub:
        unwatch = hub.watch(lambda v: seen.append((v.session.id, v.session.version)))
        await hub.create_session("weather", session_id="w1")
        view = await hub.update("w1", Text(text="hello"))
        assert seen == [("w1", 1), ("w1", view.session.version)]
        unwatch()
        unwatch()  # twice is harmless
        await hub.update("w1", Text(text="hello"))
        assert len(seen) == 2


async def test_a_refused_update_is_not_watched() -> None:
    seen: list[SessionView] = []
    hub = Hub("memory://")
    hub.load_models(WEATHER)
    async with hub:
        hub.watch(seen.append)
        await hub.create_session("weather", session_id="w2")
        with pytest.raises(VersionConflict):
            await hub.update("w2", Text(text="hello"), expected_version=99)
        assert [v.session.version for v in seen] == [1]


async def test_a_raising_watcher_is_logged_and_the_update_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(view: SessionView) -> None:
        raise RuntimeError("watcher bug")

    hub = Hub("memory://")
    hub.load_models(WEATHER)
    async with hub:
        hub.watch(broken)
        with caplog.at_level(logging.ERROR, logger="dialoghub.hub"):
            view = await hub.create_session("weather", session_id="w3")
        assert view.session.version == 1
        assert (await hub.get_session("w3")).version == 1
        assert "a watcher failed on session 'w3'" in caplog.text
