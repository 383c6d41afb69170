"""The test chat's microphone in a real Chromium whose microphone is a WAV file.

Chromium's fake capture device (``--use-fake-device-for-media-stream``) plays a WAV spoken by
espeak-ng (``benchmarks.voice.say``, as tests/voice speaks) into ``getUserMedia``; the page
records it through its AudioWorklet, downsamples it to 16 kHz PCM and streams it over the
session's voice socket. The test checks what a person would see (partials as they come, the
final words, the turn's command) and that the session moved exactly as the same words typed
move another session; then that the reply comes back as speech.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dialoghub.voice.audio import pcm_to_wav
from tests.console.conftest import CHROMIUM, Live
from tests.console.test_console_browser import Page, api

UTTERANCE = "what's the weather in paris"


def _need_speech() -> None:
    missing = [c for c in ("espeak-ng", "sox") if shutil.which(c) is None]
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        missing.append("pocketsphinx")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The utterance as the fake microphone's WAV: a pause, the words, a long pause (the
    server's endpointer ends the turn on that silence)."""
    _need_speech()
    from benchmarks.voice import say

    path = tmp_path_factory.mktemp("mic") / "utterance.wav"
    path.write_bytes(pcm_to_wav(say(UTTERANCE, "en-us", before=0.5, after=3.0)))
    return path


@pytest.fixture(scope="module")
def mic_browser(playwright: Any, spoken: Path) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={spoken}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ])  # fmt: skip
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def mic_tab(mic_browser: Any, live: Live) -> Iterator[Page]:
    context = mic_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["microphone"], origin=live.url)
    page = Page(context.new_page(), live)
    page.page.set_default_timeout(30_000)
    try:
        yield page
        assert page.errors == []
    finally:
        context.close()


def _where(session: dict[str, Any]) -> tuple[Any, ...]:
    awaiting = session.get("awaiting") or {}
    return (session["unit"], session["state"], session["status"], awaiting.get("kind"),
            awaiting.get("command"), awaiting.get("params"))


@pytest.mark.parametrize("capture", ["worklet", "script"])
def test_a_spoken_turn_moves_the_session_as_the_typed_one(mic_tab: Page, capture: str) -> None:
    tab = mic_tab
    if capture == "script":  # a browser without AudioWorklet: the ScriptProcessor fallback
        tab.page.add_init_script("delete window.AudioWorkletNode")
    tab.sign_in(tab.live.keys.write)
    tab.go("/chat")
    tab.page.select_option("#chat-model", "weather")
    tab.page.click("#chat-start")
    tab.page.wait_for_selector(".chatlog li.bot")
    # every text the "heard" line shows, in order (the partials as they come)
    tab.page.evaluate("""() => {
        window.heard = [];
        const el = document.querySelector('#chat-partial');
        new MutationObserver(() => window.heard.push(el.textContent))
            .observe(el, { childList: true, characterData: true, subtree: true });
    }""")
    tab.page.click("#chat-mic")
    tab.page.wait_for_selector("#chat-mic[aria-pressed=true]")
    tab.page.wait_for_selector("#cmd-form", timeout=60_000)  # the endpointer ended the turn
    assert tab.page.get_attribute("#chat-mic", "aria-pressed") == "false"
    assert tab.page.get_attribute("#chat-mic", "data-capture") == capture
    # 16 kHz 16-bit mono from the browser: at least the speech and the silence that ended it
    sent = int(tab.page.get_attribute("#chat-mic", "data-sent-bytes") or 0)
    assert 32000 * 1.5 < sent < 32000 * 6, sent
    said = tab.page.inner_text(".chatlog li.user")
    assert said.endswith("weather in paris"), said
    partials = [t for t in tab.page.evaluate("window.heard") if t and t != "Listening…"]
    assert len(partials) >= 2 and "paris" in partials[-1], partials  # they grew as it spoke
    assert "Paris" in tab.page.inner_text("#cmd-form")
    events = tab.page.inner_text(".turn")
    assert "command_requested" in events or "lookup_weather" in events
    sid = tab.page.inner_text("p.muted a")

    # The same words typed into another session: the same place, the same command.
    with api(tab.live, tab.live.keys.write) as http:
        voiced = http.get(f"/v1/sessions/{sid}").json()
        typed = http.post("/v1/sessions", json={"model_id": "weather"}).json()["session"]
        typed = http.post(f"/v1/sessions/{typed['id']}/inputs",
                          json={"input": {"type": "text", "text": UTTERANCE}}).json()["session"]
        log = http.get(f"/v1/sessions/{sid}/events", params={"limit": 1000}).json()["events"]
    assert _where(voiced) == _where(typed)
    assert voiced["awaiting"]["params"]["city"] == "Paris"
    received = [e for e in log if e["type"] == "input_received"]
    assert received and received[-1]["data"]["input"]["type"] == "asr"

    # The reply, spoken: the command answered in the form, the reply comes back as audio.
    tab.page.check("#chat-speak")
    tab.page.fill("#cmd-outputs", '{"forecast": "sunny", "temperature": 21}')
    tab.page.click("#cmd-form button[type=submit]")
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('.chatlog li.bot')].some("
        "li => li.textContent.includes('sunny'))")
    tab.page.wait_for_function(
        "() => Number(document.querySelector('#chat-mic').dataset.spokenBytes || 0) > 16000")
    if capture == "worklet":
        tab.shot("chat-voice")
