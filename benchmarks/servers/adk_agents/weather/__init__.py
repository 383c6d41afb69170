"""The ``weather`` app of ``adk api_server``: see :mod:`.agent`."""

from . import agent

__all__ = ["agent"]
