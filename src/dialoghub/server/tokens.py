"""Signed session tokens, in two modes, with signing keys that rotate.

Every create and update returns a token. In **reference** mode the token names the session:
``r2.<kid>.<payload>.<mac>`` where the payload is (tenant, session id, version, issued-at,
the session's created-at) and the MAC is HMAC-SHA256. The created-at names the session's
incarnation: a token of a deleted session is refused (401) by a new session of the same id.
(``r1`` tokens, which lacked it, are no longer accepted.) Sending it back proves which
session and version the client last saw: a wrong MAC or another tenant is 401, an older
version is 409 (stale).

In **stateless** mode the whole session travels inside the token and the server stores
nothing (the action-driven SDK's way): ``s2.<kid>.<nonce + ciphertext>``, the msgpack of
(expiry time, session) compressed with zlib and sealed with AES-256-GCM, so it is secret and
tamper-proof, and refused (401 ``token_expired``) once its ``stateless_ttl`` has passed. A
token larger than the configured bound is refused (413) and every response reports the size.

Replay: a stateless token stays valid until it expires, however often it is used, because
the server keeps nothing to compare it with. Posting an older token again continues the
conversation from that older point (a fork), and two clients holding one token can each
continue it. Keep the expiry short for such sessions, or use reference mode, where the
stored version makes every replayed token stale (409).

:class:`Keyring` holds secrets: one signs (the store's ``active`` one), every one verifies.
Rotation has phases so that no server ever meets a token signed with a secret it does not
know: ``dialoghub keys rotate-token-key`` adds a new secret in the ``verify`` state (servers
that load it accept it but do not sign with it); once every server has reloaded,
``dialoghub keys activate-token-key KID`` makes it sign (the old one drops back to
``verify``, so live tokens stay valid); ``dialoghub keys retire-token-key KID`` finally retires
the old one, which invalidates the tokens it signed. Configured secrets (``token_keys``) must
be at least 32 bytes. Each token carries the
id of the secret that signed it. Keys for MAC and encryption are derived from each secret
with HKDF, so one secret never serves two purposes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dialoghub.engine.records import Session
from dialoghub.errors import InvalidToken, StaleToken, TokenExpired, TokenTooLarge
from dialoghub.server.keystore import KeyStore, TokenSecret

__all__ = [
    "InvalidToken",
    "Keyring",
    "Reference",
    "StaleToken",
    "TokenExpired",
    "TokenTooLarge",
    "keyring_from_store",
    "parse_keys",
]

#: The shortest secret ``token_keys`` accepts, in bytes.
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Reference:
    """What a reference token says."""

    tenant: str
    session_id: str
    version: int
    issued_at: float
    created_at: float  # the session's: which incarnation of that id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def parse_keys(specs: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """``("kid:secret", ...)`` -> ``[(kid, secret bytes)]``; a secret of 32+ bytes."""
    keys = []
    for spec in specs:
        kid, sep, secret = spec.partition(":")
        if not sep or not kid or "." in kid:
            raise ValueError(
                f"token key {kid or spec[:8]!r} must be 'kid:secret' with no '.' in the kid"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"token key {kid!r}: its secret is {len(secret.encode())} bytes, shorter than "
                f"the {MIN_SECRET_BYTES} bytes required; use e.g. "
                "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"'"
            )
        keys.append((kid, secret.encode()))
    return keys


_session_encoder = msgspec.msgpack.Encoder()
_sealed_decoder = msgspec.msgpack.Decoder(tuple[float, Session])  # (expires at, session)
_STATELESS = "s2"  # s1 tokens (no expiry) are no longer accepted
_REFERENCE = "r2"  # r1 tokens (no incarnation) are no longer accepted
_ref_decoder = msgspec.msgpack.Decoder(tuple[str, str, int, float, float])


class Keyring:
    """Secrets newest first; issues and verifies both kinds of token."""

    def __init__(
        self,
        keys: list[tuple[str, bytes]],
        *,
        max_stateless_bytes: int = 8192,
        stateless_ttl: float = 86400.0,
        clock: Callable[[], float] = time.time,
        signing: str | None = None,
    ) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one secret")
        self.max_stateless_bytes = max_stateless_bytes
        self.stateless_ttl = stateless_ttl
        self._clock = clock
        self._order = [kid for kid, _ in keys]
        if signing is not None:  # the signing secret first; the others only verify
            if signing not in self._order:
                raise ValueError(f"signing secret {signing!r} is not in the keyring")
            self._order.remove(signing)
            self._order.insert(0, signing)
        self._mac: dict[str, bytes] = {}
        self._aead: dict[str, AESGCM] = {}
        for kid, secret in keys:
            self._mac[kid] = _derive(secret, b"dialoghub reference token")
            self._aead[kid] = AESGCM(_derive(secret, b"dialoghub stateless token"))

    @classmethod
    def from_secrets(cls, records: list[TokenSecret], **options: Any) -> Keyring:
        """The ring of a key store's secrets: the active one signs, verify ones verify,
        retired ones are left out."""
        active = [r.kid for r in records if r.state == "active"]
        if not active:
            raise ValueError("the key store has no active token secret")
        keys = [(r.kid, r.secret) for r in records if r.state in ("active", "verify")]
        return cls(keys, signing=active[0], **options)

    @property
    def kids(self) -> list[str]:
        """Every secret's id, the signing one first."""
        return list(self._order)

    @staticmethod
    def new_secret() -> tuple[str, bytes]:
        """A fresh (kid, secret) pair for rotation."""
        return secrets.token_hex(4), secrets.token_bytes(32)

    @property
    def current(self) -> str:
        """The id of the secret that signs new tokens."""
        return self._order[0]

    # --- reference tokens ----------------------------------------------------------------

    def _mac_of(self, kid: str, signed: str) -> bytes:
        return hmac.digest(self._mac[kid], signed.encode(), "sha256")  # one C call

    def reference(self, session: Session, *, issued: float | None = None) -> str:
        """A reference token for the session as it is now (issued now unless ``issued``)."""
        kid = self.current
        at = time.time() if issued is None else issued
        payload = _b64(_session_encoder.encode(
            (session.tenant, session.id, session.version, at, session.created_at)
        ))
        signed = f"{_REFERENCE}.{kid}.{payload}"
        return f"{signed}.{_b64(self._mac_of(kid, signed))}"

    def read_reference(self, token: str) -> Reference:
        """Verify a reference token; InvalidToken if it is not one of ours."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != _REFERENCE or parts[1] not in self._mac:
            raise InvalidToken("invalid session token: not a reference token of this server")
        signed = ".".join(parts[:3])
        try:
            mac = _unb64(parts[3])
            ok = hmac.compare_digest(mac, self._mac_of(parts[1], signed))
            if not ok:
                raise ValueError("mac")
            tenant, sid, version, issued, created = _ref_decoder.decode(_unb64(parts[2]))
        except (ValueError, binascii.Error, msgspec.DecodeError):
            raise InvalidToken("invalid session token: signature does not match") from None
        return Reference(tenant, sid, version, issued, created)

    @staticmethod
    def check_incarnation(ref: Reference, created_at: float) -> None:
        """Refuse (401) a token of an earlier session that had this id and was deleted:
        ``created_at`` is the current session's (:meth:`dialoghub.hub.Hub.incarnation`)."""
        if ref.created_at != created_at:
            raise InvalidToken(
                "invalid session token: it names a deleted session that had this id",
                session_id=ref.session_id,
            )

    def check_reference(self, token: str, *, tenant: str, session: Session) -> None:
        """Refuse a token of another session (401) or an older version (409)."""
        ref = self.read_reference(token)
        if ref.tenant != tenant or ref.session_id != session.id:
            raise InvalidToken("invalid session token: it names another session")
        self.check_incarnation(ref, session.created_at)
        if ref.version != session.version:
            raise StaleToken(
                f"session token is for version {ref.version} but session {session.id!r} is "
                f"at version {session.version}; re-read the session and use its new token",
                session_id=session.id,
                token_version=ref.version,
                version=session.version,
            )

    # --- stateless tokens ----------------------------------------------------------------

    def seal(self, session: Session) -> str:
        """The whole session as an encrypted token; TokenTooLarge past the bound."""
        kid = self.current
        nonce = os.urandom(12)
        expires = self._clock() + self.stateless_ttl
        plain = zlib.compress(_session_encoder.encode((expires, session)), 6)
        sealed = self._aead[kid].encrypt(nonce, plain, f"{_STATELESS}.{kid}".encode())
        token = f"{_STATELESS}.{kid}.{_b64(nonce + sealed)}"
        if len(token) > self.max_stateless_bytes:
            raise TokenTooLarge(
                f"the session no longer fits in a stateless token ({len(token)} bytes, limit "
                f"{self.max_stateless_bytes}); use a stored (reference mode) session",
                size=len(token),
                limit=self.max_stateless_bytes,
            )
        return token

    def open(self, token: str, *, tenant: str) -> Session:
        """Decrypt a stateless token; InvalidToken if forged, altered or another tenant's."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != _STATELESS or parts[1] not in self._aead:
            raise InvalidToken("invalid session token: not a stateless token of this server")
        if len(token) > self.max_stateless_bytes:
            raise TokenTooLarge(
                f"token of {len(token)} bytes exceeds {self.max_stateless_bytes}",
                size=len(token), limit=self.max_stateless_bytes,
            )
        try:
            raw = _unb64(parts[2])
            aad = f"{_STATELESS}.{parts[1]}".encode()
            plain = self._aead[parts[1]].decrypt(raw[:12], raw[12:], aad)
            expires, session = _sealed_decoder.decode(zlib.decompress(plain))
        except (ValueError, binascii.Error, InvalidTag, zlib.error, msgspec.DecodeError):
            raise InvalidToken("invalid session token: it was altered or is corrupt") from None
        if session.tenant != tenant:
            raise InvalidToken("invalid session token: it belongs to another tenant")
        if self._clock() >= expires:
            raise TokenExpired(
                "the stateless session token has expired; start a new session",
                expired_at=expires,
            )
        return session


async def keyring_from_store(keystore: KeyStore | None, **options: Any) -> Keyring:
    """The key store's secrets as a keyring. On a store with no active secret one is made,
    atomically (insert-if-none, then re-read): servers starting together on a fresh store
    all end up with the same secret. Without a store: a secret of this process only."""
    if keystore is None:
        return Keyring([Keyring.new_secret()], **options)
    records = await keystore.token_secrets()
    if not any(r.state == "active" for r in records):
        kid, secret = Keyring.new_secret()
        await keystore.ensure_token_secret(kid, secret, time.time())
        records = await keystore.token_secrets()
    return Keyring.from_secrets(records, **options)
