"""The Python library of routed clients: command providers, user interfaces, observers.

``RoutedClient`` holds one ``/v1/clients/ws`` connection (several sessions on it, see
:mod:`dialoghub.routing.frames`): it says hello with a name, a role and the commands it
offers, runs each command the server sends on a task of its own and answers it, and hands
every other update to :meth:`RoutedClient.updates`. A handler written for it sends new
messages without naming a session: they belong to the session of the command it is serving,
read from :data:`current_session`, a context variable (never a global), which an ``await``
keeps and a task the handler starts inherits (asyncio copies the context into it).

If the connection breaks, the client reconnects (to the next of its URLs: another server
process) with the last mailbox number it saw, and the server sends what it missed. A
command whose key it already answered is answered again from its record, never run twice.

Imports no server library and no Hub: ``websockets`` and msgspec only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from dialoghub.errors import APIError
from dialoghub.routing.frames import LockSpec

__all__ = ["Call", "LockSpec", "RoutedClient", "current_session"]

log = logging.getLogger("dialoghub.provider")

#: The session the running handler serves (None outside a handler).
current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dialoghub_session", default=None
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode
#: How many answered command keys a client remembers (to answer a redelivery again).
REMEMBERED = 10_000


class Call(msgspec.Struct, kw_only=True, frozen=True):
    """One command to run: for ``session_id``, answer under ``key``."""

    key: str
    session_id: str
    command: str
    params: dict[str, Any]
    deadline: float


Handler = Callable[[Call], Awaitable[dict[str, Any] | None]]


class RoutedClient:
    """A client of ``/v1/clients/ws`` (see the module docstring).

    ``urls`` are WebSocket URLs of server processes (``ws://host:port/v1/clients/ws``),
    tried in turn; ``handlers`` map command names to ``async def handler(call) ->
    outputs``; a handler that raises answers the command with its error text.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        name: str,
        role: str = "provider",
        api_key: str | None = None,
        handlers: dict[str, Handler] | None = None,
        concurrency: int = 8,
        session_id: str | None = None,
        lock: LockSpec | None = None,
        reconnect: bool = True,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.name = name
        self.role = role
        self.api_key = api_key
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.concurrency = concurrency
        self.session_id = session_id
        self.lock = lock
        self.reconnect = reconnect
        self.last_seq = 0
        self._ahead: set[int] = set()
        #: the server process this client is connected to (from its welcome)
        self.process = ""
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._answered: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._updates_seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._url_index = 0
        self._closed = False
        self._connected = asyncio.Event()

    def command(self, name: str) -> Callable[[Handler], Handler]:
        """Register a handler for command ``name`` (a decorator)."""

        def register(fn: Handler) -> Handler:
            self.handlers[name] = fn
            return fn

        return register

    # --- connection -----------------------------------------------------------------------

    async def connect(self) -> RoutedClient:
        """Connect and say hello; returns once welcomed."""
        await self._open()
        self._reader = asyncio.create_task(self._read_loop())
        return self

    async def _open(self) -> None:
        url = self.urls[self._url_index % len(self.urls)]
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        # no per-message compression: frames are small, and deflate costs more CPU than the
        # bytes it saves (a third of a round trip, measured by benchmarks/routing.py)
        ws = await connect(url, additional_headers=headers, max_size=1 << 20, compression=None)
        hello: dict[str, Any] = {
            "type": "hello",
            "name": self.name,
            "role": self.role,
            "commands": sorted(self.handlers),
            "concurrency": self.concurrency,
            "after": self.last_seq,
        }
        if self.session_id is not None:
            hello["session_id"] = self.session_id
        if self.lock is not None and self.last_seq == 0:
            hello["lock"] = msgspec.to_builtins(self.lock)
        await ws.send(_encode(hello).decode())
        while True:  # what it missed may come before the welcome: handle it as it comes
            welcome = _decode(await ws.recv())
            if welcome.get("type") != "welcome" and "seq" in welcome:
                self._frame(welcome)
                continue
            break
        if welcome.get("type") != "welcome":
            await ws.close()
            raise APIError(
                400,
                str(welcome.get("code")),
                str(welcome.get("message")),
                dict(welcome.get("details") or {}),
            )
        self.process = str(welcome["process"])
        self.session_id = welcome.get("session_id") or self.session_id
        self._ws = ws
        self._connected.set()

    async def close(self) -> None:
        """Disconnect (the sessions go on)."""
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        for task in list(self._running.values()):
            task.cancel()
        if self._ws is not None:
            await self._ws.close()

    async def __aenter__(self) -> RoutedClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read_loop(self) -> None:
        while not self._closed:
            ws = self._ws
            assert ws is not None
            try:
                async for raw in ws:
                    self._frame(_decode(raw))
            except Exception as exc:  # the connection broke
                log.info("client %s lost its connection: %s", self.name, exc)
            if self._closed or not self.reconnect:
                return
            self._connected.clear()
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("connection lost"))
            self._waiting.clear()
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closed:
            self._url_index += 1
            try:
                await self._open()
                return
            except Exception:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _frame(self, msg: dict[str, Any]) -> None:
        seq = msg.get("seq")
        if isinstance(seq, int):
            # Frames from two server processes may arrive out of order: keep the highest
            # number below which everything arrived (what a reconnect asks after) and the
            # numbers seen above it, so a replay delivers only what is missing.
            if seq <= self.last_seq or seq in self._ahead:
                return
            self._ahead.add(seq)
            while self.last_seq + 1 in self._ahead:
                self.last_seq += 1
                self._ahead.discard(self.last_seq)
        kind = msg.get("type")
        if kind == "update":
            # one update of a session is one version: a repeat (routed again after a process
            # died before it knew it was delivered) is dropped
            seen = (str(msg.get("session_id")), int(msg.get("version") or 0))
            if seen in self._updates_seen:
                return
            self._updates_seen[seen] = None
            while len(self._updates_seen) > REMEMBERED:
                self._updates_seen.popitem(last=False)
        if kind == "command":
            call = Call(
                key=msg["key"],
                session_id=msg["session_id"],
                command=msg["command"],
                params=msg.get("params") or {},
                deadline=msg["deadline"],
            )
            if call.key in self._running:
                return
            self._running[call.key] = asyncio.create_task(self._run(call))
        elif kind in ("ok", "error") and msg.get("request_id") in self._waiting:
            waiter = self._waiting.pop(msg["request_id"])
            if not waiter.done():
                waiter.set_result(msg)
        else:
            self._updates.put_nowait(msg)

    async def _run(self, call: Call) -> None:
        try:
            answer = self._answered.get(call.key)
            if answer is None:  # never run twice: a redelivered key gets its first answer
                answer = await self._handle(call)
                self._answered[call.key] = answer
                while len(self._answered) > REMEMBERED:
                    self._answered.popitem(last=False)
            await self._connected.wait()
            assert self._ws is not None
            await self._ws.send(_encode(answer).decode())
        except Exception as exc:
            log.info("client %s could not answer %s: %s", self.name, call.key, exc)
        finally:
            self._running.pop(call.key, None)

    async def _handle(self, call: Call) -> dict[str, Any]:
        handler = self.handlers.get(call.command)
        token = current_session.set(call.session_id)
        try:
            if handler is None:
                raise LookupError(f"{self.name} has no handler for {call.command!r}")
            outputs = await handler(call) or {}
            return {"type": "result", "key": call.key, "outputs": outputs}
        except Exception as exc:
            return {"type": "result", "key": call.key, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            current_session.reset(token)

    # --- requests -------------------------------------------------------------------------

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame and wait for its ``ok``; an ``error`` raises :class:`APIError`."""
        await self._connected.wait()
        request_id = f"r{next(self._ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        assert self._ws is not None
        await self._ws.send(_encode({**frame, "request_id": request_id}).decode())
        answer = await waiter
        if answer["type"] == "error":
            raise APIError(
                400,
                str(answer.get("code")),
                str(answer.get("message")),
                dict(answer.get("details") or {}),
            )
        return answer

    def _session(self, session_id: str | None) -> dict[str, Any]:
        sid = session_id or current_session.get()
        return {"session_id": sid} if sid else {}

    async def send(
        self, inp: dict[str, Any] | str, *, session_id: str | None = None
    ) -> dict[str, Any]:
        """A new message (text, or an input record) for ``session_id``, else the session
        being served (:data:`current_session`), else the client's own session."""
        body = {"type": "text", "text": inp} if isinstance(inp, str) else inp
        return await self.request({"type": "message", "input": body, **self._session(session_id)})

    async def updates(self, wait: float | None = None) -> dict[str, Any]:
        """The next update or frame the server pushed (replies for a user interface)."""
        return await asyncio.wait_for(self._updates.get(), wait)

    async def memory(
        self,
        op: str,
        key: str,
        value: Any = None,
        *,
        session_id: str | None = None,
        expected: Any = None,
        check: bool = False,
    ) -> Any:
        """A session memory operation (get, set, delete, increment); the key's value."""
        answer = await self.request(
            {
                "type": "memory",
                "op": op,
                "name": key,
                "value": value,
                "expected": expected,
                "check": check,
                **self._session(session_id),
            }
        )
        return answer.get("value")

    async def set_session(
        self, session_id: str | None = None, *, lock: LockSpec | None = None, release: bool = False
    ) -> dict[str, Any]:
        """Move to a session (the current one if None), set or release locks on it."""
        frame: dict[str, Any] = {
            "type": "set_session",
            "release": release,
            **self._session(session_id),
        }
        if lock is not None:
            frame["lock"] = msgspec.to_builtins(lock)
        answer = await self.request(frame)
        self.session_id = answer.get("session_id") or self.session_id
        return answer

    async def new_session(self, session_id: str | None = None) -> str:
        """Start over: end the current session, start a new one, make it current."""
        answer = await self.request({"type": "new_session", "session_id": session_id})
        self.session_id = str(answer["session_id"])
        return self.session_id

    async def end_session(
        self, session_id: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """End a session (the served or current one by default)."""
        return await self.request(
            {"type": "end_session", "reason": reason, **self._session(session_id)}
        )

    async def watch(self, session_id: str) -> None:
        """Observe a session: receive all its updates with their events."""
        await self.request({"type": "watch", "session_id": session_id})

    async def alarm(
        self, name: str, seconds: float | None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        """Arm (or, ``seconds`` None, cancel) a session alarm."""
        return await self.request(
            {"type": "alarm", "name": name, "seconds": seconds, **self._session(session_id)}
        )
