"""Server settings: one frozen record, filled from a config file, the environment and flags.

Precedence, lowest first: the defaults below, a config file (TOML or JSON, ``--config`` or
``DIALOGHUB_CONFIG``), environment variables ``DIALOGHUB_<NAME>`` (``DIALOGHUB_STORE``,
``DIALOGHUB_PORT``, ...), then command-line flags. :func:`load_settings` does the merge so
``dialoghub serve`` and tests build settings the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dialoghub.errors import SettingsError

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "load_settings"]

#: Environment variables are named ``DIALOGHUB_`` + the upper-case setting name.
ENV_PREFIX = "DIALOGHUB_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything ``dialoghub serve`` can be told; every field has a working default."""

    store: str = "sqlite:///dialoghub.db"  # where sessions live
    keys_store: str = ""  # where API keys live; empty: the session store (sqlite or memory)
    models: tuple[str, ...] = ()  # model files, folders, or globs like examples/*/
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Pushes to attached clients across server processes: redis://host:port/db[?prefix=...].
    # Empty: each process pushes only the updates it made itself.
    broadcast: str = ""
    # API keys: with auth off every request acts as tenant "default" with every scope.
    auth: bool = True
    # Session tokens: "kid:secret" pairs, the first signs, all verify (rotation). Empty: a
    # signing key is generated once and kept in the store's key table.
    token_keys: tuple[str, ...] = ()
    token_mode: str = "reference"  # default mode of new sessions: reference or stateless
    stateless_models: tuple[str, ...] = ()  # models whose sessions are always stateless
    max_token_bytes: int = 8192  # a stateless token larger than this is refused (413)
    stateless_ttl: float = 86400.0  # seconds a stateless token stays valid (401 after)
    # Limits.
    max_body_bytes: int = 65536
    max_text_chars: int = 4000
    max_variables: int = 100  # keys in variables, params and metadata of one request
    rate_limit: float = 1000.0  # requests per second per API key; 0 disables
    rate_burst: int = 2000
    request_timeout: float = 10.0  # seconds; a slower request gets 504 (a slow body 408)
    # Where the per-key rate and failed key attempts are counted: redis://host:port/db
    # [?prefix=...] shares them between processes; empty: the broadcast Redis if set, else
    # each process counts its own.
    rate_limit_store: str = ""
    auth_failures: int = 20  # failed API key attempts per client address per window; 0: off
    auth_failure_window: float = 60.0  # seconds
    # Connections (uvicorn): seconds a connection may take to send a request's headers (the
    # first request's and each next one's; then it is closed), seconds an idle keep-alive
    # connection is kept, connections + requests at once before 503s (0: no limit), the
    # listen backlog.
    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    limit_concurrency: int = 0
    backlog: int = 2048
    # WebSocket: updates queued for one socket; a client that lets more pile up (does not
    # read) is dropped. A frame over max_body_bytes is refused by the protocol (close 1009).
    ws_send_queue: int = 256
    # Browser origins allowed to call the API cross-origin (CORS), like https://app.example.com
    # or "*". Empty: no CORS headers at all (browsers then refuse cross-origin calls).
    cors_origins: tuple[str, ...] = ()
    # Deliver due prompt timeouts and lifetimes (the timer service). Safe in every process:
    # each due timer is claimed by exactly one of them.
    timers: bool = True
    log_level: str = "info"
    access_log: bool = False

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_NAMES = {f.name: f for f in fields(Settings)}
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s]+")


def _coerce(name: str, value: Any) -> Any:
    """Turn a config or environment value into the field's type, or raise SettingsError."""
    default = getattr(Settings(), name)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return low in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, tuple):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"setting {name!r} must be a {type(default).__name__}, not {value!r}",
            setting=name,
        ) from None


def _read_config(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data: Any = json.loads(text) if p.suffix == ".json" else tomllib.loads(text.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path} is not valid TOML or JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("server"), dict):
        data = data["server"]  # a [server] table in a larger file
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a table of settings")
    return data


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config: str | None = None,
) -> Settings:
    """Merge defaults, the config file, the environment and ``flags`` (None = not given)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config or env.get(ENV_PREFIX + "CONFIG")
    if path:
        for name, value in _read_config(path).items():
            key = name.replace("-", "_")
            if key not in _NAMES:
                raise SettingsError(
                    f"unknown setting {name!r} in {path}; known: {', '.join(sorted(_NAMES))}"
                )
            values[key] = _coerce(key, value)
    for name in _NAMES:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw)
    for name, value in (flags or {}).items():
        if value is not None and name in _NAMES:
            values[name] = _coerce(name, value)
    settings = Settings(**values)
    for origin in settings.cors_origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"cors_origins: {origin!r} is not an origin like https://app.example.com "
                "(scheme, host, optional port; no path, no trailing '/') or '*'",
                setting="cors_origins",
            )
    if settings.token_mode not in ("reference", "stateless"):
        raise SettingsError("token_mode must be 'reference' or 'stateless'")
    if settings.token_keys:
        from dialoghub.server.tokens import parse_keys

        try:
            parse_keys(settings.token_keys)
        except ValueError as exc:
            raise SettingsError(str(exc), setting="token_keys") from None
    return settings
