"""dialoghub: a durable, auditable session engine for conversational systems.

The public API is what this module exports; everything else is internal.
"""

from __future__ import annotations

from dialoghub import errors
from dialoghub.engine.records import (
    ASR,
    Action,
    CommandAction,
    CommandResult,
    End,
    EndAction,
    Event,
    EventInput,
    Input,
    Jump,
    Reply,
    Session,
    SetVariables,
    Status,
    Text,
    Timeout,
    Transcribe,
    WaitForUser,
)
from dialoghub.hub import Hub, SessionView, SyncHub
from dialoghub.model.loader import load_model, load_models
from dialoghub.model.spec import Model
from dialoghub.stores import Page, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "ASR",
    "Action",
    "CommandAction",
    "CommandResult",
    "End",
    "EndAction",
    "Event",
    "EventInput",
    "Hub",
    "Input",
    "Jump",
    "Model",
    "Page",
    "Reply",
    "Session",
    "SessionView",
    "SetVariables",
    "Status",
    "Store",
    "SyncHub",
    "Text",
    "Timeout",
    "Transcribe",
    "WaitForUser",
    "__version__",
    "errors",
    "load_model",
    "load_models",
    "open_store",
]
