"""The weather graph as LangGraph's API server loads it (``langgraph.json`` names ``graph``).

The graph is the one :mod:`benchmarks.systems.langgraph_runner` plays in process, compiled
without a checkpointer: the server brings its own (``langgraph dev``: the in-memory runtime).
"""

from __future__ import annotations

from benchmarks.systems.langgraph_runner import build_graph

__all__ = ["graph"]

graph = build_graph().compile()
