"""The weather graph behind FastAPI with LangGraph's SQLite checkpointer.

What LangGraph's docs show for serving a graph yourself: the app's lifespan opens
``AsyncSqliteSaver`` and compiles the graph with it; an endpoint runs one ``ainvoke`` per user
message on the thread named in the path (the checkpointer loads the thread's latest checkpoint
and writes one per super-step, with LangGraph's default durability). The graph is the one
:mod:`benchmarks.systems.langgraph_runner` plays in process.

Run: ``LANGGRAPH_DB=/tmp/x.db uvicorn benchmarks.servers.langgraph_fastapi:app``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from benchmarks.systems.langgraph_runner import build_graph

__all__ = ["app"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the checkpointer on ``$LANGGRAPH_DB`` and compile the graph with it."""
    async with AsyncSqliteSaver.from_conn_string(os.environ["LANGGRAPH_DB"]) as saver:
        await saver.setup()
        app.state.graph = build_graph().compile(checkpointer=saver)
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/threads/{thread_id}/turn")
async def turn(thread_id: str, body: dict[str, str]) -> dict[str, Any]:
    """Run the graph on the thread with the user's message (``{"message": text}``); the reply
    is the last message."""
    result = await app.state.graph.ainvoke(
        {"messages": [HumanMessage(content=body["message"])]},
        {"configurable": {"thread_id": thread_id}},
    )
    return {"reply": str(result["messages"][-1].content)}


@app.get("/health")
async def health() -> dict[str, str]:
    """The trivial endpoint: the framework's ceiling."""
    return {"status": "ok"}
