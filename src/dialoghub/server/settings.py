"""Server settings: one frozen record, filled from a config file, the environment and flags.

Precedence, lowest first: the defaults below, a config file (TOML or JSON, ``--config`` or
``DIALOGHUB_CONFIG``), environment variables ``DIALOGHUB_<NAME>`` (``DIALOGHUB_STORE``,
``DIALOGHUB_PORT``, ...), then command-line flags. :func:`load_settings` does the merge so
``dialoghub serve`` and tests build settings the same way.

Each source is converted to the fields' types by msgspec (``msgspec.convert(...,
strict=False)``: ``"8000"`` is a port, ``"true"``/``"1"`` a boolean), under the constraints
the fields declare (a port is 0 to 65535, a timeout above 0, ...). Two spellings of the
environment are read before that: a comma-separated string is a list, and ``yes``/``on``
and ``no``/``off`` are booleans too. A value that does not convert is a
:class:`SettingsError` naming the setting, where it came from and the value.
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
from typing import Annotated, Any, Literal

import msgspec

from dialoghub.errors import SettingsError

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "load_settings"]

#: Environment variables are named ``DIALOGHUB_`` + the upper-case setting name.
ENV_PREFIX = "DIALOGHUB_"

# The constraints msgspec checks when it converts a source (not when Settings is built).
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]  # 0: any free port
Count = Annotated[int, msgspec.Meta(ge=0)]  # 0 where it means "off" or "no limit"
Positive = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Rate = Annotated[float, msgspec.Meta(ge=0)]  # 0: off


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything ``dialoghub serve`` can be told; every field has a working default."""

    store: str = "sqlite:///dialoghub.db"  # where sessions live
    keys_store: str = ""  # where API keys live; empty: the session store (sqlite or memory)
    models: tuple[str, ...] = ()  # model files, folders, or globs like examples/*/
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Positive = 1
    # Pushes to attached clients across server processes: redis://host:port/db[?prefix=...].
    # Empty: each process pushes only the updates it made itself.
    broadcast: str = ""
    # API keys: with auth off every request acts as tenant "default" with every scope.
    auth: bool = True
    # Operators: admin keys of these tenants may list any tenant's sessions (GET /v1/sessions
    # ?tenant=NAME, or * for every tenant). Empty: every key sees its own tenant only.
    operator_tenants: tuple[str, ...] = ()
    # Session tokens: "kid:secret" pairs, the first signs, all verify (rotation). Empty: a
    # signing key is generated once and kept in the store's key table.
    token_keys: tuple[str, ...] = ()
    # Default mode of new sessions.
    token_mode: Literal["reference", "stateless"] = "reference"
    stateless_models: tuple[str, ...] = ()  # models whose sessions are always stateless
    max_token_bytes: Positive = 8192  # a stateless token larger than this is refused (413)
    stateless_ttl: Seconds = 86400.0  # seconds a stateless token stays valid (401 after)
    # Limits.
    max_body_bytes: Positive = 65536
    max_text_chars: Positive = 4000
    max_variables: Positive = 100  # keys in variables, params and metadata of one request
    rate_limit: Rate = 1000.0  # requests per second per API key; 0 disables
    rate_burst: Count = 2000
    request_timeout: Seconds = 10.0  # seconds; a slower request gets 504 (a slow body 408)
    # Where the per-key rate and failed key attempts are counted: redis://host:port/db
    # [?prefix=...] shares them between processes; empty: the broadcast Redis if set, else
    # each process counts its own.
    rate_limit_store: str = ""
    auth_failures: Count = 20  # failed API key attempts per client address per window; 0: off
    auth_failure_window: Seconds = 60.0  # seconds
    # Connections (uvicorn): seconds a connection may take to send a request's headers (the
    # first request's and each next one's; then it is closed), seconds an idle keep-alive
    # connection is kept, connections + requests at once before 503s (0: no limit), the
    # listen backlog.
    header_timeout: Seconds = 10.0
    keep_alive_timeout: Count = 5
    limit_concurrency: Count = 0
    backlog: Positive = 2048
    # WebSocket: updates queued for one socket; a client that lets more pile up (does not
    # read) is dropped. A frame over max_body_bytes is refused by the protocol (close 1009).
    ws_send_queue: Positive = 256
    # Browser origins allowed to call the API cross-origin (CORS), like https://app.example.com
    # or "*". Empty: no CORS headers at all (browsers then refuse cross-origin calls).
    cors_origins: tuple[str, ...] = ()
    # Deliver due prompt timeouts and lifetimes (the timer service). Safe in every process:
    # each due timer is claimed by exactly one of them.
    timers: bool = True
    log_level: str = "info"
    access_log: bool = False
    # Client routing (/v1/clients/ws): the bus the server processes share (local://, or
    # redis://host:port/db, nats://host:port, each [?prefix=...]); empty: within this process.
    bus: str = ""
    session_logs: str = ""  # a folder of one log file per session; empty: off
    dispatch_timeout: Seconds = 10.0  # seconds a routed command may wait for its answer

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_NAMES = {f.name: f for f in fields(Settings)}
_KINDS: dict[str, type[Any]] = {f.name: type(f.default) for f in fields(Settings)}
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s]+")
_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}
_AT = re.compile(r" - at `\$\.(\w+)")


def _spelled(name: str, value: Any) -> Any:
    """A value as msgspec reads it: the environment's spellings of lists and booleans."""
    if not isinstance(value, str):
        return value
    kind = _KINDS[name]
    if kind is tuple:
        return [v.strip() for v in value.split(",") if v.strip()]
    if kind is bool:
        low = value.strip().lower()
        return _WORDS.get(low, low)
    return value.strip() if kind in (int, float) else value


def _convert(values: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """``values`` (setting names to raw values from ``source``, None for the environment)
    converted by msgspec to the fields' types and checked against their constraints;
    SettingsError naming the setting, its source and the value if one is wrong."""
    try:
        checked = msgspec.convert({k: _spelled(k, v) for k, v in values.items()}, Settings,
                                  strict=False)
    except msgspec.ValidationError as exc:
        why = str(exc)
        found = _AT.search(why)
        name = found.group(1) if found else "?"
        where = ENV_PREFIX + name.upper() if source is None else source
        problem = why.split(" - at ")[0]
        raise SettingsError(
            f"setting {name!r} from {where}: {problem[:1].lower()}{problem[1:]}; the value "
            f"is {values.get(name)!r}",
            setting=name, source=where,
        ) from None
    return {k: getattr(checked, k) for k in values}


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
        from_file: dict[str, Any] = {}
        for name, value in _read_config(path).items():
            key = name.replace("-", "_")
            if key not in _NAMES:
                raise SettingsError(
                    f"unknown setting {name!r} in {path}; known: {', '.join(sorted(_NAMES))}"
                )
            from_file[key] = value
        values |= _convert(from_file, path)
    values |= _convert({name: env[ENV_PREFIX + name.upper()] for name in _NAMES
                        if env.get(ENV_PREFIX + name.upper())}, None)
    values |= _convert({name: value for name, value in (flags or {}).items()
                        if value is not None and name in _NAMES}, "the flags")
    settings = Settings(**values)
    for origin in settings.cors_origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"cors_origins: {origin!r} is not an origin like https://app.example.com "
                "(scheme, host, optional port; no path, no trailing '/') or '*'",
                setting="cors_origins",
            )
    if settings.token_keys:
        from dialoghub.server.tokens import parse_keys

        try:
            parse_keys(settings.token_keys)
        except ValueError as exc:
            raise SettingsError(str(exc), setting="token_keys") from None
    return settings
