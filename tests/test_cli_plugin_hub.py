"""``serve --plugins``' hub: plugin commands are answered before the answer goes out; the
others still reach the client; a failing plugin is the command's error."""

from __future__ import annotations

import threading
from typing import Any

from dialoghub.agent import load_plugins
from dialoghub.cli.plugin_hub import PluginHub
from dialoghub.engine.records import CommandAction, Reply, Text, WaitForUser

from .conftest import EXAMPLES


async def test_plugins_answer_commands_in_the_update() -> None:
    threads: list[str] = []
    table = load_plugins(str(EXAMPLES / "weather" / "plugins.py"))

    def lookup_weather(**params: Any) -> Any:
        threads.append(threading.current_thread().name)
        return table["lookup_weather"](**params)

    async with PluginHub("memory://", plugins={"lookup_weather": lookup_weather}) as hub:
        hub.load_models(EXAMPLES / "weather")
        await hub.create_session("weather", session_id="s")
        view = await hub.update("s", Text(text="what's the weather in Paris"))
        assert view.replies == ["In Paris it is sunny and 21 degrees."]
        assert isinstance(view.actions[-1], WaitForUser)
        assert [e.type for e in view.events].count("command_result_received") == 1
        assert view.version == (await hub.get_session("s")).version == 3
        assert threads and threads[0] != threading.main_thread().name  # off the event loop
        # a failing plugin is the command's error: the model's on_error branch answers
        view = await hub.update("s", Text(text="what's the weather in Lyon"))
        assert view.replies == ["Sorry, I have no forecast for Lyon."]


async def test_commands_no_plugin_answers_go_to_the_client() -> None:
    async with PluginHub("memory://", plugins={}) as hub:
        hub.load_models(EXAMPLES / "weather")
        await hub.create_session("weather", session_id="s")
        view = await hub.update("s", Text(text="what's the weather in Paris"))
        assert isinstance(view.actions[-1], CommandAction)
        assert not any(isinstance(a, Reply) for a in view.actions)
