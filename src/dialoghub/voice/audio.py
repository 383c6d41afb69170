"""Audio formats and conversion: everything a stream receives becomes 16 kHz 16-bit mono PCM.

Recognition runs on 16 kHz signed 16-bit little-endian mono samples (what pocketsphinx's
acoustic model was trained on: feeding espeak's 22.05 kHz audio undecimated cost 44% WER
against 3.8% in ../shared/research/speech.md). An :class:`AudioDecoder` takes what the client
declared (``pcm16`` at any rate, ``wav``, or ``flac``) and turns each incoming chunk into that,
checking everything before it is used:

- raw PCM chunks must hold whole samples (an odd byte count is refused, not silently cut);
- a WAV stream must start with a RIFF/WAVE header of 16-bit PCM, mono or stereo, whose rate
  agrees with the declared one (a header that says 8 kHz on a stream declared 16 kHz is
  refused); the data length of a piped WAV is a placeholder, so it is not trusted;
- FLAC is gathered (within the stream's byte bound) and decoded by SoX when the stream ends;
- any rate between 8 and 48 kHz is resampled (linear interpolation, carried across chunks).

Nothing here touches a session: a refusal raises :class:`~dialoghub.errors.AudioInvalid`.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from typing import Any, Literal

from dialoghub.errors import AudioInvalid, VoiceUnavailable

__all__ = [
    "ENCODINGS",
    "SAMPLE_RATE",
    "AudioDecoder",
    "AudioFormat",
    "Resampler",
    "convert_file",
    "pcm_to_wav",
    "read_wav",
    "seconds",
]

#: The rate recognition runs at (samples per second).
SAMPLE_RATE = 16000
#: What a client may declare.
ENCODINGS = ("pcm16", "wav", "flac")
Encoding = Literal["pcm16", "wav", "flac"]
MIN_RATE, MAX_RATE = 8000, 48000


def seconds(pcm: bytes | int, rate: int = SAMPLE_RATE) -> float:
    """How long ``pcm`` (bytes, or a byte count) of 16-bit mono audio lasts."""
    n = pcm if isinstance(pcm, int) else len(pcm)
    return n / (2 * rate)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """What a client says it sends: an encoding and (for ``pcm16``) a sample rate."""

    encoding: str = "pcm16"
    sample_rate: int = SAMPLE_RATE

    def check(self) -> AudioFormat:
        """This format, or :class:`AudioInvalid` saying what is wrong with it."""
        if self.encoding not in ENCODINGS:
            raise AudioInvalid(
                f"unknown audio encoding {self.encoding!r}; use one of {', '.join(ENCODINGS)}",
                encoding=self.encoding,
            )
        if (
            not isinstance(self.sample_rate, int)
            or isinstance(self.sample_rate, bool)
            or not MIN_RATE <= self.sample_rate <= MAX_RATE
        ):
            raise AudioInvalid(
                f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE} Hz, not "
                f"{self.sample_rate!r}",
                sample_rate=self.sample_rate,
            )
        return self


class Resampler:
    """Streaming resampler of 16-bit mono PCM from ``rate`` to ``to`` (16 kHz by default).

    Going down, a windowed-sinc low-pass filter (63 taps, cut at 90% of the new Nyquist
    frequency) runs first, then linear interpolation; without the filter, 22.05 kHz espeak
    speech folded its 8-11 kHz energy onto the recogniser's band ("berlin" came back "new").
    Filter history, the fractional position and the last sample are carried across chunks,
    so chunk boundaries change nothing.
    """

    TAPS = 63

    def __init__(self, rate: int, *, to: int = SAMPLE_RATE) -> None:
        self.step = rate / to
        self.pos = 0.0  # position of the next output sample, in input samples from `prev`
        self.prev: float | None = None
        self.same = rate == to
        self.fir: Any = None
        self.history: Any = None
        if rate > to:
            import numpy as np

            cutoff = 0.9 * (to / 2) / rate  # in cycles per input sample
            n = np.arange(self.TAPS) - (self.TAPS - 1) / 2
            taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(self.TAPS)
            self.fir = taps / taps.sum()
            self.history = np.zeros(self.TAPS - 1)

    def feed(self, pcm: bytes) -> bytes:
        """The resampled samples of ``pcm`` (whole samples only)."""
        if self.same or not pcm:
            return pcm
        import numpy as np

        x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if self.fir is not None:
            padded = np.concatenate((self.history, x))
            self.history = padded[-(self.TAPS - 1) :]
            x = np.convolve(padded, self.fir, mode="valid")
        if self.prev is not None:
            x = np.concatenate(([float(self.prev)], x))
            start = self.pos
        else:
            start = 0.0
        n_in = len(x)
        if n_in < 2:
            self.prev = float(x[-1]) if n_in else self.prev
            self.pos = max(0.0, start - (n_in - 1))
            return b""
        positions = np.arange(start, n_in - 1, self.step)
        out = np.interp(positions, np.arange(n_in), x)
        self.pos = (
            (positions[-1] + self.step) - (n_in - 1) if len(positions) else start - (n_in - 1)
        )
        self.prev = float(x[-1])
        return bytes(np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes())


def _downmix(pcm: bytes, channels: int) -> bytes:
    if channels == 1:
        return pcm
    import numpy as np

    frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    return bytes(frames.mean(axis=1).astype("<i2").tobytes())


@dataclass(frozen=True, slots=True)
class WavHeader:
    """The parts of a RIFF/WAVE header a stream needs."""

    sample_rate: int
    channels: int
    data_offset: int


def parse_wav_header(head: bytes) -> WavHeader | None:
    """The header of a WAV stream's first bytes; None if more bytes are needed to tell."""
    if len(head) < 12:
        if not (b"RIFF"[: len(head)] == head[:4]):
            raise AudioInvalid("a wav stream must start with a RIFF header")
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioInvalid("a wav stream must start with a RIFF/WAVE header; this one does not")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while True:
        if len(head) < pos + 8:
            if pos > 4096:
                raise AudioInvalid("no data chunk in the first 4 KiB of the wav stream")
            return None
        cid, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"data":
            if fmt is None:
                raise AudioInvalid("the wav stream has its data before its fmt chunk")
            audio_format, channels, rate, bits = fmt
            if audio_format not in (1, 0xFFFE) or bits != 16:
                raise AudioInvalid(
                    f"wav audio must be 16-bit PCM, not format {audio_format} with {bits} bits",
                    bits=bits,
                )
            if channels not in (1, 2):
                raise AudioInvalid(f"wav audio must be mono or stereo, not {channels} channels")
            return WavHeader(rate, channels, body)
        if len(head) < body + size:
            if body + size > 4096:
                raise AudioInvalid("a wav header chunk is over 4 KiB")
            return None
        if cid == b"fmt ":
            if size < 16:
                raise AudioInvalid("the wav fmt chunk is too short")
            af, ch, rate, _, _, bits = struct.unpack("<HHIIHH", head[body : body + 16])
            fmt = (af, ch, rate, bits)
        pos = body + size + (size & 1)


