"""The ASR and transcribe streams on the real engine, without a server (audio time, not the
clock: the streams below are fed faster than real time)."""

from __future__ import annotations

import pytest

from dialoghub.errors import AudioTooLong
from dialoghub.model.loader import load_model
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.service import Voice
from dialoghub.voice.streams import Final, Limits, Partial
from tests.conftest import EXAMPLES
from tests.voice.conftest import need_speech, say

WEATHER = load_model(EXAMPLES / "weather" / "weather.yaml")


@pytest.fixture
def voice() -> Voice:
    need_speech()
    v = Voice()
    yield v
    v.close()


async def _feed(voice: Voice, stream, pcm: bytes) -> list:
    out = []
    for i in range(0, len(pcm), 3200):
        out += await voice.feed(stream, pcm[i : i + 3200])
        if stream.done is not None:
            break
    return out


async def test_the_endpointer_gives_the_final_soon_after_the_speech_ends(voice: Voice) -> None:
    stream = await voice.asr(WEATHER, None, AudioFormat())
    pcm = say("what is the weather in paris") + bytes(32000 * 3)
    results = await _feed(voice, stream, pcm)
    final = results[-1]
    assert isinstance(final, Final) and final.text == "what is the weather in paris"
    assert any(isinstance(r, Partial) for r in results)
    # it came from the endpointer, well before the audio's end
    assert final.speech_end is not None and final.audio_seconds < len(pcm) / 32000 - 2
    assert 0 < final.confidence <= 1


async def test_dictation_adds_utterances_and_stops_at_the_end_phrase(voice: Voice) -> None:
    stream = await voice.transcribe(WEATHER, None, AudioFormat(), language="model")
    pcm = say("what is the weather in paris") + say("how about rome stop dictation")
    results = await _feed(voice, stream, pcm + bytes(32000 * 10))
    final = results[-1]
    assert isinstance(final, Final) and not final.timed_out
    assert final.text == "what is the weather in paris how about rome"
    partials = [r.text for r in results if isinstance(r, Partial)]
    assert partials and partials[-1].startswith("what is the weather in paris")


async def test_dictation_ends_after_the_silence_timeout(voice: Voice) -> None:
    voice.limits = Limits(silence_timeout=2.0)
    stream = await voice.transcribe(WEATHER, None, AudioFormat(), language="model")
    results = await _feed(voice, stream, say("how about tokyo") + bytes(32000 * 5))
    assert isinstance(results[-1], Final) and results[-1].text == "how about tokyo"
    assert results[-1].audio_seconds < 5


async def test_a_silent_dictation_times_out(voice: Voice) -> None:
    voice.limits = Limits(silence_timeout=1.0)
    stream = await voice.transcribe(None, None, AudioFormat())
    results = await _feed(voice, stream, bytes(32000 * 3))
    assert results == [Final("", 0.0, timed_out=True, audio_seconds=1.02, speech_end=None)] or (
        isinstance(results[-1], Final) and results[-1].timed_out
    )


async def test_a_stream_over_its_duration_is_refused(voice: Voice) -> None:
    voice.limits = Limits(max_seconds=2.0, silence_timeout=10.0)
    stream = await voice.asr(WEATHER, None, AudioFormat())
    with pytest.raises(AudioTooLong) as caught:
        await _feed(voice, stream, bytes(32000 * 3))
    assert caught.value.details["limit"] == "max_seconds"


async def test_the_session_calibration_is_kept_for_its_next_turn(voice: Voice) -> None:
    from dialoghub.engine.records import Session

    s = Session(
        id="s1",
        model_id="weather",
        model_version="1",
        unit="main",
        state="listen",
        awaiting={"kind": "user"},
    )
    stream = await voice.asr(WEATHER, s, AudioFormat())
    await _feed(voice, stream, say("hello"))
    await voice.end(stream, s)
    assert voice.calibration_of(s) == stream.calibration and stream.calibration
