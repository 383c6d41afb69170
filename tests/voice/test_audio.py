"""Audio formats and conversion: what a stream receives becomes 16 kHz mono PCM, or is refused."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from dialoghub.errors import AudioInvalid
from dialoghub.voice.audio import (
    AudioDecoder,
    AudioFormat,
    Resampler,
    convert_bytes,
    pcm_to_wav,
    read_wav,
    seconds,
)
from tests.voice.conftest import need_speech


def _tone(rate: int, hz: float = 440.0, secs: float = 1.0) -> bytes:
    t = np.arange(int(rate * secs)) / rate
    return (np.sin(2 * math.pi * hz * t) * 10000).astype("<i2").tobytes()


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_duration_and_pitch_whatever_the_chunks(rate: int) -> None:
    pcm = _tone(rate)
    whole = Resampler(rate).feed(pcm)
    r = Resampler(rate)
    pieces = b"".join(r.feed(pcm[i : i + 2 * 397]) for i in range(0, len(pcm), 2 * 397))
    assert abs(len(pieces) - len(whole)) <= 4
    assert abs(seconds(whole) - 1.0) < 0.01
    x = np.frombuffer(whole, "<i2").astype(float)
    peak = np.argmax(np.abs(np.fft.rfft(x))) * 16000 / len(x)
    assert abs(peak - 440) < 5


def test_downsampling_filters_what_16_khz_cannot_hold() -> None:
    # a 10 kHz tone at 44.1 kHz would alias to 6 kHz without the low-pass filter
    out = np.frombuffer(Resampler(44100).feed(_tone(44100, hz=10000)), "<i2").astype(float)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 300  # was 7071 (a 10000-amplitude sine)


def test_16_khz_pcm_passes_through_and_odd_chunks_are_refused() -> None:
    d = AudioDecoder(AudioFormat())
    assert d.feed(b"\x01\x00\x02\x00") == b"\x01\x00\x02\x00"
    with pytest.raises(AudioInvalid, match="odd"):
        d.feed(b"\x00\x00\x00")


@pytest.mark.parametrize(
    ("fmt", "why"),
    [
        (AudioFormat("mp3"), "encoding"),
        (AudioFormat("pcm16", 7999), "sample_rate"),
        (AudioFormat("pcm16", 96000), "sample_rate"),
        (AudioFormat("pcm16", True), "sample_rate"),
    ],  # type: ignore[arg-type]
)
def test_declared_formats_are_checked(fmt: AudioFormat, why: str) -> None:
    with pytest.raises(AudioInvalid, match=why):
        AudioDecoder(fmt)


def test_a_wav_stream_is_read_across_chunks_and_downmixed() -> None:
    stereo = np.array([[1000, 3000]] * 1600, dtype="<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        0,
        b"WAVE",
        b"fmt ",
        16,
        1,
        2,
        16000,
        64000,
        4,
        16,
        b"data",
        0,
    )  # a piped WAV: lengths are placeholders
    data = header + stereo
    d = AudioDecoder(AudioFormat("wav"))
    out = b"".join(d.feed(data[i : i + 7]) for i in range(0, len(data), 7)) + d.end()
    samples = np.frombuffer(out, "<i2")
    assert len(samples) == 1600 and set(samples.tolist()) == {2000}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"RIFX" + bytes(40), "RIFF"),
        (b"RIFF\0\0\0\0WAVEdata\0\0\0\0", "before its fmt"),
        (
            struct.pack(
                "<4sI4s4sIHHIIHH4sI",
                b"RIFF",
                0,
                b"WAVE",
                b"fmt ",
                16,
                3,
                1,
                16000,
                64000,
                4,
                32,
                b"data",
                0,
            ),
            "16-bit PCM",
        ),
        (
            struct.pack(
                "<4sI4s4sIHHIIHH4sI",
                b"RIFF",
                0,
                b"WAVE",
                b"fmt ",
                16,
                1,
                6,
                16000,
                192000,
                12,
                16,
                b"data",
                0,
            ),
            "mono or stereo",
        ),
        (b"RIFF\0\0\0\0WAVE" + b"junk" + struct.pack("<I", 10_000) + bytes(5000), "4 KiB"),
    ],
)
def test_bad_wav_headers_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(AudioInvalid, match=why):
        AudioDecoder(AudioFormat("wav")).feed(data)


def test_a_wav_header_rate_must_agree_with_the_declared_one() -> None:
    wav = pcm_to_wav(bytes(3200), 8000)
    with pytest.raises(AudioInvalid, match="8000 Hz"):
        AudioDecoder(AudioFormat("wav", 22050)).feed(wav)
    # declared at the default rate: the header's rate is taken and converted
    assert abs(len(AudioDecoder(AudioFormat("wav")).feed(wav)) - 6400) <= 4  # upsampled


def test_a_stream_ending_inside_a_header_or_a_sample_is_refused() -> None:
    d = AudioDecoder(AudioFormat("wav"))
    d.feed(b"RIFF\0\0")
    with pytest.raises(AudioInvalid, match="inside its header"):
        d.end()


def test_wav_round_trip() -> None:
    pcm = _tone(16000, secs=0.1)
    assert read_wav(pcm_to_wav(pcm)) == (pcm, 16000)


def test_flac_is_decoded_by_sox_and_garbage_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    need_speech()
    import subprocess

    wav = pcm_to_wav(_tone(22050, secs=0.5), 22050)
    flac = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "flac", "-"], input=wav, capture_output=True, check=True
    ).stdout
    d = AudioDecoder(AudioFormat("flac"))
    assert d.feed(flac) == b""  # gathered until the end
    assert abs(seconds(d.end()) - 0.5) < 0.01
    with pytest.raises(AudioInvalid, match="does not decode"):
        convert_bytes(b"fLaC garbage", "flac")
