"""The import path of :class:`~dialoghub.agent.Runner` before 0.2: kept so code written
against the README of 0.1 keeps working. New code imports from :mod:`dialoghub.agent`."""

from __future__ import annotations

from dialoghub.agent.runner import CommandFunction, Runner, call_plugin, load_plugins

__all__ = ["CommandFunction", "Runner", "call_plugin", "load_plugins"]
