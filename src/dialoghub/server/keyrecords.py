"""What a key store keeps and does: :class:`KeyRecord` (an API key as stored),
:class:`TokenSecret` (a token-signing secret and its state) and the :class:`KeyStore`
protocol that every implementation follows.

The implementations import this module: the SQLite and memory ones in
:mod:`~dialoghub.server.keystore` (with :func:`~dialoghub.server.keystore.open_keystore`,
which picks one by URL scheme), the PostgreSQL one in :mod:`~dialoghub.server.keys_postgres`
and the Redis one in :mod:`~dialoghub.server.keys_redis`. :mod:`~dialoghub.server.keystore`
re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["SECRET_STATES", "KeyRecord", "KeyStore", "TokenSecret"]

#: The states of a token secret, in lifecycle order (an old active secret goes back to verify).
SECRET_STATES: tuple[str, ...] = ("verify", "active", "retired")


@dataclass(frozen=True, slots=True)
class TokenSecret:
    """One token-signing secret as stored: ``state`` is verify, active or retired."""

    kid: str
    secret: bytes
    created_at: float
    state: str = "verify"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One API key as stored: its public id, tenant, scopes and the hash of its secret."""

    key_id: str
    tenant: str
    scopes: tuple[str, ...]
    secret_hash: str
    name: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        """True once the key was revoked."""
        return self.revoked_at is not None


class KeyStore(Protocol):
    """API keys and token secrets; every method may raise StoreError."""

    async def open(self) -> None:
        """Create the tables if needed."""

    async def close(self) -> None:
        """Release the connection."""

    async def add_key(self, record: KeyRecord) -> None:
        """Store a new key."""

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not, or None."""

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key (of ``tenant`` if given), oldest first."""

    async def revoke_key(self, key_id: str, now: float, tenant: str | None = None) -> bool:
        """Mark a key revoked; False if there is no such (live) key (in ``tenant``)."""

    async def token_secrets(self) -> list[TokenSecret]:
        """Every token secret (retired ones included), newest first."""

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new secret in the ``verify`` state (rotation, phase one)."""

    async def ensure_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Atomically store this secret as the active one unless one is already active."""

    async def activate_token_secret(self, kid: str) -> bool:
        """Make a ``verify`` secret the active one; the active one goes back to ``verify``.
        False if ``kid`` is not a secret in the verify state."""

    async def retire_token_secret(self, kid: str) -> bool:
        """Retire a ``verify`` secret: tokens it signed are refused once servers reload.
        False if ``kid`` is not a secret in the verify state (the active one cannot retire)."""
