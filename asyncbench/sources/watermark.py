"""Clips that carry their own transcript, so fake servers can answer correctly without ASR.

The text is written into the first PCM samples (a magic marker, a length, one sample per
byte) followed by quiet noise up to the wanted duration. Any lossless path keeps it (WAV,
FLAC, decoding to 16 kHz mono PCM16 and back), so a mock server or a benchmark server can
read the transcript from exactly what the client sent and tests can check that every sample
got its own prediction, not a neighbour's.

A resampler destroys that exact mark (16 kHz -> 24 kHz -> 16 kHz moves those samples by
thousands), and some APIs take only other rates (OpenAI's realtime API: 24 kHz). For those,
`embed(..., robust=True)` writes a *rate-robust* mark instead: after 2 ms of silence, each
symbol (a 4-bit nibble of the magic, the length, the text and a CRC-8) is held for a block of
16 samples at one of 16 levels 3000 apart (within +-22500). A band-limited resampler rings
only near the block edges, so the mean of each block's middle samples stays within a few
dozen of its level (measured: at most 62 with soxr HQ, 165 with LQ, round trip) while the
decoder allows 1200. `extract` and `extract_all` read both kinds.
"""

from __future__ import annotations

import zlib

import numpy as np

RATE = 16000
_MAGIC = np.array([12345, -12345, 4242, -4242], dtype=np.int16)
_SCALE = 64  # byte b -> sample (b - 128) * 64: audible-ish, far from clipping


# the rate-robust mark: symbols held for BLOCK samples at level (nibble - 7.5) * STEP
BLOCK = 16
_STEP = 3000
_QUIET = 32  # samples of silence before the mark: its first edge is found after them
_ROBUST_MAGIC = (15, 0, 15, 0, 10, 5)
_TOLERANCE = 1200  # how far a block's mean may sit from its level
_EDGE = _STEP * 7.5 / 2  # half the first magic level: where the first edge crosses
_MIDDLE = slice(4, BLOCK - 4)  # the samples of a block averaged (clear of edge ringing)


def embed(text: str, seconds: float, *, seed: int = 0, robust: bool = False) -> np.ndarray:
    """int16 mono samples at 16 kHz whose first samples encode `text` (UTF-8); with `robust`,
    in the mark that survives resampling (see the module docstring)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if robust:
        mark = robust_mark(data.tobytes())
    else:
        if len(data) > 65535:
            raise ValueError("text too long to embed")
        length = np.array([len(data) >> 8, len(data) & 0xFF], dtype=np.int16)
        body = ((data.astype(np.int32) - 128) * _SCALE).astype(np.int16)
        mark = np.concatenate([_MAGIC, length, body])
    n = max(round(seconds * RATE), len(mark))
    out = (np.random.default_rng(seed).standard_normal(n) * 300).astype(np.int16)
    out[: len(mark)] = mark
    return out


def _samples(pcm: bytes | np.ndarray) -> np.ndarray:
    """PCM16 little-endian bytes as samples (an array is taken as it is)."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        return np.frombuffer(pcm, dtype="<i2")
    return pcm


def _text(data: bytes | None) -> str | None:
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def extract_all(pcm: bytes | np.ndarray) -> list[str]:
    """Every text embedded anywhere in the samples, in order: a long recording made of
    watermarked clips (or a part cut from one) carries the transcript of each clip in it.
    Exact and rate-robust marks are both read."""
    samples = _samples(pcm)
    if len(samples) < 6:
        return []
    head = samples[: len(samples) - 5]
    starts = np.flatnonzero(head == _MAGIC[0])
    found: list[tuple[int, str]] = []
    for i in starts:
        text = extract(samples[i:]) if np.array_equal(samples[i : i + 4], _MAGIC) else None
        if text is not None:
            found.append((int(i), text))
    for edge in _robust_edges(samples):
        text = _robust_at(samples, edge)
        if text is not None:
            found.append((edge, text))
    return [text for _, text in sorted(found)]


def extract(pcm: bytes | np.ndarray) -> str | None:
    """The embedded text, or None when the samples carry none."""
    samples = _samples(pcm)
    if len(samples) < 6 or not np.array_equal(samples[:4], _MAGIC):
        return extract_robust(samples)
    length = (int(samples[4]) << 8) | int(samples[5])
    body = samples[6 : 6 + length].astype(np.int32)
    if len(body) != length:
        return None
    values = body // _SCALE + 128
    if np.any(values < 0) or np.any(values > 255) or np.any(body % _SCALE):
        return None
    return _text(values.astype(np.uint8).tobytes())


