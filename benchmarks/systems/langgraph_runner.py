"""The weather dialog as a LangGraph app, checkpointed to SQLite, in each durable configuration.

Built the way LangGraph apps are: a ``StateGraph`` whose state keeps the conversation as a
``messages`` list with the ``add_messages`` reducer (each turn appends the user's message and
the reply), a pending-slot flag and the last city; nodes ``understand -> (lookup) -> respond``
with a conditional edge; one ``thread_id`` per session. A turn is one invoke with the user's
message: the checkpointer loads the thread's latest checkpoint, and writes checkpoints as the
``durability`` mode says.

The two documented SQLite checkpointers (``--saver``):

- ``async``: ``AsyncSqliteSaver`` (aiosqlite, one connection), a turn is ``await ainvoke``;
- ``sync``: ``SqliteSaver`` (sqlite3, one connection behind a lock). It has no async methods,
  so a turn is a plain ``invoke`` called on the event loop's thread: one turn runs at a time,
  as in a synchronous application (W1's latencies then hold no waiting behind other sessions).

The three durability modes (``--durability``, LangGraph's ``Durability``; the default is
``async``):

- ``sync``: each super-step's checkpoint is written before the next step starts;
- ``async``: it is written while the next step runs; the invoke returns only once every
  write is done (the loop's background executor is awaited on exit);
- ``exit``: only the final checkpoint (and pending writes) is written, when the invoke exits.

Every mode is durable per turn: when the invoke returns, the turn's state is committed. Both
savers put the file in WAL mode (``PRAGMA journal_mode=WAL`` in ``setup``) and leave
``synchronous`` at SQLite's default, FULL, so every commit fsyncs the WAL; every checkpoint
and every batch of pending writes is its own commit.

Run: ``python -m benchmarks.systems.langgraph_runner --workload W1 [--saver sync|async]
[--durability sync|async|exit]``.
"""

from __future__ import annotations

import argparse
import contextlib
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability

from benchmarks.peers.common import Intent, Understanding, needs_lookup, respond, understand
from benchmarks.systems.harness import main
from benchmarks.workload import Forecast, lookup_weather

__all__ = ["DURABILITIES", "SAVERS", "LangGraphDriver", "WeatherState", "build_graph"]

#: ``--saver`` values: the checkpointer class each names.
SAVERS = {"sync": "SqliteSaver", "async": "AsyncSqliteSaver"}
#: ``--durability`` values, LangGraph's ``Durability`` literals.
DURABILITIES: tuple[Durability, ...] = ("sync", "async", "exit")


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

    def __init__(self, saver: str = "async", durability: Durability = "async") -> None:
        if saver not in SAVERS or durability not in DURABILITIES:
            raise ValueError(f"unknown saver {saver!r} or durability {durability!r}")
        self._saver = saver
        self._durability: Durability = durability
        self._stack = contextlib.AsyncExitStack()
        self._app: CompiledStateGraph[Any] | None = None

    async def open(self, directory: Path) -> None:
        """Open the SQLite checkpointer in ``directory`` and compile the graph with it."""
        path = str(directory / "checkpoints.db")
        checkpointer: SqliteSaver | AsyncSqliteSaver
        if self._saver == "async":
            checkpointer = await self._stack.enter_async_context(
                AsyncSqliteSaver.from_conn_string(path)
            )
            await checkpointer.setup()
        else:
            checkpointer = self._stack.enter_context(SqliteSaver.from_conn_string(path))
            checkpointer.setup()
        self._app = build_graph().compile(checkpointer=checkpointer)

    async def create(self, session_id: str) -> None:
        """Nothing to do: a thread starts with its first checkpoint."""

    async def turn(self, session_id: str, text: str) -> str:
        """One invoke with the user's message; the reply is the last message."""
        assert self._app is not None, "open() first"
        message = {"messages": [HumanMessage(content=text)]}
        config: Any = {"configurable": {"thread_id": session_id}}
        if self._saver == "async":
            result = await self._app.ainvoke(message, config, durability=self._durability)
        else:  # SqliteSaver has no async methods: a synchronous app's call, on this thread
            result = self._app.invoke(message, config, durability=self._durability)
        return str(result["messages"][-1].content)

    async def close(self) -> None:
        """Close the checkpointer's connection."""
        await self._stack.aclose()

    def store(self) -> str:
        """The checkpointer and its SQLite settings."""
        return f"{SAVERS[self._saver]} WAL sync=full"

    def config(self) -> str:
        """The configuration's name in the table: checkpointer and durability mode."""
        return f"{SAVERS[self._saver]} durability={self._durability}"

    def durability(self) -> str:
        """How a turn is made durable (the journal mode is measured by the harness)."""
        return "sync=FULL, commit per checkpoint"

    def version(self) -> str:
        """Installed langgraph and checkpointer versions."""
        return f"langgraph {version('langgraph')}, sqlite {version('langgraph-checkpoint-sqlite')}"


def _run(argv: list[str] | None = None) -> None:
    """Take ``--saver`` and ``--durability`` off the command line; the harness parses the rest."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--saver", choices=sorted(SAVERS), default="async")
    parser.add_argument("--durability", choices=DURABILITIES, default="async")
    known, rest = parser.parse_known_args(argv)
    main(lambda: LangGraphDriver(known.saver, known.durability), rest)


if __name__ == "__main__":
    _run()
