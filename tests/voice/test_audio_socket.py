"""The audio socket against a real server: partials, silence, the wake word, barge-in, and
bad audio (each refused in the one error shape, the session unchanged, the socket usable)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from dialoghub.client import Client
from dialoghub.client_voice import AudioSocket, chunked
from dialoghub.errors import APIError
from dialoghub.server.routes_voice import voice_of
from dialoghub.voice.audio import pcm_to_wav
from dialoghub.voice.streams import Limits
from tests.voice.conftest import Live, say


async def _open(
    live: Live, model: str = "weather", **create: Any
) -> tuple[Client, str, AudioSocket]:
    c = Client(live.url, api_key=live.key)
    view = await c.create_session(model, **create)
    return c, view.session.id, await c.audio(view.session.id)


async def _unchanged(c: Client, sid: str, version: int, sock: AudioSocket) -> None:
    assert (await c.get_session(sid)).version == version
    assert (await sock.ping())["type"] == "pong"  # the socket still serves


async def test_partials_grow_as_the_user_speaks(live: Live) -> None:
    c, _sid, sock = await _open(live)
    try:
        turn = await sock.asr(chunked(say("will it be sunny in san francisco tomorrow"), 1600))
        words = [len(p.split()) for p in turn.partials]
        assert len(words) >= 3 and words[0] < words[-1], turn.partials
        assert turn.final["timed_out"] is False and turn.update is not None
        assert turn.text.endswith("san francisco tomorrow")
    finally:
        await sock.close()
        await c.close()


async def test_a_silent_turn_times_out_and_changes_nothing(live: Live) -> None:
    c, sid, sock = await _open(live)
    try:
        version = (await c.get_session(sid)).version
        # an hour of silence, as a client would stream it: the turn ends at the timeout
        hour = (bytes(32000) for _ in range(3600))
        turn = await sock.asr(hour)
        assert turn.final["timed_out"] is True and turn.text == "" and turn.update is None
        await _unchanged(c, sid, version, sock)
    finally:
        await sock.close()
        await c.close()


async def test_the_wake_word_drops_an_utterance_without_it(live: Live) -> None:
    c, _sid, sock = await _open(live, "wakeful", metadata={"wake_word": "computer"})
    try:
        turn = await sock.asr(chunked(say("hello")))
        assert turn.update is not None
        types = [e["type"] for e in turn.update["events"]]
        assert "utterance_dropped" in types, turn.text
        assert [a["type"] for a in turn.actions] == ["wait_for_user"]
        turn = await sock.asr(chunked(say("computer hello")))
        assert turn.text == "computer hello"
        assert [a["text"] for a in turn.actions if a["type"] == "reply"] == ["Hello to you!"]
    finally:
        await sock.close()
        await c.close()


async def test_tts_cancelled_midway_stops_sending(live: Live) -> None:
    c, _sid, sock = await _open(live)
    text = "Hi! I'm the weather assistant. Ask me about the weather in any city. " * 8
    try:
        whole = await sock.speak_all(text)
        got = 0
        async for chunk in sock.speak(text):
            got += len(chunk)
            if got >= 3200 * 3:
                await sock.cancel()
        end = sock.last_tts
        assert end["cancelled"] is True
        assert end["bytes"] < len(whole) // 2  # synthesis stopped long before the end
        # barge-in: the user speaks right away on the same socket
        turn = await sock.asr(chunked(say("hello")))
        assert turn.update is not None
    finally:
        await sock.close()
        await c.close()


def _wav_header(rate: int, channels: int = 1, bits: int = 16) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        0xFFFFFFFF,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * 2 * channels,
        2 * channels,
        bits,
        b"data",
        0xFFFFFFFF,
    )


@pytest.mark.parametrize(
    ("start", "audio", "code"),
    [
        (
            {"encoding": "wav", "sample_rate": 22050},
            [_wav_header(8000) + bytes(3200)],
            "audio_invalid",
        ),
        ({"encoding": "wav"}, [_wav_header(16000, bits=8) + bytes(3200)], "audio_invalid"),
        ({"encoding": "wav"}, [b"GARBAGE!" * 100], "audio_invalid"),
        ({}, [bytes(3200), bytes(3)], "audio_invalid"),  # odd byte count
        ({"sample_rate": 1000}, [bytes(3200)], "audio_invalid"),
        ({"encoding": "mp3"}, [bytes(3200)], "audio_invalid"),
        ({"encoding": "flac"}, [b"fLaC" + bytes(4000)], "audio_invalid"),
    ],
)
async def test_bad_audio_gets_a_clear_error_and_the_session_is_unchanged(
    live: Live, start: dict[str, Any], audio: list[bytes], code: str
) -> None:
    c, sid, sock = await _open(live)
    try:
        version = (await c.get_session(sid)).version
        with pytest.raises(APIError) as caught:
            await sock.asr(audio, **start)
        assert caught.value.code == code and caught.value.status == 422
        assert caught.value.message
        await _unchanged(c, sid, version, sock)
    finally:
        await sock.close()
        await c.close()


async def test_a_stream_over_its_bounds_is_refused(live: Live) -> None:
    voice = voice_of(live.service)
    kept = voice.limits
    voice.limits = Limits(max_seconds=4.0, max_bytes=64 * 1024, silence_timeout=30.0)
    c, sid, sock = await _open(live)
    try:
        version = (await c.get_session(sid)).version
        # a stream that would go on to 1 GB: refused once past max_bytes
        gigabyte = (bytes(32000) for _ in range(2**30 // 32000))
        with pytest.raises(APIError) as caught:
            await sock.asr(gigabyte)
        assert caught.value.code == "audio_too_long" and caught.value.status == 413
        assert caught.value.details["limit"] == "max_bytes"
        # ...and a long one past max_seconds (48 kHz input: fewer bytes than the cap)
        voice.limits = Limits(max_seconds=4.0, max_bytes=2**30, silence_timeout=30.0)
        with pytest.raises(APIError) as caught:
            await sock.asr((bytes(32000) for _ in range(100)), sample_rate=16000)
        assert caught.value.details.get("limit") == "max_seconds", (
            caught.value.code,
            caught.value.message,
        )
        await _unchanged(c, sid, version, sock)
    finally:
        voice.limits = kept
        await sock.close()
        await c.close()


async def test_frames_out_of_place_are_refused(live: Live) -> None:
    c, sid, sock = await _open(live)
    ws = sock._ws
    try:
        version = (await c.get_session(sid)).version
        await ws.send(bytes(3200))  # audio before any stream
        err = await sock._next()
        assert isinstance(err, dict) and err["code"] == "audio_invalid"
        await ws.send("not json")
        err = await sock._next()
        assert isinstance(err, dict) and err["code"] == "audio_invalid"
        await ws.send('{"type": "dance"}')
        err = await sock._next()
        assert isinstance(err, dict) and "unknown frame type" in err["message"]
        await _unchanged(c, sid, version, sock)
    finally:
        await sock.close()
        await c.close()


async def test_a_wav_file_at_another_rate_is_converted(live: Live) -> None:
    c, _sid, sock = await _open(live)
    try:
        wav = pcm_to_wav(say("how about madrid", rate=22050), 22050)
        turn = await sock.asr(chunked(wav, 4001), encoding="wav")  # odd chunks: whole samples kept
        assert turn.text == "how about madrid"
    finally:
        await sock.close()
        await c.close()


async def test_streams_of_several_sessions_run_at_once(live: Live) -> None:
    texts = ["what is the weather in paris", "how about london", "is it raining in rome"]

    async def one(text: str) -> str:
        c, _sid, sock = await _open(live)
        try:
            return (await sock.asr(chunked(say(text)), realtime=4.0)).text
        finally:
            await sock.close()
            await c.close()

    assert await asyncio.gather(*(one(t) for t in texts)) == texts


async def test_no_key_no_socket(live: Live) -> None:
    from websockets.asyncio.client import connect

    url = live.url.replace("http", "ws") + "/v1/sessions/x/audio"
    async with connect(url) as ws:
        msg = await ws.recv()
        assert '"unauthorized"' in str(msg)


def test_the_blocking_client_streams_a_turn_and_a_reply(live: Live) -> None:
    from dialoghub.client import SyncClient

    with SyncClient(live.url, api_key=live.key) as c:
        sid = c.create_session("weather").session.id
        sock = c.audio(sid)
        try:
            turn = sock.asr(chunked(say("how about madrid")))
            assert turn.text == "how about madrid" and turn.update is not None
            assert len(sock.speak_all("Hello!", sample_rate=8000)) > 4000
        finally:
            sock.close()


def test_optional_engines_say_what_is_missing() -> None:
    import importlib.util

    from dialoghub.errors import VoiceUnavailable
    from dialoghub.voice.engines import open_engine
    from dialoghub.voice.tts import open_synthesizer

    if importlib.util.find_spec("faster_whisper") is None:
        with pytest.raises(VoiceUnavailable) as caught:
            open_engine("whisper")
        assert caught.value.details["engine"] == "whisper" and caught.value.status == 503
    if importlib.util.find_spec("piper") is None:
        with pytest.raises(VoiceUnavailable, match="piper"):
            open_synthesizer("piper")
    with pytest.raises(VoiceUnavailable, match="unknown speech engine"):
        open_engine("vosk")
