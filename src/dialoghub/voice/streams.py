"""The ASR and transcribe streams: audio chunks in, partial and final transcripts out.

Each chunk goes through the stream's :class:`~dialoghub.voice.audio.AudioDecoder` (to 16 kHz
mono), the voice-activity endpointer (pocketsphinx's ``Endpointer``: 30 ms frames, speech
decided over a 0.3 s window), and, while there is speech, the engine's utterance. All of that
is CPU work and runs on the :class:`Voice`'s worker threads (``await stream.feed(chunk)``), so
the event loop only moves bytes; the calls of one stream run one at a time, in order, and
streams of different sessions run side by side.

Time in a stream is audio time (samples received), never the wall clock, so a test or a
client sending faster than real time gets the same results as a microphone:

- an ASR stream ends with one :class:`Final` when the endpointer hears the end of speech,
  when the client ends the audio, or, if no speech started within ``silence_timeout``
  seconds, timed out (``timed_out=True``, empty text);
- a transcribe stream goes on over several utterances, each adding to its text, until the
  client ends it, ``silence_timeout`` seconds pass after the last speech, or an utterance ends
  with the end phrase (which is left out of the text);
- a stream longer than ``max_seconds`` of audio or ``max_bytes`` as sent is refused with
  :class:`~dialoghub.errors.AudioTooLong` (an hour of silence or a 1 GB stream stop there).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dialoghub.errors import AudioTooLong
from dialoghub.voice.audio import SAMPLE_RATE, AudioDecoder, AudioFormat
from dialoghub.voice.domain import Domain, digits
from dialoghub.voice.engines import Engine, Utterance

__all__ = ["AsrStream", "Final", "Limits", "Partial", "Result", "TranscribeStream"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one stream."""

    max_seconds: float = 60.0  # of audio, at 16 kHz
    max_bytes: int = 16 * 1024 * 1024  # as sent (a minute of 48 kHz stereo is 11 MB)
    silence_timeout: float = 5.0  # seconds of audio without speech that end a stream
    end_phrase: str = "stop dictation"  # ends a transcribe stream (said last)


@dataclass(frozen=True, slots=True)
class Partial:
    """What has been recognised so far (it grows as the user speaks)."""

    text: str


@dataclass(frozen=True, slots=True)
class Final:
    """The stream's result: text, confidence in [0, 1], and whether it timed out."""

    text: str
    confidence: float = 0.0
    timed_out: bool = False
    audio_seconds: float = 0.0
    speech_end: float | None = None  # audio time (s) the endpointer put the end of speech


Result = Partial | Final


def _endpointer() -> Any:
    from pocketsphinx import Endpointer

    return Endpointer(window=WINDOW, sample_rate=SAMPLE_RATE)


#: Audio before the endpointer's start of speech given to the recogniser too (seconds). The
#: endpointer's speech starts at its window (0.3 s) before it decided; the soft start of a
#: word can be earlier: streamed "goodbye" (espeak) came back "bye" without pre-roll, and
#: right with 0.3 s of it.
PREROLL = 0.3
#: The endpointer's decision window (seconds), its default: 0.15 s is refused with its ratio
#: of 0.9 ("end-pointing impossible"); the window is most of the end-of-speech latency.
#: Its ratio stays at the default 0.9: 0.6 took the final's p50 from 549 to 463 ms on 20
#: held-out sentences x 2 voices but WER from 30.9% to 32.7% (benchmarks/voice.py).
WINDOW = 0.3


@dataclass
class _Segmenter:
    """The endpointer over a byte stream: frames in, speech frames and boundaries out."""

    ep: Any = field(default_factory=_endpointer)
    buf: bytes = b""
    frames: int = 0  # frames seen
    history: deque[bytes] = field(default_factory=deque)  # the last frames seen

    @property
    def frame_bytes(self) -> int:
        return int(self.ep.frame_bytes)

    def frames_of(self, pcm: bytes) -> list[tuple[bytes | None, bool, bool]]:
        """For each whole frame: (speech or None, speech started, speech ended)."""
        self.buf += pcm
        out: list[tuple[bytes | None, bool, bool]] = []
        fb = self.frame_bytes
        frame_s = fb / (2 * SAMPLE_RATE)
        window = round(WINDOW / frame_s)
        preroll = round(PREROLL / frame_s)
        while len(self.buf) >= fb:
            frame, self.buf = self.buf[:fb], self.buf[fb:]
            was = self.ep.in_speech
            speech = self.ep.process(frame)
            self.history.append(frame)
            if len(self.history) > window + preroll + 1:
                self.history.popleft()
            self.frames += 1
            if speech is None:
                out.append((None, False, False))
                continue
            started = not was
            if started:  # the frames before the endpointer's window, then its speech
                before = list(self.history)[: max(0, len(self.history) - window - 1)]
                speech = b"".join(before[-preroll:]) + speech
            out.append((speech, started, not self.ep.in_speech))
        return out

    def end(self) -> bytes | None:
        """The rest of the speech when the audio ends inside it."""
        if self.ep.in_speech:
            rest = self.ep.end_stream(self.buf)
            self.buf = b""
            return rest if rest else b""
        return None

    @property
    def in_speech(self) -> bool:
        return bool(self.ep.in_speech)

    @property
    def seconds(self) -> float:
        return self.frames * self.frame_bytes / (2 * SAMPLE_RATE)


