"""The endpointer: a short wait after a sentence that is complete, a long one after words that
cannot end one, decoding that keeps up with the audio (audio time, not the clock)."""

from __future__ import annotations

import numpy as np
import pytest

from dialoghub.model.loader import load_model
from dialoghub.voice.audio import AudioFormat
from dialoghub.voice.domain import Domain, Endings, endings, whole_model
from dialoghub.voice.service import Voice
from dialoghub.voice.streams import (
    HANGOVER_COMPLETE,
    HANGOVER_OPEN,
    HANGOVER_UNSURE,
    AsrStream,
    Final,
    Partial,
)
from tests.conftest import EXAMPLES
from tests.voice.conftest import need_speech, say

WEATHER = load_model(EXAMPLES / "weather" / "weather.yaml")
PIZZA = load_model(EXAMPLES / "pizza" / "pizza.yaml")


def test_endings_count_how_often_a_sentence_ends_after_the_last_words() -> None:
    e = Endings(["what is the weather in paris", "what is the weather", "yes", "yes please"])
    assert e.probability(["what", "is", "the", "weather"]) == 0.5
    assert e.probability(["the", "weather", "in", "paris"]) == 1.0
    assert e.probability(["what", "is", "the"]) == 0.0
    assert e.probability(["yes"]) == 0.5  # "yes" alone, and "yes please"
    assert e.probability(["please"]) == 1.0  # an unseen pair: the last word alone
    assert e.probability(["tokyo"]) is None and e.probability([]) is None
    assert e.seen(["the", "weather"]) and not e.seen(["weather", "you"])
    # a pair seen twice, never last, is pulled towards how often its last word ends one
    f = Endings(["forecast for rome tomorrow", "forecast for rome tomorrow", "rome"])
    assert f.probability(["weather", "for", "rome"]) == pytest.approx((0 + 2 / 3) / 4)


def test_the_hangover_follows_what_was_heard() -> None:
    need_speech()
    voice = Voice()
    try:
        stream = AsrStream(voice.engine, whole_model(WEATHER), AudioFormat(), limits=voice.limits)
        assert stream.hangover("what is the weather in paris") == HANGOVER_COMPLETE
        assert stream.hangover("what is the") == HANGOVER_OPEN
        assert stream.hangover("") == HANGOVER_UNSURE
        general = AsrStream(
            voice.engine, Domain(key="general", general=True), AudioFormat(), limits=voice.limits
        )
        assert general.endings is None and general.hangover("hello") == HANGOVER_UNSURE
    finally:
        voice.close()
    assert endings(whole_model(WEATHER)) is endings(whole_model(WEATHER))  # built once


def _last_loud(pcm: bytes) -> float:
    loud = np.nonzero(np.abs(np.frombuffer(pcm, "<i2").astype(int)) > 327)[0]
    return float(loud[-1]) / 16000


async def _run(voice: Voice, stream: AsrStream, pcm: bytes) -> list[object]:
    out: list[object] = []
    for i in range(0, len(pcm), 960):  # 30 ms chunks: the endpoint is seen to the frame
        out += await voice.feed(stream, pcm[i : i + 960])
        if stream.done is not None:
            break
    return out


@pytest.fixture
def voice() -> Voice:
    need_speech()
    v = Voice()
    yield v
    v.close()


async def _warm(voice: Voice) -> None:
    """A session's first turn: a fresh decoder's first utterance is recognised worse."""
    warm = await voice.asr(WEATHER, None, AudioFormat())
    await _run(voice, warm, say("will it rain in tokyo tomorrow") + bytes(32000))
    voice.remember(None, warm.calibration)


async def test_a_complete_sentence_ends_soon_after_the_voice(voice: Voice) -> None:
    await _warm(voice)
    pcm = say("what is the weather in paris", pad=0.3) + bytes(32000 * 2)
    stream = await voice.asr(WEATHER, None, AudioFormat())
    results = await _run(voice, stream, pcm)
    final = results[-1]
    assert isinstance(final, Final) and final.text == "what is the weather in paris"
    assert final.endpoint is not None and final.speech_end is not None
    # the VAD's own hangover plus the short wait: well under the old endpointer's 0.46 s
    assert final.endpoint - _last_loud(pcm) < 0.25
    assert final.endpoint - final.speech_end == pytest.approx(HANGOVER_COMPLETE, abs=0.031)
    # decoding kept up with the audio: the last partial already was the whole sentence
    partials = [r.text for r in results if isinstance(r, Partial)]
    assert partials[-1] == final.text


async def test_a_pause_after_words_that_do_not_end_a_sentence_does_not_cut_the_user(
    voice: Voice,
) -> None:
    await _warm(voice)
    spoken = say("what is the weather in", pad=0.0)
    spoken = spoken[: 2 * int(_last_loud(spoken) * 16000 + 1)]  # espeak's own silence cut
    first = spoken + bytes(int(32000 * 0.3))  # a 0.3 s hesitation
    pcm = first + say("berlin", pad=0.0) + bytes(32000 * 2)
    stream = await voice.asr(WEATHER, None, AudioFormat())
    results = await _run(voice, stream, pcm)
    final = results[-1]
    assert isinstance(final, Final)
    # the speech went on through the pause: its end is the second part's
    assert final.speech_end is not None and final.speech_end > len(first) / 32000
    assert final.text.startswith("what is the weather")


async def test_the_end_of_an_endpointed_stream_needs_no_worker_thread(voice: Voice) -> None:
    stream = await voice.asr(WEATHER, None, AudioFormat())
    results = await _run(voice, stream, say("goodbye") + bytes(32000))
    assert isinstance(results[-1], Final)
    voice.executor.shutdown(wait=True)  # a job sent to the workers now would raise
    assert await voice.end(stream, None) is results[-1]