class AudioDecoder:
    """One stream's audio, as declared, turned into 16 kHz mono PCM chunk by chunk.

    ``feed`` returns what can be recognised now (possibly nothing yet: a WAV header still
    arriving, FLAC gathered); ``end`` returns the rest once the client says the audio ended.
    """

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt.check()
        self.pending = b""
        self.header: WavHeader | None = None
        self.channels = 1
        self.resampler: Resampler | None = (
            Resampler(fmt.sample_rate) if fmt.encoding == "pcm16" else None
        )
        self.received = 0  # bytes as sent by the client

    def feed(self, chunk: bytes) -> bytes:
        """The 16 kHz samples of ``chunk`` that can be used now."""
        self.received += len(chunk)
        enc = self.format.encoding
        if enc == "flac":
            self.pending += chunk
            return b""
        if enc == "pcm16":
            if len(chunk) % 2:
                raise AudioInvalid(
                    f"a pcm16 chunk holds whole 16-bit samples: {len(chunk)} bytes is odd",
                    bytes=len(chunk),
                )
            assert self.resampler is not None
            return self.resampler.feed(chunk)
        return self._wav(chunk)

    def _wav(self, chunk: bytes) -> bytes:
        if self.header is None:
            self.pending += chunk
            header = parse_wav_header(self.pending)
            if header is None:
                return b""
            declared = self.format.sample_rate
            if declared != SAMPLE_RATE and declared != header.sample_rate:
                raise AudioInvalid(
                    f"the wav header says {header.sample_rate} Hz but the stream was declared "
                    f"{declared} Hz",
                    header_rate=header.sample_rate,
                    sample_rate=declared,
                )
            if not MIN_RATE <= header.sample_rate <= MAX_RATE:
                raise AudioInvalid(
                    f"the wav header's sample rate {header.sample_rate} Hz is outside "
                    f"{MIN_RATE}..{MAX_RATE}",
                    header_rate=header.sample_rate,
                )
            self.header = header
            self.channels = header.channels
            self.resampler = Resampler(header.sample_rate)
            chunk, self.pending = self.pending[header.data_offset :], b""
        data = self.pending + chunk
        whole = len(data) - len(data) % (2 * self.channels)
        self.pending = data[whole:]
        assert self.resampler is not None
        return self.resampler.feed(_downmix(data[:whole], self.channels))

    def end(self) -> bytes:
        """What is left once the client ended the audio (all of a FLAC stream)."""
        if self.format.encoding == "flac":
            data, self.pending = self.pending, b""
            return convert_bytes(data, "flac") if data else b""
        if self.format.encoding == "wav" and self.header is None and self.pending:
            raise AudioInvalid("the wav stream ended inside its header")
        if self.pending:
            raise AudioInvalid(
                f"the audio ended inside a sample ({len(self.pending)} stray bytes)",
                bytes=len(self.pending),
            )
        return b""


