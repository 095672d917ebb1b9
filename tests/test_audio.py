import numpy as np
import pytest

from asyncbench.sources import watermark
from asyncbench.sources.audio import BadAudio, parse_wav, sniff, to_wav16k, wav_header
from asyncbench.sources.hub_layout import encode_audio, encode_wav


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono] * channels) if channels > 1 else mono


def test_16k_mono_pcm16_wav_passes_through_untouched() -> None:
    data = encode_wav(tone(1.0, 16000), 16000)
    out, duration = to_wav16k(data)
    assert out is data and duration == 1.0


def test_wav_with_extra_chunks_is_rewrapped_without_decoding() -> None:
    pcm = (np.arange(1600) % 100).astype("<i2").tobytes()
    extra = b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    header = wav_header(len(pcm))
    data = header[:36] + extra + header[36:] + pcm
    data = data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:]
    out, duration = to_wav16k(data)
    assert out == wav_header(len(pcm)) + pcm and duration == 0.1


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"),
    [("flac", 16000, 1), ("wav", 44100, 2), ("mp3", 44100, 2), ("ogg", 48000, 1), ("wav", 8000, 1)],
)
def test_other_formats_are_decoded_to_16k_mono(fmt: str, rate: int, channels: int) -> None:
    data = encode_audio(tone(2.0, rate, channels), rate, fmt)
    out, duration = to_wav16k(data)
    info = parse_wav(out)
    assert info is not None and (info.rate, info.channels, info.bits) == (16000, 1, 16)
    assert duration == pytest.approx(2.0, abs=0.06)  # MP3 adds encoder padding


def test_lossless_sources_round_trip_sample_for_sample() -> None:
    pcm = watermark.embed("every sample counts", 1.5, seed=4)
    out, _ = to_wav16k(encode_audio(pcm, 16000, "flac"))
    assert watermark.extract(out[44:]) == "every sample counts"
    assert np.array_equal(np.frombuffer(out[44:], "<i2"), pcm)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty audio: the clip has no bytes"),
        (None, "empty audio: the clip has no bytes"),
        (wav_header(0), "empty audio: the WAV has no samples"),
        (b"this is not audio at all" * 20, "cannot decode audio"),
    ],
)
def test_bad_audio_is_a_clear_per_sample_error(data: bytes | None, message: str) -> None:
    with pytest.raises(BadAudio, match=message):
        to_wav16k(data)


def test_sniff_names_uploads_by_content() -> None:
    assert sniff(encode_wav(tone(0.1, 16000), 16000)) == ("audio/wav", "wav")
    assert sniff(encode_audio(tone(0.5, 16000), 16000, "flac")) == ("audio/flac", "flac")
    assert sniff(encode_audio(tone(0.5, 16000), 16000, "mp3")) == ("audio/mpeg", "mp3")
    assert sniff(encode_audio(tone(0.5, 16000), 16000, "ogg")) == ("audio/ogg", "ogg")
    assert sniff(b"garbage") == ("application/octet-stream", "bin")
