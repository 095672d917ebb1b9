"""Audio arrives undamaged: every rate, channel layout, sample format and container, as the
server receives it from a real run.

Each clip is a sum of tones peaking at 0.9 of full scale (loud, as speech recordings often
are). The reference for a clip is computed without FFmpeg's resampler or downmix: the clip
decoded at its own rate, its channels averaged, then resampled to 16 kHz by an FFT (an ideal
band-limited resample). What the server got must match it to 40 dB SNR and hold no clipped
sample. FFmpeg's own downmix adds channels at -3 dB each (a gain of 1.41 on a stereo clip
whose channels agree), which clipped a third of the loud stereo clip's samples.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asyncbench.sources.audio import TARGET_RATE, parse_wav
from asyncbench.sources.hub_layout import audio_cell, encode_audio, write_hub_folder

from .faultkit import finish, run_args, start
from .loopback import LoopbackAldea

PEAK = 0.9
MIN_SNR_DB = 40.0
EDGE = 320  # 20 ms at each end: the FFT reference rings at a clip's edges, FFmpeg does not

# (container, libsndfile subtype or None for FFmpeg's encoder, rate, channels)
MATRIX: list[tuple[str, str | None, int, int]] = [
    ("wav", "PCM_16", 16000, 2),  # the loud stereo clip
    ("flac", "PCM_16", 16000, 2),
    ("wav", "PCM_16", 8000, 1),
    ("wav", "PCM_16", 8000, 2),
    ("wav", "PCM_16", 11025, 2),
    ("wav", "PCM_16", 22050, 1),
    ("wav", "PCM_16", 44100, 2),
    ("wav", "PCM_16", 48000, 1),
    ("wav", "PCM_16", 48000, 6),  # 5.1: six channels averaged like two
    ("wav", "PCM_24", 44100, 2),
    ("wav", "PCM_32", 48000, 2),
    ("wav", "FLOAT", 48000, 2),
    ("wav", "DOUBLE", 22050, 1),
    ("wav", "PCM_U8", 8000, 2),
    ("flac", "PCM_16", 44100, 2),
    ("flac", "PCM_24", 48000, 2),
    ("flac", "PCM_24", 16000, 1),
    ("mp3", None, 44100, 2),
    ("mp3", None, 16000, 1),
    ("ogg", None, 48000, 2),
    ("ogg", None, 16000, 2),
]


def clip(case: int, rate: int, channels: int, seconds: float = 1.0) -> np.ndarray:
    """(channels, samples) floats peaking at PEAK: three tones (all below 4 kHz, so an 8 kHz
    clip holds them), with phases that differ per channel and per case so each clip is told
    apart from the others by its samples alone. 10 ms fades at both ends, as a recording
    starts and ends: a clip cut off at full level makes any resampler ring past full scale."""
    t = np.arange(int(seconds * rate)) / rate
    tones = (220.0, 1000.0, 3100.0)
    chans = [
        sum(np.sin(2 * np.pi * f * t + 0.7 * c + k + 0.37 * case) for k, f in enumerate(tones))
        for c in range(channels)
    ]
    out = np.stack(chans)
    fade = min(len(t) // 2, rate // 100)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    out[:, :fade] *= ramp
    out[:, len(t) - fade :] *= ramp[::-1]
    return out * (PEAK / np.abs(out).max())


def encode(samples: np.ndarray, rate: int, container: str, subtype: str | None) -> bytes:
    if subtype is None:
        return encode_audio(samples if len(samples) > 1 else samples[0], rate, container)
    buf = io.BytesIO()
    sf.write(buf, samples.T, rate, subtype=subtype, format=container.upper())
    return buf.getvalue()


def reference(data: bytes) -> tuple[np.ndarray, int]:
    """The clip decoded at its own rate and layout (no resample, no downmix), channels
    averaged, resampled to 16 kHz by FFT: (its spectrum, its length in samples)."""
    from torchcodec.decoders import AudioDecoder

    decoded = AudioDecoder(data).get_all_samples()
    mono = decoded.data.numpy().astype(np.float64).mean(axis=0)
    n_out = round(len(mono) * TARGET_RATE / decoded.sample_rate)
    spectrum = np.fft.rfft(mono)
    keep = n_out // 2 + 1
    if len(spectrum) >= keep:
        spectrum = spectrum[:keep]
    else:
        spectrum = np.pad(spectrum, (0, keep - len(spectrum)))
    return spectrum * (n_out / len(mono)), n_out


def delayed(ref: tuple[np.ndarray, int], delay: float) -> np.ndarray:
    """The reference, delayed by `delay` output samples (a fraction is fine)."""
    spectrum, n_out = ref
    k = np.arange(len(spectrum))
    return np.fft.irfft(spectrum * np.exp(-2j * np.pi * k * delay / n_out), n_out)


def best_snr_db(ref: tuple[np.ndarray, int], got: np.ndarray) -> float:
    """SNR at the best constant delay within ±2 samples (125 µs): a lossy codec's decoder
    trims its priming samples at its own rate, which can shift the clip by a fraction of an
    output sample. A constant shift that small is no damage; anything else counts."""
    return max(snr_db(delayed(ref, d), got) for d in np.arange(-2, 2.001, 0.05))


def likeness(ref: np.ndarray, got: np.ndarray) -> float:
    """Normalised correlation: which reference a body carries, whatever its gain."""
    n = min(len(ref), len(got))
    r, g = ref[:n], got[:n]
    return float(np.dot(r, g) / (np.linalg.norm(r) * np.linalg.norm(g) or 1.0))


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    n = min(len(ref), len(got))
    r, g = ref[EDGE : n - EDGE], got[EDGE : n - EDGE]
    return float(10 * np.log10(np.sum(r**2) / max(np.sum((r - g) ** 2), 1e-20)))


def test_every_layout_reaches_the_server_undamaged(tmp_path: Path) -> None:
    rows, refs = [], []
    for i, (container, subtype, rate, channels) in enumerate(MATRIX):
        data = encode(clip(i, rate, channels), rate, container, subtype)
        refs.append(reference(data))
        rows.append(
            {
                "audio": audio_cell(data, f"{i}.{container}"),
                "text": "a tone",
                "id": f"ami-test-{i:05d}",
                "dataset": "ami",
                "audio_length_s": 1.0,
            }
        )
    dataset = write_hub_folder(tmp_path / "esb", {"ami": {"test": rows}})

    async def go() -> tuple[int, str, list[bytes]]:
        async with LoopbackAldea(transcript=lambda body: "a tone") as srv:
            proc = await start(run_args(dataset, srv.endpoints, tmp_path / "results"))
            code, _, err = await finish(proc, timeout=300)
            return code, err, [s.body for s in srv.seen]

    code, err, bodies = asyncio.run(go())
    assert code == 0, err
    assert len(bodies) == len(MATRIX)
    got: dict[int, tuple[float, int]] = {}
    for body in bodies:
        info = parse_wav(body)
        assert info is not None and (info.rate, info.channels, info.bits) == (TARGET_RATE, 1, 16)
        pcm = np.frombuffer(body, "<i2", offset=info.data_offset, count=info.data_len // 2)
        samples = pcm / 32768.0
        # which clip this is: the reference it is most like (phases differ per case)
        case = int(np.argmax([likeness(delayed(ref, 0), samples) for ref in refs]))
        clipped = int(np.count_nonzero((pcm == 32767) | (pcm == -32768)))
        got[case] = (best_snr_db(refs[case], samples), clipped)
    assert sorted(got) == list(range(len(MATRIX))), "a clip reached the server twice or never"
    bad = {
        MATRIX[case]: f"SNR {snr:.1f} dB, {clipped} clipped samples"
        for case, (snr, clipped) in got.items()
        if snr < MIN_SNR_DB or clipped
    }
    assert not bad, bad


@pytest.mark.parametrize("channels", [2, 6])
def test_channels_are_averaged_not_summed(channels: int) -> None:
    """One loud channel and silent others: the average is the loud channel over the channel
    count (FFmpeg's downmix would give 0.71 of it for stereo)."""
    from asyncbench.sources.audio import to_wav16k

    loud = clip(0, 44100, 1)[0]
    samples = np.zeros((channels, len(loud)))
    samples[0] = loud
    wav, _ = to_wav16k(encode(samples, 44100, "wav", "PCM_16"))
    peak = np.abs(np.frombuffer(wav[44:], "<i2")).max() / 32768
    assert peak == pytest.approx(PEAK / channels, rel=0.02)
