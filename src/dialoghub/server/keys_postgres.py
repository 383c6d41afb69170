"""API keys and token-signing secrets in PostgreSQL, next to the sessions.

``open_keystore("postgresql://…?schema=S")`` keeps them in two tables of the sessions'
schema ``S`` (``dialoghub_api_keys``, ``dialoghub_token_keys``), so every server process of a
deployment sees the same keys and a revocation anywhere reaches all of them (within the
authenticator's cache time). A small pool of its own (two connections) keeps key traffic
off the session store's writers; keys are read rarely, since servers cache verified keys.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dialoghub.errors import StoreConfigError, StoreError
from dialoghub.server.keyrecords import KeyRecord, TokenSecret

__all__ = ["PostgresKeyStore"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# The session store's own URL options, which asyncpg must not see.
_STORE_OPTIONS = {"schema", "writers", "pool_size", "max_batch", "migrate"}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dialoghub_api_keys (key_id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    " name TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " revoked_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS dialoghub_api_keys_by_tenant"
    " ON dialoghub_api_keys (tenant, created_at)",
    "CREATE TABLE IF NOT EXISTS dialoghub_token_keys (kid TEXT PRIMARY KEY,"
    " secret BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'verify')",
    # A table from before the secrets' states: every secret verified, the newest signed.
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = 'dialoghub_token_keys'"
    " AND column_name = 'state') THEN"
    " ALTER TABLE dialoghub_token_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'verify';"
    " UPDATE dialoghub_token_keys SET state = 'active' WHERE kid = (SELECT kid FROM"
    " dialoghub_token_keys ORDER BY created_at DESC LIMIT 1); END IF; END $$",
    # At most one active secret: the conflict the insert-if-none relies on.
    "CREATE UNIQUE INDEX IF NOT EXISTS dialoghub_token_keys_one_active"
    " ON dialoghub_token_keys (state) WHERE state = 'active'",
)
# Serializes creating the tables: concurrent CREATE ... IF NOT EXISTS can fail in PostgreSQL.
_SCHEMA_LOCK = 0x6468_6B65_7973  # "dhkeys"
_COLUMNS = "key_id, tenant, scopes, secret_hash, name, created_at, revoked_at"


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        row["key_id"], row["tenant"], tuple(s for s in row["scopes"].split(",") if s),
        row["secret_hash"], row["name"], row["created_at"], row["revoked_at"],
    )


class PostgresKeyStore:
    """Keys in the sessions' PostgreSQL schema."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.schema = dict(query).get("schema", "dialoghub")
        if not _IDENT.fullmatch(self.schema):
            raise StoreConfigError(f"schema {self.schema!r} is not a plain identifier")
        passthrough = [(k, v) for k, v in query if k not in _STORE_OPTIONS]
        self._dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passthrough)))
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self._pool: Any = None

    async def _run(self, fetch: str, sql: str, *args: Any) -> Any:
        if self._pool is None:
            raise StoreError(f"key store at {self._where} is not open")
        try:
            async with self._pool.acquire() as conn:
                return await getattr(conn, fetch)(sql, *args)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"API key tables at {self._where}: {exc}") from exc

    async def open(self) -> None:
        """Connect and create the key tables if they are missing."""
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - the postgres extra is missing
            raise StoreConfigError(
                "API keys in PostgreSQL need asyncpg: pip install 'dialoghub[postgres]'"
            ) from exc
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=2,
                server_settings={"search_path": self.schema, "application_name": "dialoghub"},
            )
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for statement in _SCHEMA:
                    await conn.execute(statement)
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open the API key tables at {self._where}: {exc}") from exc

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def add_key(self, record: KeyRecord) -> None:
        """Store a new key."""
        await self._run(
            "execute",
            f"INSERT INTO dialoghub_api_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            record.key_id, record.tenant, ",".join(record.scopes), record.secret_hash,
            record.name, record.created_at, record.revoked_at,
        )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        row = await self._run(
            "fetchrow", f"SELECT {_COLUMNS} FROM dialoghub_api_keys WHERE key_id = $1", key_id
        )
        return _record(row) if row is not None else None

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key (of ``tenant``), oldest first."""
        rows = await self._run(
            "fetch",
            f"SELECT {_COLUMNS} FROM dialoghub_api_keys WHERE $1::text IS NULL OR tenant = $1"
            " ORDER BY created_at, key_id",
            tenant,
        )
        return [_record(r) for r in rows]

    async def revoke_key(self, key_id: str, now: float, tenant: str | None = None) -> bool:
        """Mark a key revoked."""
        row = await self._run(
            "fetchrow",
            "UPDATE dialoghub_api_keys SET revoked_at = $2 WHERE key_id = $1"
            " AND revoked_at IS NULL AND ($3::text IS NULL OR tenant = $3) RETURNING key_id",
            key_id, now, tenant,
        )
        return row is not None

    async def token_secrets(self) -> list[TokenSecret]:
        """Every secret, newest first."""
        rows = await self._run(
            "fetch", "SELECT kid, secret, created_at, state FROM dialoghub_token_keys"
            " ORDER BY created_at DESC, kid"
        )
        return [TokenSecret(str(r["kid"]), bytes(r["secret"]), float(r["created_at"]),
                            str(r["state"])) for r in rows]

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new secret in the verify state."""
        await self._run(
            "execute",
            "INSERT INTO dialoghub_token_keys (kid, secret, created_at, state)"
            " VALUES ($1, $2, $3, 'verify')",
            kid, secret, now,
        )

    async def ensure_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Insert as active; the one-active index turns a concurrent second insert into
        nothing (it waits for the first to commit, then sees the conflict)."""
        await self._run(
            "execute",
            "INSERT INTO dialoghub_token_keys (kid, secret, created_at, state)"
            " VALUES ($1, $2, $3, 'active') ON CONFLICT DO NOTHING",
            kid, secret, now,
        )

    async def _transition(self, kid: str, *statements: str) -> bool:
        if self._pool is None:
            raise StoreError(f"key store at {self._where} is not open")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                state = await conn.fetchval(
                    "SELECT state FROM dialoghub_token_keys WHERE kid = $1 FOR UPDATE", kid
                )
                if state != "verify":
                    return False
                for sql in statements:
                    await conn.execute(sql, kid)
                return True
        except Exception as exc:
            raise StoreError(f"token secrets at {self._where}: {exc}") from exc

    async def activate_token_secret(self, kid: str) -> bool:
        """Promote a verify secret, demote the active one, in one transaction."""
        return await self._transition(
            kid,
            "UPDATE dialoghub_token_keys SET state = 'verify'"
            " WHERE state = 'active' AND kid <> $1",
            "UPDATE dialoghub_token_keys SET state = 'active' WHERE kid = $1",
        )

    async def retire_token_secret(self, kid: str) -> bool:
        """Retire a verify secret."""
        return await self._transition(
            kid, "UPDATE dialoghub_token_keys SET state = 'retired' WHERE kid = $1"
        )