# -- the rate-robust mark ---------------------------------------------------------------------


def robust_mark(data: bytes) -> np.ndarray:
    """The samples of a rate-robust mark carrying `data` (silence, magic, length, data, CRC)."""
    if len(data) > 65535:
        raise ValueError("text too long to embed")
    raw = np.frombuffer(len(data).to_bytes(2, "big") + data + _crc8(data), dtype=np.uint8)
    nibbles = np.concatenate([_ROBUST_MAGIC, np.stack([raw >> 4, raw & 15], axis=1).ravel()])
    levels = (nibbles.astype(np.float64) - 7.5) * _STEP
    return np.concatenate([np.zeros(_QUIET), np.repeat(levels, BLOCK)]).astype(np.int16)


def _crc8(data: bytes) -> bytes:
    return bytes([zlib.crc32(data) & 0xFF])


def _nibbles(samples: np.ndarray, start: int, count: int) -> np.ndarray | None:
    """`count` symbols read from blocks starting at `start`; None if any block is off-level
    or the samples end first."""
    end = start + count * BLOCK
    if start < 0 or end > len(samples):
        return None
    means = samples[start:end].astype(np.float64).reshape(count, BLOCK)[:, _MIDDLE].mean(axis=1)
    values = np.rint(means / _STEP + 7.5)
    if np.any(values < 0) or np.any(values > 15):
        return None
    if np.any(np.abs(means - (values - 7.5) * _STEP) > _TOLERANCE):
        return None
    return values.astype(np.uint8)


def _robust_bytes_at(samples: np.ndarray, edge: int) -> bytes | None:
    """The bytes of a robust mark whose first block starts at sample `edge`, else None."""
    magic = _nibbles(samples, edge, len(_ROBUST_MAGIC))
    if magic is None or tuple(magic) != _ROBUST_MAGIC:
        return None
    pos = edge + len(_ROBUST_MAGIC) * BLOCK
    head = _nibbles(samples, pos, 4)
    if head is None:
        return None
    length = int(head[0]) << 12 | int(head[1]) << 8 | int(head[2]) << 4 | int(head[3])
    body = _nibbles(samples, pos + 4 * BLOCK, 2 * (length + 1))
    if body is None:
        return None
    raw = (body[0::2] << 4 | body[1::2]).tobytes()
    data, crc = raw[:length], raw[length:]
    return data if _crc8(data) == crc else None


def _robust_at(samples: np.ndarray, edge: int) -> str | None:
    return _text(_robust_bytes_at(samples, edge))


def _robust_edges(samples: np.ndarray, limit: int | None = None) -> list[int]:
    """Where a robust mark may start: the signal rises through half the first magic level
    out of quiet and the first two blocks sit near the magic's levels. Vectorised over
    windows of a million samples, so an hour of real speech costs one bounded pass."""
    n = len(samples) if limit is None else min(len(samples), limit + 3 * BLOCK)
    high, low, half = (15 - 7.5) * _STEP, (0 - 7.5) * _STEP, BLOCK // 2
    edges: list[int] = []
    for lo in range(BLOCK, n - 2 * BLOCK, 1 << 20):
        hi = min(lo + (1 << 20), n - 2 * BLOCK)

        def at(shift: int, lo: int = lo, hi: int = hi) -> np.ndarray:
            return samples[lo + shift : hi + shift]

        ok = (at(0) > _EDGE) & (at(-1) <= _EDGE)
        ok &= (at(-half) > -2 * _STEP) & (at(-half) < 2 * _STEP)
        ok &= (at(half) > high - _TOLERANCE) & (at(half) < high + _TOLERANCE)
        ok &= (at(BLOCK + half) > low - _TOLERANCE) & (at(BLOCK + half) < low + _TOLERANCE)
        edges.extend(int(i) + lo for i in np.flatnonzero(ok))
    return edges


def extract_robust_bytes(pcm: bytes | np.ndarray) -> bytes | None:
    """The bytes of a robust mark at the start of the samples (its first edge within 20 ms,
    as a resampled clip's mark may have moved a sample or two), else None."""
    samples = _samples(pcm)
    for edge in _robust_edges(samples, limit=_QUIET + 320):
        # the first sample above half level is the block's first sample, give or take one;
        # only the middle samples are averaged, which leaves room for that
        data = _robust_bytes_at(samples, edge)
        if data is not None:
            return data
    return None


def extract_robust(pcm: bytes | np.ndarray) -> str | None:
    """The text of a robust mark at the start of the samples, else None."""
    return _text(extract_robust_bytes(pcm))
