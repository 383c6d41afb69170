"""The agent side of a session: what answers the commands a model asks for.

:class:`Runner` (:mod:`dialoghub.agent.runner`) drives sessions through the Hub and answers
each ``command`` action with a plugin function or a webhook
(:mod:`dialoghub.agent.webhook`); the agent rounds of the fifth reference design grow here.
"""

from __future__ import annotations

from dialoghub.agent.runner import Runner, call_plugin, load_plugins
from dialoghub.agent.webhook import WebhookClient

__all__ = ["Runner", "WebhookClient", "call_plugin", "load_plugins"]
