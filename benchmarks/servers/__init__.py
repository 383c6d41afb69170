"""The peers' own HTTP servers, serving the weather dialog for ``python -m benchmarks.http``.

- :mod:`benchmarks.servers.adk_agents`: the agents directory ``adk api_server`` is started on
  (one app, ``weather``, whose root agent is a custom ``BaseAgent``: no LLM);
- :mod:`benchmarks.servers.langgraph_graph`: the weather graph as ``langgraph dev`` loads it;
- :mod:`benchmarks.servers.langgraph_fastapi`: the same graph behind FastAPI with its SQLite
  checkpointer, as LangGraph's docs show for serving a graph yourself.
"""
