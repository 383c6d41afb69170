"""The socket's cheap frame check refuses what the server's full check refuses, and the
routing configuration comes from the server's settings (flags, environment, file)."""

from __future__ import annotations

import json

import pytest

from dialoghub.server.errors import BadRequest
from dialoghub.server.routes_clients import RoutingConfig, _decode_frame
from dialoghub.server.settings import load_settings


def test_a_compact_result_frame_is_read_as_the_typed_frame() -> None:
    frame = _decode_frame(b'{"type":"result","key":"default/S/3","outputs":{"n":1}}')
    assert (frame.type, frame.key, frame.outputs) == ("result", "default/S/3", {"n": 1})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"result","key":"a","key":"b"}',  # compact: re-encodes shorter
        b'{"type":"result","outputs":{"n":1,"n":2}}',
        json.dumps({"type": "result", "key": "a"}).encode()[:-1] + b', "key": "b"}',
    ],
)
def test_a_key_twice_is_refused_whatever_the_spelling(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="twice"):
        _decode_frame(raw)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep = b'{"type":"result","outputs":' + b'{"a":' * 80 + b"1" + b"}" * 81
    with pytest.raises(BadRequest, match="deeper"):
        _decode_frame(deep)


def test_a_spaced_frame_takes_the_full_check_and_is_read_the_same() -> None:
    spaced = json.dumps({"type": "result", "key": "k", "outputs": {"n": 1}}).encode()
    assert _decode_frame(spaced).outputs == {"n": 1}
    with pytest.raises(BadRequest, match="unknown field"):
        _decode_frame(b'{"type":"ping","x":1}')


def test_the_routing_configuration_is_the_server_settings() -> None:
    settings = load_settings(
        {"session_logs": "/tmp/logs"},
        env={"DIALOGHUB_BUS": "redis://127.0.0.1:6379/0", "DIALOGHUB_DISPATCH_TIMEOUT": "2.5"},
    )
    config = RoutingConfig.from_settings(settings)
    assert (config.bus, config.session_logs, config.dispatch_timeout) == (
        "redis://127.0.0.1:6379/0",
        "/tmp/logs",
        2.5,
    )
    with pytest.raises(Exception, match="dispatch_timeout"):
        load_settings({}, env={"DIALOGHUB_DISPATCH_TIMEOUT": "0"})
