"""The Hub: the public async API that runs many sessions of many models on one store.

A Hub owns the loaded models, a store, a per-session lock and a cache of recent snapshots.
Every update follows the same path (:meth:`Hub.update`): take the session's lock, answer a
repeated idempotency key from the store, load the snapshot (cache first), run the pure
engine, write snapshot + events in one compare-and-set, and return the view. If another
process changed the session meanwhile, the write loses the compare-and-set; the Hub then
re-reads and re-runs the step (unless the caller pinned ``expected_version``, which is then
a :class:`~dialoghub.errors.VersionConflict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from dialoghub.engine import step as engine
from dialoghub.engine.fork import fork as fork_snapshot
from dialoghub.engine.records import (
    ASR,
    CommandResult,
    End,
    Event,
    EventInput,
    Input,
    Jump,
    Session,
    SetVariables,
    Text,
    Timeout,
    WaitForUser,
)
from dialoghub.engine.values import check_input, check_session_id, check_storable
from dialoghub.errors import (
    IdempotencyKeyReused,
    InputError,
    InvalidInput,
    ModelError,
    ModelMismatch,
    SessionClosed,
    SessionExists,
    SessionNotFound,
    StoreError,
    UnknownModel,
    VersionConflict,
)
from dialoghub.hub.keyed import KeyedLocks, LRUCache
from dialoghub.hub.timetravel import fork_source, rewind
from dialoghub.hub.transfer import export_sessions, import_session
from dialoghub.hub.view import SessionView
from dialoghub.model.codeunit import CodeUnit, CodeUnitError, load_code_unit, model_from_code
from dialoghub.model.loader import load_models
from dialoghub.model.spec import Model
from dialoghub.stores import Idempotency, Page, SessionFilter, Store, Write, open_store
from dialoghub.stores.codec import decode_session, encode_session
from dialoghub.stores.migrations import Migratable

log = logging.getLogger("dialoghub.hub")

__all__ = ["DEFAULT_STORE", "IDEMPOTENCY_RETENTION", "Hub"]

#: The embedded default: a SQLite file in the working directory.
DEFAULT_STORE = "sqlite:///dialoghub.db"
#: How often a hub re-runs a step after losing a race to another process.
MAX_RETRIES = 10
#: How long an idempotency record is kept by default (seconds): 24 hours.
IDEMPOTENCY_RETENTION = 86_400.0

_view_decoder = msgspec.msgpack.Decoder(SessionView)
_encoder = msgspec.msgpack.Encoder()


def _private(body: bytes) -> Session:
    """The hub cache's copy of a snapshot, decoded from the bytes the store was given
    (:attr:`Write.body <dialoghub.stores.base.Write.body>`, encoded once for both).

    The engine shares dicts and lists between a snapshot, its events and its actions (copy on
    write), and the view a caller receives holds them; so the cache keeps a copy sharing
    nothing with anything a caller was given, and no change a caller makes to a view (or to a
    dict it passed in) can reach the next turn or the store. The copy is exactly what a cache
    miss would read.
    """
    return decode_session(body)


def _check_lifetime(lifetime: dict[str, float] | None) -> dict[str, float] | None:
    """A lifetime mapping (``idle`` and/or ``absolute`` seconds > 0), or None."""
    if lifetime is None:
        return None
    if not isinstance(lifetime, dict) or not set(lifetime) <= {"idle", "absolute"}:
        raise InvalidInput(f"lifetime takes 'idle' and 'absolute' seconds, not {lifetime!r}")
    for name, value in lifetime.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise InvalidInput(f"lifetime {name} must be a positive number of seconds")
    return dict(lifetime) or None


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(msgspec.msgpack.encode(parts)).hexdigest()[:32]


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidInput("idempotency_key must be a string of 1 to 200 characters")
    return key


def _keyed_id(tenant: str, key: str) -> str:
    """The id of a session created with ``key`` and no id: the same for every retry, so the
    retry finds the first create's record (32 hex digits, like a generated id)."""
    return hashlib.sha256(msgspec.msgpack.encode(("create", tenant, key))).hexdigest()[:32]


