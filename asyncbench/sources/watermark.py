"""Clips that carry their own transcript, so fake servers can answer correctly without ASR.

The text is written into the first PCM samples (a magic marker, a length, one sample per
byte) followed by quiet noise up to the wanted duration. Any lossless path keeps it (WAV,
FLAC, decoding to 16 kHz mono PCM16 and back), so a mock server or a benchmark server can
read the transcript from exactly what the client sent and tests can check that every sample
got its own prediction, not a neighbour's.
"""

from __future__ import annotations

import numpy as np

RATE = 16000
_MAGIC = np.array([12345, -12345, 4242, -4242], dtype=np.int16)
_SCALE = 64  # byte b -> sample (b - 128) * 64: audible-ish, far from clipping


def embed(text: str, seconds: float, *, seed: int = 0) -> np.ndarray:
    """int16 mono samples at 16 kHz whose first samples encode `text` (UTF-8)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if len(data) > 65535:
        raise ValueError("text too long to embed")
    header = np.concatenate([_MAGIC, np.array([len(data) >> 8, len(data) & 0xFF], dtype=np.int16)])
    body = ((data.astype(np.int32) - 128) * _SCALE).astype(np.int16)
    n = max(round(seconds * RATE), len(header) + len(body))
    rng = np.random.default_rng(seed)
    out = (rng.standard_normal(n) * 300).astype(np.int16)
    out[: len(header)] = header
    out[len(header) : len(header) + len(body)] = body
    return out


def extract_all(pcm: bytes | np.ndarray) -> list[str]:
    """Every text embedded anywhere in the samples, in order: a long recording made of
    watermarked clips (or a part cut from one) carries the transcript of each clip in it."""
    samples = (
        np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, (bytes, bytearray, memoryview)) else pcm
    )
    if len(samples) < 6:
        return []
    head = samples[: len(samples) - 5]
    starts = np.flatnonzero(head == _MAGIC[0])
    texts = []
    for i in starts:
        text = extract(samples[i:]) if np.array_equal(samples[i : i + 4], _MAGIC) else None
        if text is not None:
            texts.append(text)
    return texts


def extract(pcm: bytes | np.ndarray) -> str | None:
    """The embedded text, or None when the samples carry none."""
    samples = (
        np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, (bytes, bytearray, memoryview)) else pcm
    )
    if len(samples) < 6 or not np.array_equal(samples[:4], _MAGIC):
        return None
    length = (int(samples[4]) << 8) | int(samples[5])
    body = samples[6 : 6 + length].astype(np.int32)
    if len(body) != length:
        return None
    values = body // _SCALE + 128
    if np.any(values < 0) or np.any(values > 255) or np.any(body % _SCALE):
        return None
    try:
        return values.astype(np.uint8).tobytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
