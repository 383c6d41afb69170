"""What the HTTP routes, the WebSocket and the SSE stream share: one object per app.

:class:`Service` holds the Hub, the authenticator, the token keyring, the rate limiter, the
metrics and the broadcaster, and implements the operations that more than one transport
performs (create, update, stateless update), so every transport applies the same checks,
issues the same tokens and pushes the same updates to attached clients.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

from dialoghub.engine.records import Event, Input, Session
from dialoghub.errors import InvalidInput, VersionConflict
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.model.spec import Model
from dialoghub.server.auth import Authenticator, Principal
from dialoghub.server.broadcast import Broadcaster, Message, RedisRelay, feed_key, feed_summary
from dialoghub.server.errors import Unauthorized
from dialoghub.server.keystore import KeyStore
from dialoghub.server.limits import Deadlines, RateLimiter, check_input, check_mapping
from dialoghub.server.metrics import Metrics
from dialoghub.server.schemas import CreateSession, EventOut, ModelInfo, ViewOut
from dialoghub.server.settings import Settings
from dialoghub.server.tokens import InvalidToken, Keyring, StaleToken

__all__ = ["EventsPush", "Service", "UpdatePush"]

Mode = Literal["reference", "stateless"]


class UpdatePush(msgspec.Struct, kw_only=True, tag="update", tag_field="type"):
    """What attached clients receive for each update (``request_id`` only for its sender)."""

    session: Session
    actions: list[Any]
    events: list[EventOut]
    token: str
    request_id: str | None = None


class EventsPush(msgspec.Struct, kw_only=True, tag="events", tag_field="type"):
    """Events read from the store for a client that was behind (reattach, gap)."""

    events: list[EventOut]


_encode = msgspec.json.Encoder().encode


class Service:
    """The shared state and operations of one server app."""

    def __init__(
        self,
        hub: Hub,
        settings: Settings,
        *,
        keystore: KeyStore | None,
        keyring: Keyring,
        relay: RedisRelay | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.keystore = keystore
        self.keyring = keyring
        self.auth = Authenticator(keystore if settings.auth else None)
        self.limiter = RateLimiter.from_settings(settings)
        self.deadlines = Deadlines(settings.request_timeout)
        self.metrics = Metrics()
        self.broadcaster = Broadcaster(relay)
        #: The process's client router (a dialoghub.routing.router.Router, issue 12), set by
        #: the app's lifespan; it routes every update the Hub stores (Hub.watch).
        self.routing: Any = None

    # --- checks ---------------------------------------------------------------------------

    def check_input(self, inp: Input) -> None:
        """Apply the text-length and variable-count limits."""
        check_input(
            inp, max_text=self.settings.max_text_chars, max_variables=self.settings.max_variables
        )

    def mode_of(self, model_id: str, requested: Mode | None) -> Mode:
        """The token mode of a new session: asked for, else the model's, else the default."""
        if requested is not None:
            return requested
        if model_id in self.settings.stateless_models:
            return "stateless"
        return "stateless" if self.settings.token_mode == "stateless" else "reference"

    # --- views ----------------------------------------------------------------------------

    def view_out(
        self, view: SessionView, mode: Mode = "reference", *, replayable: bool = False
    ) -> ViewOut:
        """The API form of a Hub view, with a fresh token; ``replayable`` (an answer to an
        idempotency key) issues the reference token at the session's last update, so a
        retry that gets the stored view gets the same body."""
        if mode == "stateless":
            token = self.keyring.seal(view.session)
        else:
            issued = view.session.updated_at if replayable else None
            token = self.keyring.reference(view.session, issued=issued)
        return ViewOut(
            session=view.session,
            actions=list(view.actions),
            events=[EventOut.of(e) for e in view.events],
            token=token,
            token_mode=mode,
            token_size=len(token),
        )

    def encode_events(self, events: list[Event]) -> bytes:
        """A backlog batch as pushed to attached clients."""
        return _encode(EventsPush(events=[EventOut.of(e) for e in events]))

    def publish(
        self,
        tenant: str,
        out: ViewOut,
        *,
        origin: int | None = None,
        request_id: str | None = None,
    ) -> None:
        """Push an update to every client attached to its session, here and (through the
        relay) in the other server processes."""
        key = (tenant, out.session.id)
        relay = self.broadcaster.relay
        if not out.events or (relay is None and not self.broadcaster.has_subscribers(key)):
            return
        push = UpdatePush(
            session=out.session, actions=out.actions, events=out.events, token=out.token
        )

        def render(request_id: str | None) -> bytes:
            if request_id is None:
                return _encode(push)
            return _encode(msgspec.structs.replace(push, request_id=request_id))

        message = Message(
            out.events[0].seq,
            out.events[-1].seq,
            render,
            origin=origin,
            request_id=request_id if origin is not None else None,
        )
        self.broadcaster.publish(key, message)
        if relay is not None:
            relay.send(key, message)

    def publish_feed(self, view: SessionView) -> None:
        """A stored update's summary to its tenant's feed (``/v1/feed``), here and elsewhere;
        the hub calls it for every update it stores, timers' included (:meth:`Hub.watch`)."""
        session = view.session
        key = feed_key(session.tenant)
        relay = self.broadcaster.relay
        if relay is None and not self.broadcaster.has_subscribers(key):
            return
        message = Message(session.seq, session.seq, feed_summary(session))
        self.broadcaster.publish(key, message)
        if relay is not None:
            relay.send(key, message)

    # --- operations -----------------------------------------------------------------------

    async def create(
        self, principal: Principal, req: CreateSession, *, idempotency_key: str | None = None
    ) -> ViewOut:
        """Start a session (stored, or sealed in a stateless token)."""
        check_mapping("metadata", req.metadata, self.settings.max_variables)
        check_mapping("params", req.params, self.settings.max_variables)
        model = self.hub.model(req.model_id or self.hub.default_model or "(default)")
        mode = self.mode_of(model.id, req.token_mode)
        started = time.perf_counter()
        if mode == "stateless":
            # The Hub's checks hold for a token too (it is sealed with the same encoder).
            view = self.hub.start_detached(
                model.id,
                req.session_id,
                metadata=req.metadata,
                params=req.params,
                tenant=principal.tenant,
            )
        else:
            view = await self.hub.create_session(
                model.id,
                session_id=req.session_id,
                metadata=req.metadata,
                params=req.params,
                tenant=principal.tenant,
                idempotency_key=idempotency_key,
            )
        out = self.view_out(view, mode, replayable=idempotency_key is not None)
        self.metrics.turn(principal.tenant, out.session.id, model.id, time.perf_counter() - started)
        return out

    async def update(
        self,
        principal: Principal,
        session_id: str,
        inp: Input,
        *,
        expected_version: int | None = None,
        token: str | None = None,
        idempotency_key: str | None = None,
        origin: int | None = None,
        request_id: str | None = None,
    ) -> ViewOut:
        """Apply one input to a stored session, honouring its token and expected version."""
        self.check_input(inp)
        if token is not None:
            ref = self.keyring.read_reference(token)
            if ref.tenant != principal.tenant or ref.session_id != session_id:
                raise InvalidToken("invalid session token: it names another session")
            if expected_version is not None and expected_version != ref.version:
                raise InvalidInput(
                    f"expected_version {expected_version} disagrees with the token's version "
                    f"{ref.version}; send one of them"
                )
            expected_version = ref.version
            await self._check_incarnation(principal.tenant, session_id, ref)
        started = time.perf_counter()
        try:
            view = await self.hub.update(
                session_id,
                inp,
                tenant=principal.tenant,
                expected_version=expected_version,
                idempotency_key=idempotency_key,
            )
        except VersionConflict as exc:
            if token is None:
                raise
            raise StaleToken(
                f"session token is for version {exc.expected} but session {session_id!r} is "
                f"at version {exc.actual}; re-read the session and use its new token",
                session_id=session_id,
                token_version=exc.expected,
                version=exc.actual,
            ) from None
        out = self.view_out(view, replayable=idempotency_key is not None)
        self.metrics.turn(
            principal.tenant, session_id, view.session.model_id, time.perf_counter() - started
        )
        self.publish(principal.tenant, out, origin=origin, request_id=request_id)
        return out

    async def _check_incarnation(self, tenant: str, session_id: str, ref: Any) -> None:
        """401 for a token of a deleted session whose id a new session now has (the cached
        snapshot first; on a mismatch the store's, as the cache may be another process's past)."""
        created_at = await self.hub.incarnation(session_id, tenant=tenant)  # cached: no read
        if created_at is not None and created_at != ref.created_at:
            current = await self.hub.store.load(session_id, tenant=tenant)
            created_at = None if current is None else current.created_at
        if created_at is not None:
            self.keyring.check_incarnation(ref, created_at)

    async def stateless_update(self, principal: Principal, token: str, inp: Input) -> ViewOut:
        """Step the session sealed in ``token``; nothing is stored."""
        self.check_input(inp)
        if not token.startswith("s2."):
            raise Unauthorized(
                "this route takes a stateless session token (s2.…); stored sessions are "
                "updated at /v1/sessions/{id}/inputs"
            )
        session = self.keyring.open(token, tenant=principal.tenant)
        started = time.perf_counter()
        view = self.hub.step_detached(session, inp)
        out = self.view_out(view, "stateless")
        self.metrics.turn(
            principal.tenant, session.id, session.model_id, time.perf_counter() - started
        )
        return out

    # --- models ---------------------------------------------------------------------------

    @staticmethod
    def model_info(model: Model) -> ModelInfo:
        """The API description of a model."""
        return ModelInfo(
            id=model.id,
            version=model.version,
            language=model.language,
            sample_rate=model.sample_rate,
            description=model.description,
            start=model.start,
            states=sorted(model.states),
            intents=sorted(model.intents),
            commands=sorted(model.commands),
            events=sorted(model.events),
        )
