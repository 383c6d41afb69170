"""Plugins: named functions a round calls, each given a :class:`PluginContext`.

A plugin is a sync or async callable registered by name (:meth:`Plugins.add`, the
:meth:`Plugins.register` decorator) or taken from a module (:meth:`Plugins.from_module`, the
module's ``COMMANDS`` mapping or its public functions, as :func:`~dialoghub.agent.runner.
load_plugins` reads them). A plugin whose first parameter is named ``ctx`` receives the
context; its other parameters are the call's arguments (their annotations make the JSON
Schema an LLM planner is shown). A sync plugin runs in a worker thread, so a slow one never
stalls the other sessions; its context calls are thread-safe.

The context is the plugin's window on its session: ids, the session's variables (a change is
recorded on the session with the plugin's post, so the next round sees it and no other
session ever does), the workspace folder, a logger, status lines and message chunks streamed
live to the round's handler, and artifacts attached to the post.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from dialoghub.agent.rounds import Attachment
from dialoghub.errors import InvalidInput, PluginFailed

__all__ = ["Plugin", "PluginContext", "Plugins"]

_JSON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}
_TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


class PluginContext:
    """What a plugin may see and do of its session during one call.

    ``emit`` is the round's thread-safe way to stream events; ``variables`` is the round's
    working copy of the session's variables (changes are kept in ``changed`` and stored with
    the post)."""

    def __init__(
        self,
        *,
        session_id: str,
        tenant: str,
        plugin: str,
        variables: dict[str, Any],
        workspace: Path | None,
        emit: Callable[[str, str, dict[str, Any]], None],
        write_file: Callable[[str, bytes], str] | None = None,
    ) -> None:
        self.session_id = session_id
        self.tenant = tenant
        self.plugin = plugin
        self.workspace = workspace
        self.logger = logging.getLogger(f"dialoghub.agent.plugin.{plugin}")
        self._variables = variables
        self.changed: dict[str, Any] = {}
        self.attachments: list[Attachment] = []
        self.message_parts: list[str] = []
        self._emit = emit
        self._write_file = write_file

    def get_session_var(self, name: str, default: Any = None) -> Any:
        """The session variable ``name`` (as this round sees it), or ``default``."""
        return self._variables.get(name, default)

    def set_session_var(self, name: str, value: Any) -> None:
        """Set a session variable: seen by the rest of this round at once, stored with this
        plugin's post, seen by the next rounds of this session only."""
        if not isinstance(name, str) or not name or "." in name:
            raise InvalidInput(f"{name!r} is not a variable name (no dots, not empty)")
        try:
            msgspec.msgpack.encode(value)
        except (TypeError, OverflowError) as exc:
            raise InvalidInput(f"session variable {name!r} cannot be stored: {exc}") from None
        self._variables[name] = value
        self.changed[name] = value
        self._emit("session_variable", "", {"name": name, "value": value})

    def status(self, text: str) -> None:
        """Stream a progress line to the round's handler (not stored)."""
        self._emit("post_status", str(text), {})

    def stream(self, chunk: str) -> None:
        """Stream a chunk of this plugin's message (delivered live; the whole message is
        stored once, with the post)."""
        chunk = str(chunk)
        self.message_parts.append(chunk)
        self._emit("post_message", chunk, {})

    def attach(self, type: str, content: Any = None, *, name: str = "") -> Attachment:
        """Attach an artifact to this plugin's post: ``type`` "text" or "json" with its
        ``content``."""
        att = Attachment(type=type, name=name, content=content)
        self.attachments.append(att)
        self._emit("post_attachment", "", {"attachment": msgspec.to_builtins(att)})
        return att

    def attach_file(self, name: str, data: bytes | str) -> Attachment:
        """Write ``data`` into the session's workspace as ``name`` and attach it."""
        if self._write_file is None:
            raise InvalidInput("this agent has no workspace; give AgentApp(workspace=DIR)")
        path = self._write_file(name, data.encode() if isinstance(data, str) else data)
        att = Attachment(type="file", name=Path(path).name, path=path)
        self.attachments.append(att)
        self._emit("post_attachment", "", {"attachment": msgspec.to_builtins(att)})
        return att


class Plugin:
    """One registered plugin: its function, whether it takes the context, its schema."""

    def __init__(self, name: str, fn: Callable[..., Any], description: str = "") -> None:
        if not name or not isinstance(name, str):
            raise InvalidInput(f"a plugin needs a name, not {name!r}")
        self.name = name
        self.fn = fn
        self.description = description or (inspect.getdoc(fn) or "").split("\n\n")[0]
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        params = list(sig.parameters.values()) if sig is not None else []
        self.takes_context = bool(params) and params[0].name == "ctx"
        self.is_async = inspect.iscoroutinefunction(fn) or (
            not inspect.isroutine(fn) and inspect.iscoroutinefunction(type(fn).__call__)
        )
        self.parameters = self._schema(params[1:] if self.takes_context else params)

    @staticmethod
    def _schema(params: list[inspect.Parameter]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required: list[str] = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            ann = p.annotation
            kind = _JSON_TYPES.get(ann) if isinstance(ann, type) else None
            if kind is None and isinstance(ann, str):
                kind = _TYPE_NAMES.get(ann.split("|")[0].strip())
            props[p.name] = {"type": kind or "string"}
            if p.default is p.empty:
                required.append(p.name)
        return {"type": "object", "properties": props, "required": required}

    def tool(self) -> dict[str, Any]:
        """The plugin as an OpenAI chat-completions tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class Plugins:
    """The plugins a round may call, by name."""

    def __init__(self, plugins: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._plugins: dict[str, Plugin] = {}
        for name, fn in (plugins or {}).items():
            self.add(name, fn)

    def add(self, name: str, fn: Callable[..., Any], *, description: str = "") -> Plugin:
        """Register ``fn`` as plugin ``name`` (replacing one of that name)."""
        if not callable(fn):
            raise InvalidInput(f"plugin {name!r} is not callable")
        plugin = Plugin(name, fn, description)
        self._plugins[name] = plugin
        return plugin

    def register(
        self, name: str | None = None, *, description: str = ""
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@plugins.register()`` registers a function under its own name."""

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(name or fn.__name__, fn, description=description)
            return fn

        return wrap

    @classmethod
    def from_module(cls, spec: str) -> Plugins:
        """The plugins of a module (dotted name or ``.py`` path)."""
        from dialoghub.agent.runner import load_plugins

        return cls(load_plugins(spec))

    def get(self, name: str) -> Plugin:
        """Plugin ``name``; PluginFailed if there is none."""
        try:
            return self._plugins[name]
        except KeyError:
            raise PluginFailed(
                f"no plugin {name!r}; plugins: {', '.join(sorted(self))}", plugin=name
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._plugins

    def __iter__(self) -> Any:
        return iter(self._plugins)

    def __len__(self) -> int:
        return len(self._plugins)

    def tools(self) -> list[dict[str, Any]]:
        """Every plugin as an OpenAI chat-completions tool."""
        return [p.tool() for p in self._plugins.values()]
