"""A Python client of the HTTP and WebSocket API: ``Client(base_url, api_key=...)``.

:class:`Client` is async (httpx and websockets) and covers every route: models, sessions
(create, get, also as of an event, list, update with any input, events, end, delete, fork),
stateless sessions, API keys, health, version and metrics; :meth:`Client.attach` opens a
session's WebSocket. Errors come back as :class:`APIError` carrying the server's ``code``,
``message``, ``details`` and HTTP ``status``.

:class:`SyncClient` is the blocking face, declared like :class:`dialoghub.SyncHub` on
:mod:`dialoghub.blocking`: it runs a Client on an event loop in a background thread and gives
each coroutine method a blocking twin with the same signature (an attachment likewise, as a
:class:`SyncAttachment`), so there is one implementation only.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from dialoghub.blocking import BlockingFace, attribute, blocking
from dialoghub.client_agent import AgentMethods, SyncAgent
from dialoghub.client_decisions import DecisionsClient, SyncDecisions
from dialoghub.client_routing import RoutingMethods, SyncRouting
from dialoghub.client_voice import SyncVoice, VoiceMethods
from dialoghub.engine.records import (
    CommandResult,
    End,
    Event,
    Input,
    Session,
    Text,
)
from dialoghub.errors import APIError
from dialoghub.wire import (
    CreatedKey,
    EventPage,
    ForkOut,
    KeyList,
    ModelInfo,
    ModelList,
    SessionPage,
    ValidateResult,
    VersionInfo,
    ViewOut,
)

__all__ = ["APIError", "Attachment", "Client", "SyncAttachment", "SyncClient"]

_encode = msgspec.json.Encoder().encode


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = msgspec.json.decode(response.content)
        code, message = str(body["code"]), str(body["message"])
        details = dict(body.get("details") or {})
    except (msgspec.DecodeError, KeyError, TypeError):
        code, message, details = "http_error", response.text[:500], {}
    raise APIError(response.status_code, code, message, details)


def _sid(session_id: str) -> str:
    return quote(session_id, safe="")


class Attachment:
    """An open WebSocket on one session: :meth:`send` inputs, :meth:`receive` pushes."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection
        self._ids = 0

    async def send(
        self,
        inp: Input,
        *,
        request_id: str | None = None,
        expected_version: int | None = None,
        token: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Send one input; return its request id (its update will carry it)."""
        if request_id is None:
            self._ids += 1
            request_id = str(self._ids)
        frame: dict[str, Any] = {"type": "input", "input": inp, "request_id": request_id}
        for name, value in (("expected_version", expected_version), ("token", token),
                            ("idempotency_key", idempotency_key)):
            if value is not None:
                frame[name] = value
        await self._ws.send(_encode(frame).decode())
        return request_id

    async def receive(self) -> dict[str, Any]:
        """The next message from the server (``events``, ``attached``, ``update``, ``error``)."""
        message: dict[str, Any] = msgspec.json.decode(await self._ws.recv())
        return message

    async def request(self, inp: Input, **options: Any) -> dict[str, Any]:
        """Send one input and wait for its own update (or error), skipping other pushes."""
        request_id = await self.send(inp, **options)
        while True:
            message = await self.receive()
            if message.get("request_id") == request_id:
                if message["type"] == "error":
                    raise APIError(400, message["code"], message["message"],
                                   message.get("details") or {})
                return message

    async def close(self) -> None:
        """Close the socket (the session goes on)."""
        await self._ws.close()

    async def __aenter__(self) -> Attachment:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Client(DecisionsClient, VoiceMethods, AgentMethods, RoutingMethods):
    """The async client: ``async with Client("http://127.0.0.1:8000", api_key=KEY) as c``."""

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 timeout: float = 30.0, **httpx_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, **httpx_options
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, *, json: Any = None,
                    content: bytes | str | None = None, params: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> httpx.Response:
        body = _encode(json) if json is not None else content
        hdrs = dict(headers or {})
        if json is not None:
            hdrs["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self._http.request(method, path, content=body, params=query,
                                            headers=hdrs)
        _raise_for(response)
        return response

    # --- system ---------------------------------------------------------------------------

    async def health(self) -> bool:
        """True if the server answers /health."""
        return (await self._call("GET", "/health")).status_code == 200

    async def version(self) -> VersionInfo:
        """The server's version."""
        return msgspec.json.decode((await self._call("GET", "/version")).content,
                                   type=VersionInfo)

    async def metrics(self) -> str:
        """The Prometheus metrics text."""
        return (await self._call("GET", "/metrics")).text

    # --- models ---------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The models the server has loaded."""
        r = await self._call("GET", "/v1/models")
        return msgspec.json.decode(r.content, type=ModelList).models

    async def get_model(self, model_id: str) -> ModelInfo:
        """One loaded model."""
        r = await self._call("GET", f"/v1/models/{_sid(model_id)}")
        return msgspec.json.decode(r.content, type=ModelInfo)

    async def validate_model(self, text: str) -> ValidateResult:
        """Validate a model's YAML or JSON text on the server."""
        r = await self._call("POST", "/v1/models/validate", content=text.encode(),
                             headers={"Content-Type": "application/yaml"})
        return msgspec.json.decode(r.content, type=ValidateResult)

    # --- sessions -------------------------------------------------------------------------

    async def create_session(
        self, model_id: str | None = None, *, session_id: str | None = None,
        metadata: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
        token_mode: str | None = None, idempotency_key: str | None = None,
    ) -> ViewOut:
        """Start a session; the view holds its first actions and its token."""
        body = {k: v for k, v in {"model_id": model_id, "session_id": session_id,
                                  "metadata": metadata, "params": params,
                                  "token_mode": token_mode}.items() if v is not None}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        r = await self._call("POST", "/v1/sessions", json=body, headers=headers)
        return msgspec.json.decode(r.content, type=ViewOut)

    async def update(
        self, session_id: str, inp: Input, *, expected_version: int | None = None,
        token: str | None = None, idempotency_key: str | None = None,
    ) -> ViewOut:
        """Apply any input to a stored session."""
        body: dict[str, Any] = {"input": inp}
        if expected_version is not None:
            body["expected_version"] = expected_version
        if token is not None:
            body["token"] = token
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        r = await self._call("POST", f"/v1/sessions/{_sid(session_id)}/inputs", json=body,
                             headers=headers)
        return msgspec.json.decode(r.content, type=ViewOut)

    async def process_text(self, session_id: str, text: str, **options: Any) -> ViewOut:
        """The user typed ``text``."""
        return await self.update(session_id, Text(text=text), **options)

    async def process_command_result(
        self, session_id: str, command_id: str, outputs: dict[str, Any] | None = None,
        error: str | None = None, **options: Any,
    ) -> ViewOut:
        """The result of the command the session waits for."""
        inp = CommandResult(id=command_id, outputs=outputs or {}, error=error)
        return await self.update(session_id, inp, **options)

    async def end_session(self, session_id: str, reason: str = "ended by request",
                          **options: Any) -> ViewOut:
        """End a session."""
        return await self.update(session_id, End(reason=reason), **options)

    async def stateless_update(self, token: str, inp: Input) -> ViewOut:
        """Step a stateless session; keep the returned token for the next turn."""
        r = await self._call("POST", "/v1/stateless/inputs", json={"token": token, "input": inp})
        return msgspec.json.decode(r.content, type=ViewOut)

    async def get_session(self, session_id: str, *, at: int | None = None) -> Session:
        """A session now, or as it was right after event ``at``."""
        r = await self._call("GET", f"/v1/sessions/{_sid(session_id)}", params={"at": at})
        return msgspec.json.decode(r.content, type=Session)

    async def list_sessions(
        self, *, model: str | None = None, state: str | None = None,
        status: str | None = None, limit: int = 50, cursor: str | None = None,
        text: str | None = None, tenant: str | None = None,
    ) -> SessionPage:
        """One page of the key's tenant's sessions, oldest first.

        ``text``: only sessions whose id or metadata holds it (case-insensitive; a page
        examines at most 2,000 sessions, so it may be short, even empty, with a
        ``next_cursor``). ``tenant``: another tenant's sessions, or ``"*"`` for every
        tenant's: for an admin key of one of the server's ``operator_tenants`` only
        (:class:`~dialoghub.errors.Forbidden` otherwise).
        """
        r = await self._call("GET", "/v1/sessions", params={
            "model": model, "state": state, "status": status, "limit": limit,
            "cursor": cursor, "q": text, "tenant": tenant})
        return msgspec.json.decode(r.content, type=SessionPage)

    async def events(self, session_id: str, *, after: int = 0, limit: int = 100) -> list[Event]:
        """The session's events with seq > ``after``."""
        r = await self._call("GET", f"/v1/sessions/{_sid(session_id)}/events",
                             params={"after": after, "limit": limit})
        page = msgspec.json.decode(r.content, type=EventPage)
        return [Event(seq=e.seq, version=e.version, time=e.time, type=e.type, data=e.data)
                for e in page.events]

    async def delete_session(self, session_id: str) -> None:
        """Delete a session and its history."""
        await self._call("DELETE", f"/v1/sessions/{_sid(session_id)}")

    async def fork_session(self, session_id: str, *, at: int | None = None,
                           new_id: str | None = None) -> ForkOut:
        """A new session with the history of ``session_id`` up to event ``at``."""
        body = {k: v for k, v in {"at": at, "session_id": new_id}.items() if v is not None}
        r = await self._call("POST", f"/v1/sessions/{_sid(session_id)}/fork", json=body)
        return msgspec.json.decode(r.content, type=ForkOut)

    # --- keys -----------------------------------------------------------------------------

    async def list_keys(self) -> KeyList:
        """The tenant's API keys (admin scope)."""
        return msgspec.json.decode((await self._call("GET", "/v1/keys")).content, type=KeyList)

    async def create_key(self, *, scopes: tuple[str, ...] = ("write",),
                         name: str = "") -> CreatedKey:
        """A new API key of the tenant; its ``key`` is shown this once."""
        r = await self._call("POST", "/v1/keys", json={"scopes": list(scopes), "name": name})
        return msgspec.json.decode(r.content, type=CreatedKey)

    async def revoke_key(self, key_id: str) -> None:
        """Revoke an API key of the tenant."""
        await self._call("DELETE", f"/v1/keys/{_sid(key_id)}")

    # --- WebSocket ------------------------------------------------------------------------

    async def attach(self, session_id: str, *, after: int = 0) -> Attachment:
        """Open the session's WebSocket; the first messages are what came after ``after``."""
        url = self.base_url.replace("http", "ws", 1)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        ws = await connect(f"{url}/v1/sessions/{_sid(session_id)}/ws?after={after}",
                           additional_headers=headers)
        return Attachment(ws)


class SyncAttachment(BlockingFace[Attachment]):
    """The blocking face of an :class:`Attachment`, on the loop of the :class:`SyncClient`
    that opened it (``sc.attach(session_id)``); it keeps that client alive."""

    def __init__(self, client: SyncClient, attachment: Attachment) -> None:
        super().__init__(lambda: attachment, portal=client._portal)
        self._client = client

    send = blocking(Attachment.send)
    receive = blocking(Attachment.receive)
    request = blocking(Attachment.request)

    def close(self) -> None:
        """Close the socket (the session goes on)."""
        super().close()


class SyncClient(SyncDecisions, SyncVoice, SyncAgent, SyncRouting, BlockingFace[Client]):
    """The blocking client: the methods of :class:`Client`, each returning its result."""

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 timeout: float = 30.0, **httpx_options: Any) -> None:
        # Built on its loop's thread, where its connection pool lives.
        build = functools.partial(Client, base_url, api_key=api_key, timeout=timeout,
                                  **httpx_options)
        super().__init__(build, name="dialoghub-client")

    def close(self) -> None:
        """Close the client and stop its loop thread."""
        super().close()

    base_url: attribute[str] = attribute()
    api_key: attribute[str | None] = attribute()

    health = blocking(Client.health)
    version = blocking(Client.version)
    metrics = blocking(Client.metrics)
    list_models = blocking(Client.list_models)
    get_model = blocking(Client.get_model)
    validate_model = blocking(Client.validate_model)
    create_session = blocking(Client.create_session)
    update = blocking(Client.update)
    process_text = blocking(Client.process_text)
    process_command_result = blocking(Client.process_command_result)
    end_session = blocking(Client.end_session)
    stateless_update = blocking(Client.stateless_update)
    get_session = blocking(Client.get_session)
    list_sessions = blocking(Client.list_sessions)
    events = blocking(Client.events)
    delete_session = blocking(Client.delete_session)
    fork_session = blocking(Client.fork_session)
    list_keys = blocking(Client.list_keys)
    create_key = blocking(Client.create_key)
    revoke_key = blocking(Client.revoke_key)
    attach = blocking(Client.attach, wrap=SyncAttachment)
