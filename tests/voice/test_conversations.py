"""The weather and pizza dialogs by voice, end to end, against the same dialogs typed.

espeak-ng speaks each user turn; the audio goes in 0.1 s chunks over the session's audio
socket to a real server (uvicorn on 127.0.0.1); the final transcript updates the session,
which must rest where the typed conversation rests, with the same replies. Each reply comes
back as audio (at 22.05 kHz, so the rate conversion is on the path) that recognises as the
reply's text.
"""

from __future__ import annotations

from typing import Any

from dialoghub.client import Client
from dialoghub.client_voice import chunked
from dialoghub.voice.audio import Resampler
from dialoghub.voice.domain import Domain, spoken
from dialoghub.voice.engines import PocketSphinx
from tests.voice.conftest import Live, reply_texts, say, wer

WEATHER = [  # (what the user says, what the application answers when a command is asked)
    ("what is the weather in paris", {"forecast": "sunny", "temperature": 21}),
    ("what's the weather like", None),
    ("tokyo", {"forecast": "rainy", "temperature": 14}),
    ("thanks a lot", None),
    ("goodbye", None),
]
PIZZA = [
    ("i'd like a large pepperoni", None),
    ("yes", None),
    ("forty two baker street", {"order_id": "A1", "minutes": 25}),
    ("no", None),
]
TYPED = {"forty two baker street": "42 Baker Street"}  # how the typed conversation writes it


def _where(view: Any) -> tuple[str, str, str]:
    s = view["session"] if isinstance(view, dict) else view.session
    get = s.get if isinstance(s, dict) else lambda k: getattr(s, k)
    return get("unit"), get("state"), str(get("status"))


def _command(actions: Any) -> dict[str, Any] | None:
    for a in actions:
        if isinstance(a, dict) and a.get("type") == "command":
            return a
        if type(a).__name__ == "CommandAction":
            return {"type": "command", "id": a.id, "params": a.params}
    return None


async def _converse(live: Live, model: str, turns: list[tuple[str, Any]]) -> list[str]:
    """Run the dialog typed and spoken side by side; the replies of the spoken one."""
    spoken_replies: list[str] = []
    async with Client(live.url, api_key=live.key) as c:
        typed = await c.create_session(model)
        spoken = await c.create_session(model)
        assert reply_texts(typed.actions) == reply_texts(spoken.actions)
        spoken_replies += reply_texts(spoken.actions)
        sock = await c.audio(spoken.session.id)
        try:
            for said, answer in turns:
                t = await c.process_text(typed.session.id, TYPED.get(said, said))
                turn = await sock.asr(chunked(say(said)))
                assert turn.text == said.replace("forty two", "42"), (said, turn.final)
                assert turn.update is not None, turn.final
                assert _where(turn.update) == _where(t), said
                t_replies, s_replies = reply_texts(t.actions), reply_texts(turn.actions)
                assert [r.lower() for r in s_replies] == [r.lower() for r in t_replies], said
                spoken_replies += s_replies
                cmd = _command(t.actions)
                assert (cmd is None) == (_command(turn.actions) is None), said
                if cmd is not None:
                    t = await c.process_command_result(typed.session.id, cmd["id"], answer)
                    v = await c.process_command_result(spoken.session.id, cmd["id"], answer)
                    assert _where(v) == _where(t)
                    assert [r.lower() for r in reply_texts(v.actions)] == [
                        r.lower() for r in reply_texts(t.actions)
                    ]
                    spoken_replies += reply_texts(v.actions)
            final = await c.get_session(spoken.session.id)
            assert str(final.status) == str((await c.get_session(typed.session.id)).status)
        finally:
            await sock.close()
    return spoken_replies


def _recognise_replies(audio: list[bytes], replies: list[str]) -> list[str]:
    """Recognise each reply's audio with an LM of every reply of the conversation."""
    engine = PocketSphinx()
    domain = Domain(key="replies", sentences=tuple(sorted({spoken(r) for r in replies})))
    out = []
    for pcm in audio:
        utt = engine.open(domain)
        utt.feed(bytes(3200) + pcm + bytes(3200))
        out.append(utt.finish().text)
    return out


async def _replies_as_audio(live: Live, session_id: str, replies: list[str]) -> list[bytes]:
    async with Client(live.url, api_key=live.key) as c:
        sock = await c.audio(session_id)
        try:
            out = []
            for text in replies:
                pcm = await sock.speak_all(text, sample_rate=22050)
                assert sock.last_tts["cancelled"] is False and sock.last_tts["bytes"] == len(pcm)
                out.append(Resampler(22050).feed(pcm))
            return out
        finally:
            await sock.close()


async def test_the_weather_dialog_by_voice_reaches_the_states_of_the_typed_one(live: Live) -> None:
    replies = await _converse(live, "weather", WEATHER)
    assert "In Paris it is sunny and 21 degrees." in replies
    assert replies[-1] == "Goodbye!"
    async with Client(live.url, api_key=live.key) as c:
        sid = (await c.create_session("weather")).session.id
    audio = await _replies_as_audio(live, sid, replies)
    heard = _recognise_replies(audio, replies)
    errors = [wer(spoken(r), h) for r, h in zip(replies, heard, strict=True)]
    assert sum(errors) / len(errors) <= 0.1, list(zip(replies, heard, strict=True))


async def test_the_pizza_dialog_by_voice_reaches_the_states_of_the_typed_one(live: Live) -> None:
    replies = await _converse(live, "pizza", PIZZA)
    assert replies[-1] == "Thanks for your order. Enjoy!"
    assert any(r.startswith("Order A1: large pepperoni to 42 baker street") for r in replies)