# SoX converts with "-D": no dither. Its default adds random noise when it resamples or
# narrows samples, so the same file recognised twice could give two transcripts.


def _sox() -> str:
    sox = shutil.which("sox")
    if sox is None:
        raise VoiceUnavailable(
            "SoX is not installed (apt-get install sox): no FLAC or file conversion", engine="sox"
        )
    return sox


def _raw_args(rate: int = SAMPLE_RATE) -> list[str]:
    return ["-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-"]


def convert_bytes(data: bytes, file_type: str, *, rate: int = SAMPLE_RATE) -> bytes:
    """Encoded audio (``flac``, ``wav``, ...) to raw 16-bit mono PCM at ``rate``, with SoX."""
    proc = subprocess.run(
        [_sox(), "-q", "-D", "-t", file_type, "-", *_raw_args(rate)],
        input=data,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioInvalid(
            f"the {file_type} audio does not decode: {why[-1] if why else 'sox failed'}",
            encoding=file_type,
        )
    return proc.stdout


def convert_file(path: str, *, rate: int = SAMPLE_RATE) -> bytes:
    """Any audio file SoX reads (WAV of any rate or depth, FLAC, ...) as 16-bit mono PCM."""
    proc = subprocess.run(
        [_sox(), "-q", "-D", path, *_raw_args(rate)], capture_output=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioInvalid(f"{path} does not decode: {why[-1] if why else 'sox failed'}")
    return proc.stdout


def pcm_to_wav(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM wrapped in a WAV header with the true lengths."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def read_wav(data: bytes) -> tuple[bytes, int]:
    """``(pcm, rate)`` of a whole 16-bit WAV (stereo down-mixed)."""
    header = parse_wav_header(data)
    if header is None:
        raise AudioInvalid("the wav data is shorter than its header")
    pcm = data[header.data_offset :]
    pcm = pcm[: len(pcm) - len(pcm) % (2 * header.channels)]
    return _downmix(pcm, header.channels), header.sample_rate
