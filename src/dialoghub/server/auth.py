"""Tenants, API keys and scopes.

A key looks like ``dh_<key id>_<secret>`` and is sent as ``Authorization: Bearer KEY``. The
key id is public (it is what ``dialoghub keys list`` shows and what revocation names); only
the SHA-256 of the secret is stored, which is enough for a 192-bit random secret. Each key
belongs to one tenant and carries scopes: ``read`` (GET routes, attaching to sessions),
``write`` (create and move sessions; implies read) and ``admin`` (manage the tenant's keys;
implies write). Every session a key creates or sees belongs to its tenant, and a session of
another tenant is simply not found.

:class:`Authenticator` caches verified keys for a few seconds so a request costs no store
read; a revocation made through this process takes effect at once, one made elsewhere (the
CLI, another server process) within ``cache_seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from dialoghub.errors import InvalidInput
from dialoghub.server.errors import Forbidden, Unauthorized
from dialoghub.server.keystore import KeyRecord, KeyStore

__all__ = [
    "SCOPES",
    "Authenticator",
    "Principal",
    "create_key",
    "hash_secret",
    "parse_key",
]

#: Every scope, weakest first; each implies the ones before it.
SCOPES: tuple[str, ...] = ("read", "write", "admin")
_PREFIX = "dh"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant, the key id and the scopes it holds."""

    tenant: str
    key_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """Raise Forbidden unless this principal holds ``scope`` (or a stronger one)."""
        if scope not in self.scopes:
            raise Forbidden(
                f"this API key lacks the {scope!r} scope; create one with "
                f"'dialoghub keys create --scope {scope}'",
                scope=scope,
                key_id=self.key_id,
            )


def expand(scopes: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The scopes a key really holds: each granted scope plus the weaker ones it implies."""
    held: set[str] = set()
    for scope in scopes:
        if scope in SCOPES:
            held.update(SCOPES[: SCOPES.index(scope) + 1])
    return frozenset(held)


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed key, else None."""
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _check_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > 100 or not all(c.isalnum() or c in "-_." for c in tenant):
        raise InvalidInput(
            f"invalid tenant {tenant!r}: 1 to 100 letters, digits, '-', '_' or '.'",
            tenant=tenant,
        )
    return tenant


async def create_key(
    store: KeyStore,
    tenant: str,
    *,
    scopes: tuple[str, ...] = ("write",),
    name: str = "",
    now: float | None = None,
) -> tuple[str, KeyRecord]:
    """Create and store a new key; return the full key (shown once) and its record."""
    _check_tenant(tenant)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(
            f"unknown scope(s) {unknown}; use some of {', '.join(SCOPES)}", scopes=list(scopes)
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24).replace("_", "-")
    record = KeyRecord(
        key_id=key_id,
        tenant=tenant,
        scopes=tuple(sorted(set(scopes), key=SCOPES.index)),
        secret_hash=hash_secret(secret),
        name=name,
        created_at=time.time() if now is None else now,
    )
    await store.add_key(record)
    return f"{_PREFIX}_{key_id}_{secret}", record


_EVERYONE = Principal("default", "-", frozenset(SCOPES))


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal`, or raises Unauthorized."""

    def __init__(
        self,
        store: KeyStore | None,
        *,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[Principal, str, float]] = {}  # key id -> (p, hash, until)
        # The exact header value of a key verified lately -> (principal, until): a request
        # with a known key costs one dict lookup, no parsing and no hashing.
        self._verified: dict[str, tuple[Principal, float]] = {}

    @property
    def enabled(self) -> bool:
        """False when the server runs without keys (every caller is tenant ``default``)."""
        return self.store is not None

    async def authenticate(self, header: str | None) -> Principal:
        """Verify ``Bearer KEY`` (or a bare key, as sent in a query parameter)."""
        if self.store is None:
            return _EVERYONE
        if header is not None:
            seen = self._verified.get(header)
            if seen is not None and seen[1] > self._clock():
                return seen[0]
        if not header:
            raise Unauthorized("missing API key; send 'Authorization: Bearer <key>'")
        scheme, _, value = header.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else header.strip()
        parsed = parse_key(key)
        if parsed is None:
            raise Unauthorized("malformed API key; keys look like dh_<id>_<secret>")
        key_id, secret = parsed
        digest = hash_secret(secret)
        cached = self._cache.get(key_id)
        now = self._clock()
        if cached is not None and cached[2] > now:
            principal, stored_hash, _ = cached
        else:
            record = await self.store.get_key(key_id)
            if record is None or record.revoked:
                self._cache.pop(key_id, None)
                raise Unauthorized("unknown or revoked API key", key_id=key_id)
            principal = Principal(record.tenant, record.key_id, expand(record.scopes))
            stored_hash = record.secret_hash
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (principal, stored_hash, now + self.cache_seconds)
        if not hmac.compare_digest(stored_hash, digest):
            raise Unauthorized("unknown or revoked API key", key_id=key_id)
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[header] = (principal, self._cache[key_id][2])
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a cached key (after revoking it) so the next request re-reads the store."""
        self._cache.pop(key_id, None)
        for header, (principal, _) in list(self._verified.items()):
            if principal.key_id == key_id:
                del self._verified[header]
