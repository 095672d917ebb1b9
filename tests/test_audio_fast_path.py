"""libsndfile's fast path gives the very bytes torchcodec's path gives, and only where it may.

16 kHz mono 16-bit FLAC is decoded by libsndfile straight into the WAV body; everything else
(other rates, layouts or sample formats, lossy codecs, damaged files) must be left to FFmpeg.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

from asyncbench.sources import audio, watermark


def flac(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype=subtype)
    return out.getvalue()


@pytest.mark.parametrize("seconds", [0.2, 1.0, 3.7])
def test_16k_mono_flac_gives_torchcodecs_bytes(seconds: float) -> None:
    pcm = watermark.embed(f"clip of {seconds} seconds", seconds, seed=3)
    data = flac(pcm)
    fast = audio._decode_pcm16(data)
    assert fast is not None
    assert fast == audio._decode(data)
    wav, duration = audio.to_wav16k(data)
    assert wav == fast and duration == len(pcm) / 16000
    assert np.array_equal(np.frombuffer(wav[44:], "<i2"), pcm)


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(44100, 1, "PCM_16"), (16000, 2, "PCM_16"), (16000, 1, "PCM_24"), (8000, 1, "PCM_16")],
)
def test_other_flac_layouts_are_left_to_ffmpeg(rate: int, channels: int, subtype: str) -> None:
    t = np.arange(rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    samples = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    data = flac(samples, rate, subtype)
    assert audio._decode_pcm16(data) is None
    wav, duration = audio.to_wav16k(data)
    assert wav == audio._decode(data) and duration == pytest.approx(1.0, abs=0.01)


def test_damaged_or_foreign_bytes_are_left_to_ffmpeg() -> None:
    data = flac(watermark.embed("cut short", 2.0))
    assert audio._decode_pcm16(data[: len(data) // 2]) is None
    assert audio._decode_pcm16(b"this is not audio at all" * 20) is None
    with pytest.raises(audio.BadAudio, match="cannot decode audio"):
        audio.to_wav16k(b"this is not audio at all" * 20)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_file_descriptor_is_left_open() -> None:
    """Each clip goes through an anonymous memory file: every one is closed, decodable or not."""
    before = len(os.listdir("/proc/self/fd"))
    good = flac(watermark.embed("closed after use", 0.5))
    for _ in range(50):
        assert audio._decode_pcm16(good) is not None
        assert audio._decode_pcm16(b"not audio" * 40) is None
        assert audio._decode_pcm16(flac(np.zeros(800), 8000)) is None
    assert len(os.listdir("/proc/self/fd")) == before


def test_without_memory_files_soundfile_reads_the_same_bytes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where there is no memfd (not Linux) the clip goes through `soundfile` and a file-like
    object; both ways give the bytes libsndfile's own read gives."""
    pcm = watermark.embed("either way the same", 1.3, seed=5)
    data = flac(pcm)
    fast = audio._decode_pcm16(data)
    monkeypatch.delattr(os, "memfd_create")
    slow = audio._decode_pcm16(data)
    assert fast is not None and fast == slow
    assert fast[44:] == sf.read(io.BytesIO(data), dtype="int16")[0].tobytes()
    assert audio._decode_pcm16(flac(pcm, 8000)) is None
    assert audio._decode_pcm16(b"not audio" * 40) is None
