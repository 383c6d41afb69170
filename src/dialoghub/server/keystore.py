"""Where API keys and token-signing secrets live: next to the sessions, in the same database.

A :class:`KeyStore` is a small protocol of its own rather than new methods on every session
store, so the session stores stay untouched: ``open_keystore(url)`` picks an implementation by
URL scheme. The records and the protocol live in :mod:`~dialoghub.server.keyrecords` (which
the PostgreSQL and Redis implementations import, as this module imports them) and are
re-exported here. ``sqlite://`` keeps two extra tables (``dialoghub_api_keys`` and
``dialoghub_token_keys``) in the sessions' database file; ``postgresql://`` the same tables in
the sessions' schema (:mod:`~dialoghub.server.keys_postgres`); ``redis://`` hashes under the
sessions' key prefix (:mod:`~dialoghub.server.keys_redis`); ``memory://`` keeps them in
process. The drivers are imported only when their scheme is used.

Only a hash of each API key's secret is stored; the secret is shown once, at creation.

Token-signing secrets (:class:`TokenSecret`) go through three states: ``verify`` (accepted
when verifying tokens, never used for signing: a new secret waits here until every server has
it, and an old one drains here after it stopped signing), ``active`` (signs; at most one, which
a unique index / a Lua script enforces) and ``retired`` (accepted nowhere). The first server
to start on an empty store creates the active secret with an atomic insert-if-none
(``INSERT ... ON CONFLICT DO NOTHING`` / one Lua script) and then re-reads it, so servers
starting together all end up with the same one.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from urllib.parse import urlsplit

from dialoghub.errors import StoreConfigError, StoreError
from dialoghub.server.keyrecords import SECRET_STATES, KeyRecord, KeyStore, TokenSecret
from dialoghub.stores import open_store
from dialoghub.stores.sqlite import enable_wal

__all__ = [
    "SECRET_STATES",
    "KeyRecord",
    "KeyStore",
    "MemoryKeyStore",
    "SQLiteKeyStore",
    "TokenSecret",
    "open_keystore",
]


class MemoryKeyStore:
    """Keys in process memory (for ``memory://`` stores and tests)."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._secrets: list[TokenSecret] = []  # newest first

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close; the keys stay for the life of the object."""

    async def add_key(self, record: KeyRecord) -> None:
        """Store a new key."""
        self._keys[record.key_id] = record

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        return self._keys.get(key_id)

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key (of ``tenant``), oldest first."""
        keys = sorted(self._keys.values(), key=lambda r: r.created_at)
        return [k for k in keys if tenant is None or k.tenant == tenant]

    async def revoke_key(self, key_id: str, now: float, tenant: str | None = None) -> bool:
        """Mark a key revoked."""
        record = self._keys.get(key_id)
        if record is None or record.revoked or (tenant is not None and record.tenant != tenant):
            return False
        self._keys[key_id] = replace(record, revoked_at=now)
        return True

    async def token_secrets(self) -> list[TokenSecret]:
        """Every secret, newest first."""
        return list(self._secrets)

    def _add(self, record: TokenSecret) -> None:
        if any(s.kid == record.kid for s in self._secrets):
            raise StoreError(f"token secret {record.kid!r} exists")
        self._secrets.insert(0, record)
        self._secrets.sort(key=lambda s: -s.created_at)

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new secret in the verify state."""
        self._add(TokenSecret(kid, secret, now, "verify"))

    async def ensure_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """The active secret unless one exists (no await in between: atomic in the loop)."""
        if not any(s.state == "active" for s in self._secrets):
            self._add(TokenSecret(kid, secret, now, "active"))

    def _set(self, kid: str, state: str) -> None:
        self._secrets = [replace(s, state=state) if s.kid == kid else s for s in self._secrets]

    async def activate_token_secret(self, kid: str) -> bool:
        """Promote a verify secret; demote the active one to verify."""
        if not any(s.kid == kid and s.state == "verify" for s in self._secrets):
            return False
        for s in self._secrets:
            if s.state == "active":
                self._set(s.kid, "verify")
        self._set(kid, "active")
        return True

    async def retire_token_secret(self, kid: str) -> bool:
        """Retire a verify secret."""
        if not any(s.kid == kid and s.state == "verify" for s in self._secrets):
            return False
        self._set(kid, "retired")
        return True


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dialoghub_api_keys (key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL,"
    " scopes TEXT NOT NULL, secret_hash TEXT NOT NULL, name TEXT NOT NULL,"
    " created_at REAL NOT NULL, revoked_at REAL)",
    "CREATE INDEX IF NOT EXISTS dialoghub_api_keys_by_tenant"
    " ON dialoghub_api_keys (tenant, created_at)",
    "CREATE TABLE IF NOT EXISTS dialoghub_token_keys (kid TEXT PRIMARY KEY,"
    " secret BLOB NOT NULL, created_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'verify')",
)
# At most one active secret: the conflict an insert-if-none relies on.
_ONE_ACTIVE = (
    "CREATE UNIQUE INDEX IF NOT EXISTS dialoghub_token_keys_one_active"
    " ON dialoghub_token_keys (state) WHERE state = 'active'"
)
# A table from before the states: every secret verified and the newest signed.
_PROMOTE_NEWEST = (
    "UPDATE dialoghub_token_keys SET state = 'active' WHERE kid = (SELECT kid FROM"
    " dialoghub_token_keys ORDER BY created_at DESC LIMIT 1)"
    " AND NOT EXISTS (SELECT 1 FROM dialoghub_token_keys WHERE state = 'active')"
)
_COLUMNS = "key_id, tenant, scopes, secret_hash, name, created_at, revoked_at"


def _row(row: tuple[str, str, str, str, str, float, float | None]) -> KeyRecord:
    key_id, tenant, scopes, secret_hash, name, created_at, revoked_at = row
    return KeyRecord(
        key_id, tenant, tuple(s for s in scopes.split(",") if s), secret_hash, name,
        created_at, revoked_at,
    )


class SQLiteKeyStore:
    """Keys in two tables of the sessions' SQLite file; one connection used from threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                               check_same_thread=False)
        enable_wal(conn, 10.0)  # retried: another server may be opening the file too
        conn.execute("BEGIN IMMEDIATE")  # one process at a time creates or upgrades
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            columns = [r[1] for r in conn.execute("PRAGMA table_info(dialoghub_token_keys)")]
            if "state" not in columns:
                conn.execute("ALTER TABLE dialoghub_token_keys ADD COLUMN state TEXT NOT NULL"
                             " DEFAULT 'verify'")
                conn.execute(_PROMOTE_NEWEST)
            conn.execute(_ONE_ACTIVE)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise
        self._conn = conn

    async def _run(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        def run() -> list[tuple[object, ...]]:
            with self._lock:
                if self._conn is None:
                    raise StoreError(f"key store {self.path} is not open")
                try:
                    return self._conn.execute(sql, args).fetchall()
                except sqlite3.Error as exc:
                    raise StoreError(f"API key table of {self.path}: {exc}") from exc

        return await asyncio.to_thread(run)

    async def open(self) -> None:
        """Connect and create the key tables if they are missing."""
        try:
            await asyncio.to_thread(self._connect)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the API key tables in {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def add_key(self, record: KeyRecord) -> None:
        """Store a new key."""
        await self._run(
            f"INSERT INTO dialoghub_api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.key_id, record.tenant, ",".join(record.scopes), record.secret_hash,
             record.name, record.created_at, record.revoked_at),
        )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        rows = await self._run(
            f"SELECT {_COLUMNS} FROM dialoghub_api_keys WHERE key_id = ?", (key_id,)
        )
        return _row(rows[0]) if rows else None  # type: ignore[arg-type]

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key (of ``tenant``), oldest first."""
        if tenant is None:
            rows = await self._run(
                f"SELECT {_COLUMNS} FROM dialoghub_api_keys ORDER BY created_at"
            )
        else:
            rows = await self._run(
                f"SELECT {_COLUMNS} FROM dialoghub_api_keys WHERE tenant = ?"
                " ORDER BY created_at",
                (tenant,),
            )
        return [_row(r) for r in rows]  # type: ignore[arg-type]

    async def revoke_key(self, key_id: str, now: float, tenant: str | None = None) -> bool:
        """Mark a key revoked."""
        rows = await self._run(
            "UPDATE dialoghub_api_keys SET revoked_at = ? WHERE key_id = ?"
            " AND revoked_at IS NULL AND (? IS NULL OR tenant = ?) RETURNING key_id",
            (now, key_id, tenant, tenant),
        )
        return bool(rows)

    async def token_secrets(self) -> list[TokenSecret]:
        """Every secret, newest first."""
        rows = await self._run(
            "SELECT kid, secret, created_at, state FROM dialoghub_token_keys"
            " ORDER BY created_at DESC, kid"
        )
        return [TokenSecret(str(k), bytes(s), float(c), str(st))  # type: ignore[call-overload,arg-type]
                for k, s, c, st in rows]

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new secret in the verify state."""
        await self._run(
            "INSERT INTO dialoghub_token_keys (kid, secret, created_at, state)"
            " VALUES (?, ?, ?, 'verify')",
            (kid, secret, now),
        )

    async def ensure_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Insert as active; the one-active index makes a second insert do nothing."""
        await self._run(
            "INSERT INTO dialoghub_token_keys (kid, secret, created_at, state)"
            " VALUES (?, ?, ?, 'active') ON CONFLICT DO NOTHING",
            (kid, secret, now),
        )

    async def _transition(self, statements: list[str], kid: str) -> bool:
        def run() -> bool:
            with self._lock:
                if self._conn is None:
                    raise StoreError(f"key store {self.path} is not open")
                conn = self._conn
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        row = conn.execute(
                            "SELECT state FROM dialoghub_token_keys WHERE kid = ?", (kid,)
                        ).fetchone()
                        if row is None or row[0] != "verify":
                            conn.execute("ROLLBACK")
                            return False
                        for sql in statements:
                            conn.execute(sql, (kid,) if "?" in sql else ())
                        conn.execute("COMMIT")
                        return True
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                except sqlite3.Error as exc:
                    raise StoreError(f"token secrets of {self.path}: {exc}") from exc

        return await asyncio.to_thread(run)

    async def activate_token_secret(self, kid: str) -> bool:
        """Promote a verify secret, demote the active one, in one transaction."""
        return await self._transition([
            "UPDATE dialoghub_token_keys SET state = 'verify' WHERE state = 'active'",
            "UPDATE dialoghub_token_keys SET state = 'active' WHERE kid = ?",
        ], kid)

    async def retire_token_secret(self, kid: str) -> bool:
        """Retire a verify secret."""
        return await self._transition(
            ["UPDATE dialoghub_token_keys SET state = 'retired' WHERE kid = ?"], kid
        )


async def open_keystore(url: str) -> KeyStore:
    """Open the key store of a store URL: ``memory://``, a ``sqlite://`` file, a
    ``postgresql://`` schema or a ``redis://`` prefix (where that store keeps its sessions)."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        mem = MemoryKeyStore()
        await mem.open()
        return mem
    if parts.scheme == "sqlite":
        # The session store creates its schema first: it refuses a new file that already
        # has other tables, so it must see the file before the key tables exist.
        sessions = open_store(url)
        await sessions.open()
        path = str(getattr(sessions, "path", ""))
        await sessions.close()
        store = SQLiteKeyStore(path)
        await store.open()
        return store
    if parts.scheme in ("postgresql", "postgres", "redis", "rediss"):
        # The session store first: it creates (or checks) the schema the keys live in.
        sessions = open_store(url)
        await sessions.open()
        await sessions.close()
        keys: KeyStore
        if parts.scheme.startswith("postgres"):
            from dialoghub.server.keys_postgres import PostgresKeyStore

            keys = PostgresKeyStore(url)
        else:
            from dialoghub.server.keys_redis import RedisKeyStore

            keys = RedisKeyStore(url)
        await keys.open()
        return keys
    raise StoreConfigError(
        f"API keys cannot be kept in a {parts.scheme}:// store; set keys_store "
        "(--keys-store, DIALOGHUB_KEYS_STORE) to a sqlite:///, postgresql:// or redis:// URL, "
        "or run with auth off",
        url=url,
    )
