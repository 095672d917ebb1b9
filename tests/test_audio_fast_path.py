"""The fast paths (dr_flac, then libsndfile) give the very bytes torchcodec's path gives, and
only where they may.

16 kHz mono 16-bit FLAC is decoded by dr_flac (or libsndfile) straight into the WAV body;
everything else (other rates, layouts or sample formats, lossy codecs, damaged files) must be
left to FFmpeg.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
import soundfile as sf

from asyncbench.sources import audio, watermark


def flac(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype=subtype)
    return out.getvalue()


def tone(rate: int, channels: int, seconds: float) -> np.ndarray:
    """A 440 Hz tone, (frames,) for mono and (frames, channels) otherwise."""
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


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
    data = flac(tone(rate, channels, 1.0), rate, subtype)
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


@pytest.mark.parametrize("seconds", [0.2, 1.0, 3.7, 31.0])
def test_dr_flac_gives_libsndfiles_bytes(seconds: float) -> None:
    """The same samples either way (FLAC is lossless), and to_wav16k takes dr_flac's."""
    pcm = watermark.embed(f"dr_flac for {seconds} seconds", seconds, seed=7)
    data = flac(pcm)
    fast = audio._decode_flac16(data)
    assert fast is not None and fast == audio._decode_pcm16(data)
    assert np.array_equal(np.frombuffer(fast[44:], "<i2"), pcm)
    assert audio.to_wav16k(data) == (fast, len(pcm) / 16000)


def test_to_wav16k_needs_no_libsndfile_for_a_16k_mono_flac(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def never(data: bytes) -> None:
        raise AssertionError("libsndfile was asked")

    monkeypatch.setattr(audio, "_decode_pcm16", never)
    pcm = watermark.embed("dr_flac alone", 1.0, seed=2)
    wav, _ = audio.to_wav16k(flac(pcm))
    assert np.array_equal(np.frombuffer(wav[44:], "<i2"), pcm)


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(44100, 1, "PCM_16"), (16000, 2, "PCM_16"), (16000, 1, "PCM_24"), (16000, 1, "PCM_S8")],
)
def test_dr_flac_leaves_other_layouts(rate: int, channels: int, subtype: str) -> None:
    assert audio._decode_flac16(flac(tone(rate, channels, 0.5), rate, subtype)) is None


def test_dr_flac_sends_no_damaged_clip() -> None:
    """A cut-short file or a flipped bit in a frame (its checksum fails) gives None, so the
    clip is never sent with samples missing or wrong; foreign bytes are not FLAC at all."""
    data = flac(watermark.embed("damaged", 3.0, seed=1))
    assert audio._decode_flac16(data[: len(data) // 2]) is None
    for pos in (len(data) // 3, len(data) // 2, len(data) - 10):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        assert audio._decode_flac16(bytes(flipped)) is None
    assert audio._decode_flac16(b"fLaC" + bytes(200)) is None
    assert audio._decode_flac16(b"not audio" * 40) is None


def test_without_miniaudio_libsndfile_decodes_the_same(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pcm = watermark.embed("no miniaudio here", 1.1, seed=4)
    data = flac(pcm)
    fast = audio.to_wav16k(data)
    monkeypatch.setitem(sys.modules, "_miniaudio", None)  # import fails as if not installed
    assert audio._decode_flac16(data) is None
    assert audio.to_wav16k(data) == fast
