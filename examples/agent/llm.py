"""The same two plugins, planned by an LLM behind an OpenAI-compatible chat-completions
endpoint (tool calls mapped to the plugins, the answer streamed to the user).

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_MODEL=qwen2.5 \\
        dialoghub serve --agent examples/agent/llm.py --workspace .dialoghub/workspace

Any server speaking the protocol works (llama.cpp's server, vLLM, Ollama's /v1, OpenAI);
``OPENAI_API_KEY`` is sent as a bearer token when set.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from dialoghub.agent import LLMPlanner

_spec = importlib.util.spec_from_file_location("agent_rules", Path(__file__).with_name("rules.py"))
assert _spec is not None and _spec.loader is not None
_rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rules)

PLUGINS = _rules.PLUGINS
PLANNER = LLMPlanner(
    os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
    model=os.environ.get("OPENAI_MODEL", "default"),
    api_key=os.environ.get("OPENAI_API_KEY") or None,
    system="You answer questions about the weather and summarize the CSV files the user "
    "sends, using the tools. Give file paths exactly as listed.",
)
