"""API keys and token-signing secrets in Redis, under the session store's key prefix.

``open_keystore("redis://…?prefix=P")`` keeps each key as a hash ``P keys:<key id>`` (its
secret only as a SHA-256), an index ``P keys`` (a sorted set by creation time) and the
signing secrets in ``P token_keys`` (kid -> secret) with their order in
``P token_keys:order``, their states in ``P token_keys:state`` and the active one's kid in
``P token_keys:active``. Revocation, creating the first secret and every change of state
are one Lua script each, so the check and the update are atomic.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dialoghub.errors import StoreConfigError, StoreError
from dialoghub.server.keyrecords import KeyRecord, TokenSecret

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

# KEYS: secrets, order, states, active.  ARGV: kid, secret, now.  Insert-if-none: a store
# from before the states gets its newest secret made active instead.
_ENSURE = """
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0)
if newest[1] then
  redis.call('SET', KEYS[4], newest[1])
  redis.call('HSET', KEYS[3], newest[1], 'active')
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], 'active')
redis.call('SET', KEYS[4], ARGV[1])
return 1
"""
# KEYS: states, active.  ARGV: kid, 'activate' or 'retire'.
_TRANSITION = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'verify' then return 0 end
if ARGV[2] == 'retire' then
  redis.call('HSET', KEYS[1], ARGV[1], 'retired')
  return 1
end
local old = redis.call('GET', KEYS[2])
if old then redis.call('HSET', KEYS[1], old, 'verify') end
redis.call('HSET', KEYS[1], ARGV[1], 'active')
redis.call('SET', KEYS[2], ARGV[1])
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

    def _secret_keys(self) -> list[str]:
        p = self.prefix + "token_keys"
        return [p, p + ":order", p + ":state", p + ":active"]

    async def token_secrets(self) -> list[TokenSecret]:
        """Every secret, newest first."""
        secrets_key, order, states, _ = self._secret_keys()

        async def read(c: Any) -> list[Any]:
            async with c.pipeline(transaction=True) as pipe:
                pipe.zrevrange(order, 0, -1, withscores=True)
                pipe.hgetall(secrets_key)
                pipe.hgetall(states)
                return list(await pipe.execute())

        ranked, values, state_of = await self._run(read)
        values = {_text(k): bytes(v) for k, v in values.items()}
        state_of = {_text(k): _text(v) for k, v in state_of.items()}
        out = []
        for kid, score in ranked:
            k = _text(kid)
            if k in values:
                out.append(TokenSecret(k, values[k], float(score), state_of.get(k, "verify")))
        return out

    async def add_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """Store a new secret in the verify state."""
        secrets_key, order, states, _ = self._secret_keys()

        async def add(c: Any) -> None:
            async with c.pipeline(transaction=True) as pipe:
                pipe.hset(secrets_key, kid, secret)
                pipe.zadd(order, {kid: now})
                pipe.hset(states, kid, "verify")
                await pipe.execute()

        await self._run(add)

    async def ensure_token_secret(self, kid: str, secret: bytes, now: float) -> None:
        """The active secret unless one exists: one Lua script, so atomic."""
        await self._run(lambda c: c.eval(_ENSURE, 4, *self._secret_keys(), kid, secret,
                                         repr(now)))

    async def activate_token_secret(self, kid: str) -> bool:
        """Promote a verify secret, demote the active one."""
        keys = self._secret_keys()
        return bool(await self._run(
            lambda c: c.eval(_TRANSITION, 2, keys[2], keys[3], kid, "activate")
        ))

    async def retire_token_secret(self, kid: str) -> bool:
        """Retire a verify secret."""
        keys = self._secret_keys()
        return bool(await self._run(
            lambda c: c.eval(_TRANSITION, 2, keys[2], keys[3], kid, "retire")
        ))
