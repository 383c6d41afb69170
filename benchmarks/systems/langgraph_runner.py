"""The weather dialog as a LangGraph app, checkpointed to SQLite.

Built the way LangGraph apps are: a ``StateGraph`` whose state keeps the conversation as a
``messages`` list with the ``add_messages`` reducer (each turn appends the user's message and
the reply), a pending-slot flag and the last city; nodes ``understand -> (lookup) -> respond``
with a conditional edge; compiled with ``AsyncSqliteSaver`` (the async ``SqliteSaver``), one
``thread_id`` per session. A turn is one ``ainvoke`` with the user's message; the checkpointer
loads the thread's latest checkpoint and writes one per super-step (input, each node), as
LangGraph does with its default durability.

Run: ``python -m benchmarks.systems.langgraph_runner --workload W1``.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from benchmarks.peers.common import Intent, Understanding, needs_lookup, respond, understand
from benchmarks.systems.harness import main
from benchmarks.workload import Forecast, lookup_weather

__all__ = ["LangGraphDriver", "WeatherState", "build_graph"]


class WeatherState(TypedDict, total=False):
    """The graph state LangGraph checkpoints after every step."""

    messages: Annotated[list[AnyMessage], add_messages]  # the whole conversation
    awaiting_city: bool  # the weather intent came without a city
    last_city: str | None
    intent: str  # this turn's understanding, written by ``understand``
    city: str | None
    forecast: str | None  # this turn's lookup, written by ``lookup``
    temperature: int | None


def _understand(state: WeatherState) -> dict[str, Any]:
    """Node: recognize the intent and city of the last (user) message."""
    text = str(state["messages"][-1].content)
    heard = understand(text, awaiting_city=state.get("awaiting_city", False))
    return {"intent": heard.intent.value, "city": heard.city, "forecast": None, "temperature": None}


def _route(state: WeatherState) -> Literal["lookup", "respond"]:
    """Edge: look the weather up only when a city was named."""
    if needs_lookup(Understanding(Intent(state["intent"]), state.get("city"))):
        return "lookup"
    return "respond"


def _lookup(state: WeatherState) -> dict[str, Any]:
    """Node: the weather command, answered from the local table."""
    found = lookup_weather(str(state["city"]))
    return {"forecast": found.forecast, "temperature": found.temperature}


def _respond(state: WeatherState) -> dict[str, Any]:
    """Node: the reply, appended to the conversation, and the dialog memory."""
    forecast = state.get("forecast")
    temperature = state.get("temperature")
    outcome = respond(
        Understanding(Intent(state["intent"]), state.get("city")),
        Forecast(forecast, temperature) if forecast and temperature is not None else None,
        awaiting_city=state.get("awaiting_city", False),
        last_city=state.get("last_city"),
    )
    return {
        "messages": [AIMessage(content=outcome.reply)],
        "awaiting_city": outcome.awaiting_city,
        "last_city": outcome.last_city,
    }


def build_graph() -> StateGraph[WeatherState]:
    """The uncompiled weather graph."""
    graph = StateGraph(WeatherState)
    graph.add_node("understand", _understand)
    graph.add_node("lookup", _lookup)
    graph.add_node("respond", _respond)
    graph.add_edge(START, "understand")
    graph.add_conditional_edges("understand", _route, ["lookup", "respond"])
    graph.add_edge("lookup", "respond")
    graph.add_edge("respond", END)
    return graph


class LangGraphDriver:
    """Plays the weather dialog on the compiled graph, one thread per session."""

    name = "langgraph"

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._app: CompiledStateGraph[Any] | None = None

    async def open(self, directory: Path) -> None:
        """Open the SQLite checkpointer in ``directory`` and compile the graph with it."""
        saver = await self._stack.enter_async_context(
            AsyncSqliteSaver.from_conn_string(str(directory / "checkpoints.db"))
        )
        await saver.setup()
        self._app = build_graph().compile(checkpointer=saver)

    async def create(self, session_id: str) -> None:
        """Nothing to do: a thread starts with its first checkpoint."""

    async def turn(self, session_id: str, text: str) -> str:
        """One ``ainvoke`` with the user's message; the reply is the last message."""
        assert self._app is not None, "open() first"
        result = await self._app.ainvoke(
            {"messages": [HumanMessage(content=text)]},
            {"configurable": {"thread_id": session_id}},
        )
        return str(result["messages"][-1].content)

    async def close(self) -> None:
        """Close the checkpointer's connection."""
        await self._stack.aclose()

    def store(self) -> str:
        """The checkpointer and its SQLite settings."""
        return "AsyncSqliteSaver WAL sync=full"

    def version(self) -> str:
        """Installed langgraph and checkpointer versions."""
        return f"langgraph {version('langgraph')}, sqlite {version('langgraph-checkpoint-sqlite')}"


if __name__ == "__main__":
    main(LangGraphDriver)
