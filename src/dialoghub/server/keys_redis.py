"""API keys and token-signing secrets in Redis, under the session store's key prefix.

``open_keystore("redis://…?prefix=P")`` keeps each key as a hash ``P keys:<key id>`` (its
secret only as a SHA-256), an index ``P keys`` (a sorted set by creation time) and the
signing secrets in ``P token_keys`` (kid -> secret) with their order in
``P token_keys:order``. Revocation is one Lua script, so the tenant check and the update
are atomic.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dialoghub.errors import StoreConfigError, StoreError
from dialoghub.server.keystore import KeyRecord

__all__ = ["RedisKeyStore"]

# The session store's own URL options, which redis-py must not see.
_STORE_OPTIONS = {"prefix", "writers", "max_batch", "pool_size"}
_REVOKE = """
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if not tenant then return 0 end
if redis.call('HEXISTS', KEYS[1], 'revoked_at') == 1 then return 0 end
if ARGV[2] ~= '' and ARGV[2] ~= tenant then return 0 end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisKeyStore:
    """Keys in the sessions' Redis, under their prefix."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.prefix = dict(query).get("prefix", "dialoghub:")
        passthrough = [(k, v) for k, v in query if k not in _STORE_OPTIONS]
        self._url = urlunsplit(parts._replace(query=urlencode(passthrough)))
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        self._client: Any = None

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}keys:{key_id}"

    async def _run(self, call: Any) -> Any:
        if self._client is None:
            raise StoreError(f"key store at {self._where} is not open")
        try:
            return await call(self._client)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"API keys in Redis at {self._where}: {exc}") from exc

    async def open(self) -> None:
        """Connect (keys need no schema)."""
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - the redis extra is missing
            raise StoreConfigError(
                "API keys in Redis need redis-py: pip install 'dialoghub[redis]'"
            ) from exc
        self._client = aioredis.from_url(self._url)
        await self._run(lambda c: c.ping())

    async def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def add_key(self, record: KeyRecord) -> None:
        """Store a new key."""
        fields = {"tenant": record.tenant, "scopes": ",".join(record.scopes),
                  "secret_hash": record.secret_hash, "name": record.name,
                  "created_at": repr(record.created_at)}
        if record.revoked_at is not None:
            fields["revoked_at"] = repr(record.revoked_at)

        async def add(c: Any) -> None:
            async with c.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(record.key_id), mapping=fields)
                pipe.zadd(self.prefix + "keys", {record.key_id: record.created_at})
                await pipe.execute()

        await self._run(add)

    def _record(self, key_id: str, h: dict[Any, Any]) -> KeyRecord:
        f = {_text(k): _text(v) for k, v in h.items()}
        revoked = f.get("revoked_at")
        return KeyRecord(
            key_id, f["tenant"], tuple(s for s in f["scopes"].split(",") if s),
            f["secret_hash"], f.get("name", ""), float(f["created_at"]),
            float(revoked) if revoked is not None else None,
        )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, or None."""
        h = await self._run(lambda c: c.hgetall(self._key(key_id)))
        return self._record(key_id, h) if h else None

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key (of ``tenant``), oldest first."""
        ids = [_text(k) for k in await self._run(lambda c: c.zrange(self.prefix + "keys", 0, -1))]

        async def read(c: Any) -> list[Any]:
            async with c.pipeline(transaction=False) as pipe:
                for key_id in ids:
                    pipe.hgetall(self._key(key_id))
                return list(await pipe.execute())

        records = [self._record(k, h) for k, h in zip(ids, await self._run(read), strict=True)
                   if h]
        return [r for r in records if tenant is None or r.tenant == tenant]

    async def revoke_key(self, key_id: str, now: float, tenant: str | None = None) -> bool:
        """Mark a key revoked."""
        done = await self._run(
            lambda c: c.eval(_REVOKE, 1, self._key(key_id), repr(now), tenant or "")
        )
        return bool(done)

    async def token_secrets(self) -> list[tuple[str, bytes]]:
        """Signing secrets, newest first."""
        kids = await self._run(lambda c: c.zrevrange(self.prefix + "token_keys:order", 0, -1))
        if not kids:
            return []
        secrets = await self._run(lambda c: c.hmget(self.prefix + "token_keys", kids))
        return [(_text(k), bytes(s)) for k, s in zip(kids, secrets, strict=True) if s]

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new newest secret."""

        async def add(c: Any) -> None:
            async with c.pipeline(transaction=True) as pipe:
                pipe.hset(self.prefix + "token_keys", kid, secret)
                pipe.zadd(self.prefix + "token_keys:order", {kid: now})
                await pipe.execute()

        await self._run(add)
