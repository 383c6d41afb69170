"""Moving sessions between stores: the JSON Lines format of ``dialoghub sessions export|import``.

One line per session, the msgspec JSON of its records::

    {"session": {...the Session snapshot...}, "events": [[seq, version, time, type, data], ...]}

``events`` is the session's whole log, so a line carries everything a store keeps about a
session except idempotency records (answers to retried requests, useless in another store).
The line is all an importer needs: the kept snapshots for time travel and the timer and
retention indexes are rebuilt from it by :meth:`~dialoghub.stores.base.Store.import_session`.

Export reads page by page (:meth:`~dialoghub.stores.base.Store.list_sessions`, then the
events of one session at a time), so memory holds one page and one history, never the store.
Import refuses a line whose log does not fold into its snapshot (invariant 1 of
ARCHITECTURE.md): a store never receives a session its own history contradicts.

:meth:`dialoghub.hub.Hub.export_sessions` and :meth:`dialoghub.hub.Hub.import_session` are the
public face; the CLI (:mod:`dialoghub.cli.store`) only adds files and a progress bar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import msgspec

from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import Event, Session
from dialoghub.engine.values import check_session_id
from dialoghub.errors import InvalidInput
from dialoghub.stores.base import SessionFilter, Store, keeps_snapshot

__all__ = ["Line", "decode_line", "encode_line", "export_sessions", "fold_log", "import_session"]

#: Events read per call while exporting one session's log.
EVENTS_PAGE = 1000


class Line(msgspec.Struct, forbid_unknown_fields=True):
    """One line of an export: a session and its whole log."""

    session: Session
    events: list[Event]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Line)


def encode_line(session: Session, events: Sequence[Event]) -> bytes:
    """The JSON line (with its newline) of one session."""
    return _encoder.encode(Line(session, list(events))) + b"\n"


def decode_line(data: bytes | str) -> Line:
    """Parse one line; InvalidInput says what is wrong (not JSON, a field of the wrong type
    and where, e.g. ``Expected `int`, got `str` - at `$.session.version```)."""
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"not a session record: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}") from None


def fold_log(session: Session, events: Sequence[Event]) -> list[Session]:
    """Check that ``events`` fold exactly into ``session``; the states a store keeps for time
    travel along the way (every :data:`~dialoghub.stores.base.SNAPSHOT_EVERY` versions).

    Raises InvalidInput naming the fields that differ, or the event that cannot be applied.
    """
    state: Session | None = None
    kept: list[Session] = []
    for i, event in enumerate(events):
        try:
            state = apply(state, event)
        except Exception as exc:  # a malformed event: whatever fold raised, it is bad data
            raise InvalidInput(
                f"session {session.id!r}: event {event.seq} ({event.type}) cannot be applied: "
                f"{type(exc).__name__}: {exc}",
                session_id=session.id,
            ) from None
        last_of_update = i + 1 == len(events) or events[i + 1].version != event.version
        if last_of_update and keeps_snapshot(state):
            kept.append(copy_session(state))
    if state is None:
        raise InvalidInput(
            f"session {session.id!r} has no events; its log must fold into its snapshot",
            session_id=session.id,
        )
    if state != session:
        fields = [
            name
            for name in Session.__struct_fields__
            if getattr(state, name) != getattr(session, name)
        ]
        first = fields[0]
        raise InvalidInput(
            f"session {session.id!r}: its events do not reproduce its snapshot ("
            + ", ".join(fields)
            + (" differ" if len(fields) > 1 else " differs")
            + f"; {first}: the events give {getattr(state, first)!r}, the snapshot "
            f"has {getattr(session, first)!r})",
            session_id=session.id,
            fields=fields,
        )
    return kept


async def export_sessions(
    store: Store,
    *,
    tenant: str = "default",
    model: str | None = None,
    state: str | None = None,
    status: str | None = None,
    page_size: int = 100,
) -> AsyncIterator[tuple[Session, list[Event]]]:
    """Every matching session with its whole log, oldest first; see
    :meth:`dialoghub.hub.Hub.export_sessions`."""
    flt = SessionFilter(tenant=tenant, model_id=model, state=state, status=status)
    cursor: str | None = None
    while True:
        page = await store.list_sessions(flt, limit=page_size, cursor=cursor)
        for session in page.sessions:
            events: list[Event] = []
            # Events up to the snapshot's seq never change: a session updated meanwhile
            # still exports as the snapshot read, with exactly its log.
            while len(events) < session.seq:
                after = events[-1].seq if events else 0
                more = await store.events(
                    session.id,
                    tenant=session.tenant,
                    after=after,
                    limit=min(EVENTS_PAGE, session.seq - after),
                )
                if not more:
                    break
                events.extend(e for e in more if e.seq <= session.seq)
            if len(events) == session.seq:  # else it was deleted while being read
                yield session, events
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def import_session(store: Store, session: Session, events: Sequence[Event]) -> None:
    """Check and store one session; see :meth:`dialoghub.hub.Hub.import_session`."""
    check_session_id(session.id)
    if not isinstance(session.tenant, str) or not session.tenant:
        raise InvalidInput(f"session {session.id!r} has an invalid tenant {session.tenant!r}")
    kept = fold_log(session, events)
    await store.import_session(session, events, snapshots=kept)