def _check_retention(seconds: Any) -> float:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
        raise InvalidInput(f"idempotency_retention must be seconds > 0, not {seconds!r}")
    return float(seconds)


class Hub:
    """Runs sessions of the loaded models on one store.

    Use it as an async context manager (``async with Hub("sqlite:///app.db") as hub``), load
    models with :meth:`load_models`, then create and update sessions. Every update accepts
    ``expected_version`` (refuse if the session moved on) and ``idempotency_key`` (a retry
    returns the first answer) and returns a :class:`~dialoghub.hub.view.SessionView`.

    Idempotency records are kept ``idempotency_retention`` seconds (24 hours by default) and
    deleted by :meth:`purge`; a retry after that is a new request.
    """

    def __init__(
        self,
        store: str | Store = DEFAULT_STORE,
        *,
        default_model: str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
        migrate: bool = False,
        lifetime: dict[str, float] | None = None,
        timers: bool = False,
        idempotency_retention: float = IDEMPOTENCY_RETENTION,
    ) -> None:
        self.store: Store = open_store(store) if isinstance(store, str) else store
        #: Upgrade the store's schema in place on :meth:`open` (SQLite and PostgreSQL);
        #: without it an older schema is refused with a message saying how to migrate.
        self.migrate = migrate
        self.default_model = default_model
        self._clock = clock
        self._models: dict[str, Model] = {}
        self._locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self._cache: LRUCache[tuple[str, str], Session] = LRUCache(cache_size)
        self._open = False
        #: Default lifetimes (``{"idle": s, "absolute": s}``) of sessions whose model sets none.
        self.lifetime = _check_lifetime(lifetime)
        #: Run a :class:`~dialoghub.hub.timers.TimerService` while open (prompt timeouts, expiry).
        self.timers = timers
        self._timer_service: Any = None
        #: Seconds an idempotency record is kept: :meth:`purge` deletes older ones.
        self.idempotency_retention = _check_retention(idempotency_retention)
        # Called with each view this hub stores (see :meth:`watch`); empty costs one test.
        self._watchers: list[Callable[[SessionView], None]] = []

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store (done by ``async with``), migrating its schema first if asked."""
        if not self._open:
            if self.migrate and isinstance(self.store, Migratable):
                await self.store.migrate()
            await self.store.open()
            self._open = True
            if self.timers:
                from dialoghub.hub.timers import TimerService

                self._timer_service = TimerService(self)
                self._timer_service.start()

    async def close(self) -> None:
        """Stop the timer service, flush and close the store (done by ``async with``)."""
        if self._open:
            self._open = False
            if self._timer_service is not None:
                service, self._timer_service = self._timer_service, None
                await service.stop()
            await self.store.close()

    async def __aenter__(self) -> Hub:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- models ---------------------------------------------------------------------------

    def load_models(self, path: str | Path, *, functions: Any = None) -> list[Model]:
        """Load a model file or every model file of a folder; all or nothing.

        ``functions``: the guards and actions XState machines may name, a
        :class:`dialoghub.engine.chart.Registry` (an action nobody registered comes back as
        a command action; a guard nobody registered is a load error at its line).
        """
        models = load_models(path, functions=functions)
        for model in models:
            self.add_model(model)
        return models

    def add_model(self, model: Model) -> None:
        """Make a compiled model available (replacing a loaded one with the same id)."""
        self._models[model.id] = model
        if self.default_model is None:
            self.default_model = model.id

    def add_code_unit(
        self, unit: CodeUnit | str, *, model_id: str | None = None, version: str = "1"
    ) -> Model:
        """Register a dialog written as Python functions as a model of its own.

        ``unit`` is a :class:`~dialoghub.model.codeunit.CodeUnit` or a reference to one
        (``"package.module"`` or ``"path/to/dialog.py"``); the model id is the unit's name
        unless ``model_id`` is given. Its sessions are stored and logged like any other.
        """
        if isinstance(unit, str):
            try:
                unit = load_code_unit(unit)
            except CodeUnitError as exc:
                raise ModelError(str(exc)) from None
        model = model_from_code(unit, model_id=model_id, version=version)
        self.add_model(model)
        return model

    @property
    def models(self) -> dict[str, Model]:
        """The loaded models by id."""
        return dict(self._models)

    def model(self, model_id: str) -> Model:
        """The loaded model ``model_id``; raises UnknownModel."""
        try:
            return self._models[model_id]
        except KeyError:
            raise UnknownModel(model_id, list(self._models)) from None

    # --- creating -------------------------------------------------------------------------

    async def create_session(
        self,
        model_id: str | None = None,
        *,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tenant: str = "default",
        idempotency_key: str | None = None,
    ) -> SessionView:
        """Start a session of ``model_id`` (or the default model) and run it to its first wait.

        With ``idempotency_key`` and no ``session_id``, the id is derived from the tenant and
        the key, so a retry returns the first answer (same session, same view) instead of
        starting another session.
        """
        model = self.model(self._default_model_id() if model_id is None else model_id)
        if session_id is not None:
            sid = check_session_id(session_id)
        elif idempotency_key is not None:
            sid = _keyed_id(tenant, _check_key(idempotency_key))
        else:
            sid = uuid.uuid4().hex
        for name, value in (("metadata", metadata), ("params", params)):
            if value is not None and not isinstance(value, dict):
                raise InvalidInput(f"{name} must be a mapping, not {type(value).__name__}")
            check_storable(value, name)
        key = (tenant, sid)
        async with self._locks.hold(key):
            fp = _fingerprint("create", model.id, metadata, params)
            if idempotency_key is not None:
                seen = await self._idempotent(tenant, sid, idempotency_key, fp)
                if seen is not None:
                    return seen
            result = engine.start(
                model,
                sid,
                now=self._clock(),
                tenant=tenant,
                metadata=metadata,
                params=params,
                lifetime=getattr(model, "lifetime", None) or self.lifetime,
            )
            view = SessionView(session=result.session, actions=result.actions, events=result.events)
            idem = (
                Idempotency(idempotency_key, fp, _encoder.encode(view))
                if idempotency_key is not None
                else None
            )
            try:
                await self._write(key, Write(result.session, result.events, 0, idem))
            except SessionExists:
                if idempotency_key is None:
                    raise
                # Created meanwhile (another process): the same request answers the same.
                seen = await self._idempotent(tenant, sid, idempotency_key, fp)
                if seen is None:
                    raise
                return seen
            if self._watchers:
                self._notify(view)
            return view

    def _default_model_id(self) -> str:
        if self.default_model is None:
            raise UnknownModel("(default)", list(self._models))
        return self.default_model

    # --- updating -------------------------------------------------------------------------

    async def update(
        self,
        session_id: str,
        inp: Input,
        *,
        tenant: str = "default",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """Apply any input to a session; the other ``process_*`` methods call this."""
        check_session_id(session_id)
        inp = check_input(inp)
        if expected_version is not None and (
            not isinstance(expected_version, int)
            or isinstance(expected_version, bool)
            or not 0 <= expected_version < 2**63
        ):
            raise InvalidInput(
                f"expected_version must be an integer from 0 to 2**63 - 1, not {expected_version!r}"
            )
        key = (tenant, session_id)
        if idempotency_key is not None:
            _check_key(idempotency_key)
        async with self._locks.hold(key):
            # Only a keyed update needs the request's fingerprint (hashing costs ~2 us).
            fp = _fingerprint(inp, expected_version) if idempotency_key is not None else ""
            try:
                return await self._apply(key, inp, expected_version, idempotency_key, fp)
            except (VersionConflict, InputError, ModelMismatch, SessionClosed, SessionNotFound):
                # A keyed update is not looked up before it runs: the store refuses to write a
                # key it holds, so a first request costs no read. A retry of an update that
                # was applied is answered from its record when it is refused, here or at the
                # write (IdempotencyKeyReused, in _apply).
                if idempotency_key is not None:
                    seen = await self._idempotent(tenant, key[1], idempotency_key, fp)
                    if seen is not None:
                        return seen
                raise

    async def _apply(
        self,
        key: tuple[str, str],
        inp: Input,
        expected_version: int | None,
        idempotency_key: str | None,
        fp: str,
    ) -> SessionView:
        """Run the step on the session and write it: :meth:`update` under its lock."""
        tenant, session_id = key
        fresh = False
        for attempt in range(MAX_RETRIES):
            cached = None if fresh else self._cache.get(key)  # no coroutine on a cache hit
            session = cached or await self._load(key, fresh=fresh)
            if expected_version is not None and session.version != expected_version:
                if not fresh:  # the cache may be behind another process: check the store
                    fresh = True
                    continue
                raise VersionConflict(session_id, expected_version, session.version)
            model = self.model(session.model_id)
            try:
                result = engine.step(model, session, inp, self._clock())
            except (InputError, ModelMismatch, SessionClosed):
                if not fresh:  # refused by a cached snapshot another process may have
                    fresh = True  # moved on (several server workers): ask the store
                    continue
                raise
            view = SessionView(
                session=result.session, actions=result.actions, events=result.events
            )
            idem = (
                Idempotency(idempotency_key, fp, _encoder.encode(view))
                if idempotency_key is not None
                else None
            )
            # Encoded once: the store keeps these bytes, the cache a copy decoded from them.
            body = encode_session(result.session)
            write = Write(result.session, result.events, session.version, idem, body)
            del result  # fewer objects alive (for the GC to traverse) during the write
            try:
                # what _write does, inline: one coroutine less per update
                await self.store.write(write)
            except VersionConflict:
                self._cache.pop(key)
                if expected_version is not None:
                    raise
                fresh = True  # another process moved the session on: re-read, re-run
                if attempt:
                    # Lost twice or more: the other writer holds a current cache and keeps
                    # winning; a short random wait (growing) lets this one through.
                    await asyncio.sleep(random.uniform(0, 0.0005 * 2**attempt))
                continue
            except IdempotencyKeyReused:
                self._cache.pop(key)
                seen = await self._idempotent(tenant, session_id, idempotency_key or "", fp)
                if seen is not None:
                    return seen
                raise
            except (StoreError, SessionExists):
                self._cache.pop(key)  # what is stored is unknown or newer: read it next time
                raise
            self._cache.put(key, _private(body))
            if self._watchers:
                self._notify(view)
            return view
        raise VersionConflict(session_id, session.version, None)

    # --- watchers -------------------------------------------------------------------------

    def watch(self, watcher: Callable[[SessionView], None]) -> Callable[[], None]:
        """Call ``watcher`` with the view of every session this hub creates or updates from
        now on (whoever asked: a caller, the timer service), after its write; returns the
        function that stops it. A watcher must be quick and must not raise (what it raises
        is logged); it runs on the hub's loop, so it may start a task for anything slow."""
        self._watchers.append(watcher)

        def unwatch() -> None:
            with contextlib.suppress(ValueError):
                self._watchers.remove(watcher)

        return unwatch

    def _notify(self, view: SessionView) -> None:
        for watcher in tuple(self._watchers):
            try:
                watcher(view)
            except Exception:  # a watcher's bug must not fail the update it watches
                log.exception("hub: a watcher failed on session %r", view.session.id)

    async def process_text(self, session_id: str, text: str, **kw: Any) -> SessionView:
        """The user typed ``text``."""
        return await self.update(session_id, Text(text=text), **kw)

    async def process_asr_result(
        self, session_id: str, text: str, confidence: float = 1.0, **kw: Any
    ) -> SessionView:
        """A speech recognizer heard ``text`` with ``confidence``."""
        return await self.update(session_id, ASR(text=text, confidence=confidence), **kw)

    async def process_command_result(
        self,
        session_id: str,
        command_id: str,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
        **kw: Any,
    ) -> SessionView:
        """The application ran command ``command_id``: its outputs, or an error."""
        inp = CommandResult(id=command_id, outputs=outputs or {}, error=error)
        return await self.update(session_id, inp, **kw)

    async def process_event(
        self, session_id: str, name: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> SessionView:
        """A named event (the transitions of XState-style machines)."""
        return await self.update(session_id, EventInput(name=name, params=params), **kw)

    async def jump(
        self,
        session_id: str,
        state: str,
        *,
        params: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        **kw: Any,
    ) -> SessionView:
        """Move the session to ``state`` now; ``variables`` (if given) replace its memory."""
        return await self.update(
            session_id, Jump(state=state, params=params, variables=variables), **kw
        )

    async def set_variables(
        self, session_id: str, variables: dict[str, Any], *, unit: str | None = None, **kw: Any
    ) -> SessionView:
        """Set variables without moving the flow."""
        return await self.update(session_id, SetVariables(variables=variables, unit=unit), **kw)

    async def timeout(self, session_id: str, name: str = "prompt", **kw: Any) -> SessionView:
        """The user did not answer in time."""
        return await self.update(session_id, Timeout(name=name), **kw)

    async def end_session(
        self, session_id: str, reason: str = "ended by request", **kw: Any
    ) -> SessionView:
        """End the session; it keeps its history and takes no more input."""
        return await self.update(session_id, End(reason=reason), **kw)

    async def request(self, session_id: str, text: str, *, tenant: str = "default") -> SessionView:
        """One call per user message: creates the session (default model) on first mention.

        On first mention the view holds the session's opening actions followed by the
        answer to ``text``.
        """
        check_session_id(session_id)
        opening: SessionView | None = None
        if await self._peek(tenant, session_id) is None:
            try:
                opening = await self.create_session(session_id=session_id, tenant=tenant)
            except SessionExists:  # created concurrently by another request: just use it
                opening = None
        view = await self.process_text(session_id, text, tenant=tenant)
        if opening is None:
            return view
        first = tuple(a for a in opening.actions if not isinstance(a, WaitForUser))
        return SessionView(
            session=view.session,
            actions=first + view.actions,
            events=opening.events + view.events,
        )

    # --- reading --------------------------------------------------------------------------

    async def get_session(
        self, session_id: str, *, at: int | None = None, tenant: str = "default"
    ) -> Session:
        """The session's current snapshot, or as it was right after event ``at``.

        Reading the past costs O(events since the nearest kept snapshot), whatever the length
        of the history. Raises SessionNotFound; InvalidInput if ``at`` is not in the log.
        """
        check_session_id(session_id)
        session = await self.store.load(session_id, tenant=tenant)
        if session is None:
            raise SessionNotFound(session_id)
        if at is None or at == session.seq:
            return session
        return await rewind(self.store, session, at)

    async def fork_session(
        self,
        session_id: str,
        *,
        at: int | None = None,
        new_id: str | None = None,
        tenant: str = "default",
    ) -> Session:
        """Start a new session where ``session_id`` was after event ``at`` (the latest if
        None), with a history of its own; returns it. SessionExists if ``new_id`` is taken.

        A fork point inside an update moves to that update's end: a session only rests
        between updates. The fork's log begins with one ``session_forked`` event.
        """
        current = await self.get_session(session_id, tenant=tenant)
        fork_id = check_session_id(new_id) if new_id is not None else uuid.uuid4().hex
        if fork_id == session_id:
            raise InvalidInput("a fork needs a session id other than its source's")
        source = await fork_source(self.store, current, at)
        session, event = fork_snapshot(source, fork_id, now=self._clock())
        await self._write((tenant, fork_id), Write(session, [event], 0))
        return session

    def export_sessions(
        self,
        *,
        tenant: str = "default",
        model: str | None = None,
        state: str | None = None,
        status: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[tuple[Session, list[Event]]]:
        """Every matching session with its whole log, oldest first, read page by page:
        ``async for session, events in hub.export_sessions(model="pizza"): ...``.

        Memory holds one page of snapshots and one session's log at a time. Each session is
        exported as the snapshot the listing read, with exactly the events up to it, even if
        it is updated meanwhile. See :mod:`dialoghub.hub.transfer` for the file format.
        """
        if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
            raise InvalidInput(f"page_size must be an integer from 1 to 1000, not {page_size!r}")
        if status is not None and status not in ("active", "ended", "expired"):
            raise InvalidInput(f"status must be active, ended or expired, not {status!r}")
        return export_sessions(
            self.store, tenant=tenant, model=model, state=state, status=status, page_size=page_size
        )

    async def import_session(self, session: Session, events: Sequence[Event]) -> None:
        """Store a session exported from another store, with its whole log, in one
        transaction; its model need not be loaded.

        Raises InvalidInput if the events do not fold exactly into ``session`` (nothing is
        written) and SessionExists if its (tenant, id) is taken. The time-travel snapshots
        and timer of the session are rebuilt as its original writes made them.
        """
        key = (session.tenant, session.id)
        async with self._locks.hold(key):
            self._cache.pop(key)
            await import_session(self.store, session, events)

    async def purge(self, *, older_than: float, batch: int = 1000) -> int:
        """Delete ended and expired sessions last updated more than ``older_than`` seconds
        ago, with their histories, ``batch`` sessions per store transaction; how many.

        The same pass deletes the idempotency records older than ``idempotency_retention``
        (of every session, active ones too), ``batch`` per transaction.
        """
        if not isinstance(batch, int) or not 1 <= batch <= 100_000:
            raise InvalidInput(f"batch must be an integer from 1 to 100000, not {batch!r}")
        if not isinstance(older_than, int | float) or older_than < 0:
            raise InvalidInput(f"older_than must be seconds >= 0, not {older_than!r}")
        now = self._clock()
        before = now - older_than
        total = 0
        while True:
            deleted = await self.store.purge(before, limit=batch)
            total += deleted
            if deleted < batch:
                break
        await self.purge_idempotency(batch=batch, now=now)
        return total

    async def purge_idempotency(self, *, batch: int = 1000, now: float | None = None) -> int:
        """Delete the idempotency records older than ``idempotency_retention`` (of every
        session, active ones too), ``batch`` per store transaction; how many. The server's
        timer service calls it every few minutes."""
        before = (self._clock() if now is None else now) - self.idempotency_retention
        total = 0
        while True:
            deleted = await self.store.purge_idempotency(before, limit=batch)
            total += deleted
            if deleted < batch:
                return total

    async def list_sessions(
        self,
        *,
        model: str | None = None,
        state: str | None = None,
        status: str | None = None,
        tenant: str | None = "default",
        limit: int = 50,
        cursor: str | None = None,
        text: str | None = None,
    ) -> Page:
        """Sessions, oldest first, filtered; pass ``page.next_cursor`` for the next page.

        ``tenant=None``: every tenant's, by tenant then oldest first (an operator's view).
        ``text``: only sessions whose id or metadata holds it (case-insensitive, at most 100
        characters); a search page examines a bounded number of sessions, so it may come
        back short or empty with a ``next_cursor``: only a None cursor ends the listing."""
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be an integer from 1 to 1000, not {limit!r}")
        if status is not None and status not in ("active", "ended", "expired"):
            raise InvalidInput(f"status must be active, ended or expired, not {status!r}")
        flt = SessionFilter(tenant=tenant, model_id=model, state=state, status=status, text=text)
        return await self.store.list_sessions(flt, limit=limit, cursor=cursor)

    async def events(
        self, session_id: str, *, after: int = 0, limit: int = 100, tenant: str = "default"
    ) -> list[Event]:
        """The session's events with ``seq > after``, at most ``limit``, in order."""
        check_session_id(session_id)
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be an integer from 1 to 10000, not {limit!r}")
        if not isinstance(after, int) or after < 0:
            raise InvalidInput(f"after must be a non-negative integer, not {after!r}")
        if await self._peek(tenant, session_id) is None:
            raise SessionNotFound(session_id)
        return await self.store.events(session_id, tenant=tenant, after=after, limit=limit)

    async def delete_session(self, session_id: str, *, tenant: str = "default") -> bool:
        """Delete a session and its history; False if there was none."""
        check_session_id(session_id)
        key = (tenant, session_id)
        async with self._locks.hold(key):
            self._cache.pop(key)
            return await self.store.delete(session_id, tenant=tenant)

    def now(self) -> float:
        """The hub's clock (seconds since the epoch): what its updates, timers and retention
        read, so a test or a replay can run a hub on a clock of its own."""
        return self._clock()

    async def incarnation(self, session_id: str, *, tenant: str = "default") -> float | None:
        """When the session with this id was created (its ``created_at``) as this hub last
        saw it: its cache, else the store; None if there is none. A session deleted and
        created again under the same id is another incarnation (another ``created_at``)."""
        session = await self._peek(tenant, check_session_id(session_id))
        return None if session is None else session.created_at

    def start_detached(
        self,
        model_id: str | None,
        session_id: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tenant: str = "default",
    ) -> SessionView:
        """Start a session the caller keeps (e.g. sealed in a stateless token): the checks
        and the engine of :meth:`create_session`, on the hub's clock; nothing is stored."""
        model = self.model(self._default_model_id() if model_id is None else model_id)
        sid = check_session_id(session_id) if session_id is not None else uuid.uuid4().hex
        for name, value in (("metadata", metadata), ("params", params)):
            if value is not None and not isinstance(value, dict):
                raise InvalidInput(f"{name} must be a mapping, not {type(value).__name__}")
            check_storable(value, name)
        result = engine.start(
            model,
            sid,
            now=self._clock(),
            tenant=tenant,
            metadata=metadata,
            params=params,
            lifetime=getattr(model, "lifetime", None) or self.lifetime,
        )
        return SessionView(session=result.session, actions=result.actions, events=result.events)

    def step_detached(self, session: Session, inp: Input) -> SessionView:
        """Apply ``inp`` to a session the caller keeps (see :meth:`start_detached`): the
        checks and the engine of :meth:`update`, with the session's own model; nothing is
        stored, nothing is locked, nothing reaches the cache."""
        inp = check_input(inp)
        result = engine.step(self.model(session.model_id), session, inp, self._clock())
        return SessionView(session=result.session, actions=result.actions, events=result.events)

    # --- internals ------------------------------------------------------------------------

    async def _peek(self, tenant: str, session_id: str) -> Session | None:
        cached = self._cache.get((tenant, session_id))
        return cached or await self.store.load(session_id, tenant=tenant)

    async def _load(self, key: tuple[str, str], *, fresh: bool) -> Session:
        session = None if fresh else self._cache.get(key)
        if session is None:
            session = await self.store.load(key[1], tenant=key[0])
            if session is None:
                self._cache.pop(key)
                raise SessionNotFound(key[1])
            self._cache.put(key, session)
        return session

    async def _write(self, key: tuple[str, str], write: Write) -> None:
        if write.body is None:  # encoded once, for the store and the cache's copy
            write = dataclasses.replace(write, body=encode_session(write.session))
        assert write.body is not None
        try:
            await self.store.write(write)
        except (StoreError, VersionConflict, IdempotencyKeyReused, SessionExists):
            self._cache.pop(key)  # what is stored is unknown or newer: read it next time
            raise
        self._cache.put(key, _private(write.body))

    async def _idempotent(
        self, tenant: str, session_id: str, key: str, fingerprint: str
    ) -> SessionView | None:
        _check_key(key)
        record = await self.store.idempotent(session_id, key, tenant=tenant)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(session_id, key)
        try:
            return _view_decoder.decode(record.response)
        except msgspec.DecodeError as exc:  # pragma: no cover - stored by this code
            raise ModelError(f"stored idempotent response is unreadable: {exc}") from exc
