"""A clip's length from its container header, without decoding: what an estimate bills on when
the dataset's `audio_length_s` is missing, not a number, negative or 0.

PCM WAV (the data chunk's size over the byte rate) and FLAC (STREAMINFO's total samples over
the sample rate) are read from their first bytes; any other container is decoded once
(`audio.to_wav16k`), the one exact answer left. None when the bytes are not audio.
"""

from __future__ import annotations

import math
import struct

from asyncbench.sources.audio import BadAudio, parse_wav, to_wav16k


def _flac_seconds(data: bytes) -> float | None:
    # "fLaC", then the STREAMINFO block: a 4-byte block header and 34 bytes, of which bytes
    # 10..17 hold sample rate (20 bits), channels (3), bits (5) and total samples (36)
    if len(data) < 8 + 18 or data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        return None
    (packed,) = struct.unpack_from(">Q", data, 8 + 10)
    rate = packed >> 44
    total = packed & ((1 << 36) - 1)
    return total / rate if rate and total else None


def header_seconds(data: bytes | None) -> float | None:
    """Seconds of audio in `data` (a WAV or FLAC header, else one decode), or None."""
    if not data:
        return None
    wav = parse_wav(data)
    if wav is not None and wav.rate and wav.channels and wav.bits:
        return wav.data_len / (wav.rate * wav.channels * (wav.bits // 8))
    seconds = _flac_seconds(data)
    if seconds is not None:
        return seconds
    try:
        _, seconds = to_wav16k(data)
    except BadAudio:
        return None
    return seconds if math.isfinite(seconds) else None


def usable(value: object) -> bool:
    """Whether a dataset's `audio_length_s` cell can be billed on: a finite number above 0."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
