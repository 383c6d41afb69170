"""The weather dialog as an ADK agent: a custom ``BaseAgent``, no LLM.

``adk api_server`` loads ``root_agent`` from here and runs it through its ``Runner`` on every
``POST /run``: the runner loads the session from the session service, appends the user's
message as an event, runs the agent, and appends the event the agent yields. The agent does
what :mod:`benchmarks.systems.adk_runner` does per turn: the shared deterministic
understanding (:mod:`benchmarks.peers.common`), the lookup from the local table, one reply
event carrying the dialog memory as ``actions.state_delta``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from google.adk.agents import BaseAgent
from google.adk.agents.invocation_context import InvocationContext
from google.adk.events import Event, EventActions
from google.genai import types

from benchmarks.peers.common import needs_lookup, respond, understand
from benchmarks.workload import lookup_weather

__all__ = ["WeatherAgent", "root_agent"]


class WeatherAgent(BaseAgent):
    """Answers one user message of the weather dialog from the session's state."""

    async def _run_async_impl(self, ctx: InvocationContext) -> AsyncGenerator[Event, None]:
        content = ctx.user_content
        text = "".join(p.text or "" for p in content.parts or ()) if content else ""
        state = ctx.session.state
        awaiting_city = bool(state.get("awaiting_city", False))
        heard = understand(text, awaiting_city=awaiting_city)
        forecast = lookup_weather(str(heard.city)) if needs_lookup(heard) else None
        outcome = respond(
            heard, forecast, awaiting_city=awaiting_city, last_city=state.get("last_city")
        )
        yield Event(
            invocation_id=ctx.invocation_id,
            author=self.name,
            branch=ctx.branch,
            content=types.Content(role="model", parts=[types.Part(text=outcome.reply)]),
            actions=EventActions(
                state_delta={"awaiting_city": outcome.awaiting_city, "last_city": outcome.last_city}
            ),
        )


root_agent = WeatherAgent(name="weather_agent")
