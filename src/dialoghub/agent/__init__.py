"""The agent face of dialoghub: sessions that take a message and play a round (issue 11).

Where data enters and where it lands: :class:`AgentApp` (:mod:`~dialoghub.agent.app`) gets
or resumes a durable Hub session; ``send_message`` copies the files into the session's
workspace (:mod:`~dialoghub.agent.workspace`), records the round's start on the session,
lets a planner play it (:mod:`~dialoghub.agent.execute`: rules or the session's dialog model
in :mod:`~dialoghub.agent.planners`, an LLM in :mod:`~dialoghub.agent.llm`) with plugins that
see the session through a context (:mod:`~dialoghub.agent.plugins`), streams typed events
(:mod:`~dialoghub.agent.events`) to the handler and to a per-session live log for sockets
and streams (:mod:`~dialoghub.agent.live`), stores each completed post and the end, and
returns the :class:`Round` (:mod:`~dialoghub.agent.rounds`).

:class:`Runner` (:mod:`dialoghub.agent.runner`) is the older one-call-per-message driver that
answers command actions with plugin functions or a webhook (:mod:`dialoghub.agent.webhook`).
"""

from __future__ import annotations

from dialoghub.agent.app import AGENT_MODEL, AgentApp, AgentSession, agent_model
from dialoghub.agent.events import AgentEvent, EventHandler, EventType, Scope
from dialoghub.agent.execute import Planner, Turn
from dialoghub.agent.llm import LLMPlanner
from dialoghub.agent.planners import DialogPlanner, RulePlanner
from dialoghub.agent.plugins import Plugin, PluginContext, Plugins
from dialoghub.agent.rounds import Attachment, Post, Round, RoundStatus
from dialoghub.agent.runner import Runner, call_plugin, load_plugins
from dialoghub.agent.sync import SyncAgentApp, SyncAgentSession
from dialoghub.agent.webhook import WebhookClient
from dialoghub.agent.workspace import Workspace

__all__ = [
    "AGENT_MODEL",
    "AgentApp",
    "AgentEvent",
    "AgentSession",
    "Attachment",
    "DialogPlanner",
    "EventHandler",
    "EventType",
    "LLMPlanner",
    "Planner",
    "Plugin",
    "PluginContext",
    "Plugins",
    "Post",
    "Round",
    "RoundStatus",
    "RulePlanner",
    "Runner",
    "Scope",
    "SyncAgentApp",
    "SyncAgentSession",
    "Turn",
    "WebhookClient",
    "Workspace",
    "agent_model",
    "call_plugin",
    "load_plugins",
]
