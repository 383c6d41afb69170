"""Text search in a listing (``SessionFilter.text``): a session id or its metadata.

No store keeps an index of words: metadata lives inside the snapshot (set once, at creation),
and a text index would cost every write, which the listing must not. So a search walks the
listing's own keyset order (after the other filters, which use their indexes) and tests each
session, **within a budget**: one page examines at most :data:`SCAN_BUDGET` sessions. A page
whose budget ran out before it was full comes back short (even empty) with a
``next_cursor`` that continues right after the last session examined; so a request costs
O(budget) on every backend, whatever the store holds, and a caller who wants more asks for
the next page. A short page with a cursor is not the end; only ``next_cursor`` None is.

The needle never reaches a query language: it is compared in Python after the rows are read,
so there is no LIKE pattern to escape and no injection to fear; it is bounded
(:data:`MAX_TEXT` characters, no control characters) before anything is read.

How it scales, backend by backend: the in-process stores (memory, json) test sessions in
place; SQLite and PostgreSQL read the snapshots of the listing's index walk in batches of
500 rows; Redis runs the listing's Lua script per batch, which reads 500 snapshot hashes
inside Redis (Redis serves nothing else for those few milliseconds) and sends them to this
process. So on every backend a search page costs up to 2,000 snapshots read and decoded
(tens of milliseconds), and finding a rare text among N sessions costs N / 2,000 requests:
fine for an operator's console over thousands to a few million sessions, not a search
engine. A text index (SQLite FTS5, PostgreSQL trigram, RediSearch) written with the
session's creation would make it O(matches); none is written today.

What matches: the needle, case-folded, is a substring of the case-folded session id, of a
metadata key, or of a metadata value written as text (a string as itself, a number, a
boolean or null as JSON spells it), at any depth of nested lists and mappings.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from dialoghub.engine.records import Session
from dialoghub.errors import InvalidInput
from dialoghub.stores._common import encode_cursor
from dialoghub.stores.base import Page

__all__ = ["MAX_TEXT", "SCAN_BUDGET", "check_text", "matches", "search_page"]

#: The longest search text, in characters.
MAX_TEXT: Final = 100
#: Sessions one search page examines at most (its cost bound).
SCAN_BUDGET: Final = 2000
#: Sessions read from the store at a time while a page is filled.
_BATCH: Final = 500
#: Metadata nodes one session's test looks at, at most (metadata is bounded on the way in;
#: this bounds the test even for a store written by something else).
_MAX_NODES: Final = 10_000

#: ``fetch(after, n)``: up to ``n`` sessions of the listing after creation order ``after``,
#: in order, each with its order (the other filters applied).
Fetch = Callable[[int, int], Awaitable[Sequence[tuple[int, Session]]]]


def check_text(text: str) -> str:
    """The needle of a search text (case-folded); InvalidInput when it is empty, longer than
    :data:`MAX_TEXT` characters or holds a control character."""
    if not isinstance(text, str):
        raise InvalidInput(f"search text must be a string, not {type(text).__name__}")
    if not 1 <= len(text) <= MAX_TEXT:
        raise InvalidInput(
            f"search text must be 1 to {MAX_TEXT} characters, not {len(text)}",
            length=len(text),
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise InvalidInput("search text must not hold control characters")
    return text.casefold()


def _texts(value: Any, out: list[str], budget: list[int]) -> None:
    """Every key and scalar of ``value`` as text, into ``out`` (at most ``budget[0]``)."""
    stack = [value]
    while stack and budget[0] > 0:
        item = stack.pop()
        budget[0] -= 1
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                out.append(str(k))
                stack.append(v)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            out.append(json.dumps(item) if item is None or isinstance(item, bool) else str(item))


def matches(session: Session, needle: str) -> bool:
    """Whether ``session``'s id or metadata holds ``needle`` (already case-folded)."""
    if needle in session.id.casefold():
        return True
    if not session.metadata:
        return False
    texts: list[str] = []
    _texts(session.metadata, texts, [_MAX_NODES])
    return any(needle in t.casefold() for t in texts)


async def search_page(fetch: Fetch, needle: str, *, after: int, limit: int, tag: str) -> Page:
    """One page of a search: the sessions ``fetch`` yields after ``after`` that match
    ``needle``, at most ``limit``, examining at most :data:`SCAN_BUDGET`; the cursor is the
    store's own (``tag``), so a search page continues like any listing page."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    found: list[Session] = []
    found_last = after
    examined = 0
    last = after
    while examined < SCAN_BUDGET:
        n = min(_BATCH, SCAN_BUDGET - examined)
        rows = await fetch(last, n)
        for order, session in rows:
            if matches(session, needle):
                if len(found) == limit:  # one more match: there is a next page
                    return Page(found, encode_cursor(tag, found_last))
                found.append(session)
                found_last = order
            examined += 1
            last = order
        if len(rows) < n:  # the listing ended inside the budget
            return Page(found, None)
    # The budget ran out: continue after the last session examined (every match up to it
    # is in this page).
    return Page(found, encode_cursor(tag, last))
