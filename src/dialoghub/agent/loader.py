"""Loading an agent definition: ``dialoghub serve --agent examples/agent/rules.py``.

An agent module (a ``.py`` path or a dotted module name) defines ``PLANNER`` (anything with
``async run(turn) -> str``) and ``PLUGINS`` (a :class:`~dialoghub.agent.plugins.Plugins` or a
mapping of names to functions); either may be left out. Loading runs the module's code, so
only modules the operator names are loaded, never anything from the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialoghub.agent.imports import import_spec
from dialoghub.agent.plugins import Plugins
from dialoghub.errors import InvalidInput

__all__ = ["AgentDefinition", "load_agent"]


class AgentDefinition:
    """What an agent module defines: its planner and its plugins."""

    def __init__(self, planner: Any = None, plugins: Plugins | None = None) -> None:
        self.planner = planner
        self.plugins = plugins if plugins is not None else Plugins()


def load_agent(spec: str) -> AgentDefinition:
    """Import the agent module ``spec``; InvalidInput if it cannot be loaded."""
    module = import_spec(spec, "agent")
    planner = getattr(module, "PLANNER", None)
    if planner is not None and not callable(getattr(planner, "run", None)):
        raise InvalidInput(f"PLANNER in {spec!r} has no run(turn) method")
    plugins = getattr(module, "PLUGINS", None)
    if plugins is not None and not isinstance(plugins, Plugins):
        if not isinstance(plugins, Mapping):
            raise InvalidInput(f"PLUGINS in {spec!r} must be a Plugins or a mapping")
        plugins = Plugins(plugins)
    return AgentDefinition(planner, plugins)