class _Stream:
    """What both streams share: decoding, bounds, the endpointer, the engine's utterance."""

    def __init__(
        self,
        engine: Engine,
        domain: Domain,
        fmt: AudioFormat,
        *,
        limits: Limits,
        calibration: str | None = None,
    ) -> None:
        self.engine, self.domain, self.limits = engine, domain, limits
        self.audio = AudioDecoder(fmt)
        self.seg = _Segmenter()
        self.utt: Utterance | None = None
        self.calibration = calibration
        self.samples = 0
        self.last_speech = 0.0  # audio time speech last ended (or the stream began)
        self.partial = ""
        self.done: Final | None = None

    def _bound(self, chunk: bytes) -> None:
        if self.audio.received + len(chunk) > self.limits.max_bytes:
            raise AudioTooLong(
                f"an audio stream is at most {self.limits.max_bytes} bytes; this one is over",
                limit="max_bytes",
                max_bytes=self.limits.max_bytes,
            )

    def _count(self, pcm: bytes) -> None:
        self.samples += len(pcm) // 2
        if self.samples / SAMPLE_RATE > self.limits.max_seconds:
            raise AudioTooLong(
                f"an audio stream is at most {self.limits.max_seconds:g} s long",
                limit="max_seconds",
                max_seconds=self.limits.max_seconds,
            )

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def _start(self) -> None:
        self.utt = self.engine.open(self.domain, calibration=self.calibration)
        self.partial = ""

    def _finish_utterance(self) -> tuple[str, float]:
        assert self.utt is not None
        hyp = self.utt.finish()
        self.calibration = self.utt.calibration or self.calibration
        self.utt = None
        text = digits(hyp.text) if self.domain.digits else hyp.text
        return text, hyp.confidence


class AsrStream(_Stream):
    """One user turn: audio until the end of speech, then one :class:`Final`."""

    def feed(self, chunk: bytes) -> list[Result]:
        """Take one chunk as sent; the results it produced (CPU work: call off the loop)."""
        if self.done is not None:
            return []  # audio after the final result (the client is still sending): dropped
        self._bound(chunk)
        pcm = self.audio.feed(chunk)
        self._count(pcm)
        return self._frames(pcm)

    def _frames(self, pcm: bytes) -> list[Result]:
        out: list[Result] = []
        for speech, started, ended in self.seg.frames_of(pcm):
            if speech is None:
                continue
            if started:
                self._start()
            assert self.utt is not None
            partial = self.utt.feed(speech)
            if ended:
                text, conf = self._finish_utterance()
                self.done = Final(
                    text, conf, audio_seconds=self.seconds, speech_end=self.seg.seconds
                )
                out.append(self.done)
                return out
            if partial and partial != self.partial:
                self.partial = partial
                out.append(Partial(partial))
        if self.utt is None and self.seconds >= self.limits.silence_timeout:
            self.done = Final("", 0.0, timed_out=True, audio_seconds=self.seconds)
            out.append(self.done)
        return out

    def end(self) -> Final:
        """The client ended the audio: the final result (if not given already)."""
        if self.done is not None:
            return self.done
        pcm = self.audio.end()
        results = self._frames(pcm) if pcm else []
        if self.done is not None:
            del results
            return self.done
        rest = self.seg.end()
        if self.utt is not None:
            if rest:
                self.utt.feed(rest)
            text, conf = self._finish_utterance()
            self.done = Final(text, conf, audio_seconds=self.seconds, speech_end=self.seconds)
        else:
            # no speech at all: the stream "timed out" the way a silent turn does
            self.done = Final("", 0.0, timed_out=True, audio_seconds=self.seconds)
        return self.done


class TranscribeStream(_Stream):
    """Free dictation: utterances add up until the client, silence or the end phrase ends it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts: list[str] = []
        self.confidences: list[float] = []
        phrase = self.limits.end_phrase.lower().split()
        self.end_words = phrase

    @property
    def text(self) -> str:
        return " ".join(p for p in self.parts if p)

    def feed(self, chunk: bytes) -> list[Result]:
        """Take one chunk; partials (the whole text so far) and, at the end, the final."""
        if self.done is not None:
            return []
        self._bound(chunk)
        pcm = self.audio.feed(chunk)
        self._count(pcm)
        return self._frames(pcm)

    def _frames(self, pcm: bytes) -> list[Result]:
        out: list[Result] = []
        for speech, started, ended in self.seg.frames_of(pcm):
            if speech is None:
                continue
            if started:
                self._start()
            assert self.utt is not None
            partial = self.utt.feed(speech)
            if ended:
                if self._utterance_done():
                    out.append(self._final())
                    return out
                out.append(Partial(self.text))
                continue
            if partial and partial != self.partial:
                self.partial = partial
                out.append(Partial(" ".join(p for p in (self.text, partial) if p)))
        if self.utt is None and self.seconds - self.last_speech >= self.limits.silence_timeout:
            out.append(self._final(timed_out=not self.parts))
        return out

    def _utterance_done(self) -> bool:
        """Add the utterance that just ended; True if it ended with the end phrase."""
        text, conf = self._finish_utterance()
        self.last_speech = self.seg.seconds
        words = text.split()
        n = len(self.end_words)
        stop = bool(n) and words[-n:] == self.end_words
        if stop:
            words = words[:-n]
        if words:
            self.parts.append(" ".join(words))
            self.confidences.append(conf)
        return stop

    def _final(self, *, timed_out: bool = False) -> Final:
        conf = sum(self.confidences) / len(self.confidences) if self.confidences else 0.0
        self.done = Final(
            self.text,
            round(conf, 4),
            timed_out=timed_out,
            audio_seconds=self.seconds,
            speech_end=self.last_speech or None,
        )
        return self.done

    def end(self) -> Final:
        """The client ended the dictation: everything said, as the final result."""
        if self.done is not None:
            return self.done
        pcm = self.audio.end()
        if pcm:
            self._frames(pcm)
            if self.done is not None:
                return self.done
        rest = self.seg.end()
        if self.utt is not None:
            if rest:
                self.utt.feed(rest)
            self._utterance_done()
        return self._final(timed_out=not self.parts)
