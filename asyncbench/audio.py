"""Audio prep: encoded bytes in, 16 kHz mono PCM16 WAV bytes out, in memory.

These functions are CPU work and run in a thread pool (torchcodec's FFmpeg decoding releases
the GIL), never on the event loop. A clip that already is 16 kHz mono PCM16 WAV is passed
through untouched: no decode, no copy. torch/torchcodec are imported on first use only, so the
CLI and scoring never pay for them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

TARGET_RATE = 16000
MIN_SEND_S = 0.16  # shorter clips are not sent; the seed records "." for them
_FMT = struct.Struct("<4sI4s4sIHHIIHH4sI")  # RIFF header + fmt chunk + data chunk header


class BadAudio(Exception):
    """The bytes are not audio we can decode (corrupt, empty, unsupported)."""


@dataclass(slots=True, frozen=True)
class WavInfo:
    rate: int
    channels: int
    bits: int
    data_offset: int
    data_len: int


def wav_header(n_bytes: int, rate: int = TARGET_RATE, channels: int = 1) -> bytes:
    block = channels * 2
    return _FMT.pack(
        b"RIFF",
        36 + n_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * block,
        block,
        16,
        b"data",
        n_bytes,
    )


def parse_wav(data: bytes) -> WavInfo | None:
    """Header of a PCM WAV, walking chunks (LIST/fact chunks are common); None if not PCM WAV."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt " and size >= 16:
            tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            if fmt is None:
                return None
            tag, ch, rate, bits = fmt
            if tag not in (1, 0xFFFE):
                return None
            length = min(size, len(data) - body)
            return WavInfo(rate, ch, bits, body, length)
        pos = body + size + (size & 1)
    return None


def sniff(data: bytes) -> tuple[str, str]:
    """(mime type, file extension) from magic bytes, so uploads are named by what they are."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head[:4] == b"fLaC":
        return "audio/flac", "flac"
    if head[:4] == b"OggS":
        return "audio/ogg", "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg", "mp3"
    if head[4:8] == b"ftyp":
        return "audio/mp4", "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "audio/webm", "webm"
    return "application/octet-stream", "bin"


def _decode(data: bytes) -> bytes:
    """Decode any container FFmpeg knows to 16 kHz mono int16 PCM."""
    try:
        from torchcodec.decoders import AudioDecoder

        samples = AudioDecoder(data, sample_rate=TARGET_RATE, num_channels=1).get_all_samples()
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # what the user can act on: the clip's size and type, and FFmpeg's reason without
        # torchcodec's "SingleStreamDecoder, /path/to/SingleStreamDecoder.cpp:80, " prefix
        reason = re.sub(r"^\w+, \S+:\d+, ", "", reason)
        mime = sniff(data)[0]
        what = "unrecognised content" if mime == "application/octet-stream" else mime
        raise BadAudio(f"cannot decode audio ({len(data)} bytes, {what}): {reason[:200]}") from None
    import numpy as np

    # x32768 with clipping inverts FFmpeg's int16 -> float scaling exactly, so a lossless
    # source (FLAC, WAV at another layout) comes back sample for sample.
    scaled = samples.data.numpy()[0] * 32768.0
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return np.rint(scaled).astype("<i2").tobytes()


def to_wav16k(data: bytes | None) -> tuple[bytes, float]:
    """(WAV bytes, duration in seconds) for a clip of any format."""
    if not data:
        raise BadAudio("empty audio: the clip has no bytes")
    info = parse_wav(data)
    if info is not None and info.rate == TARGET_RATE and info.channels == 1 and info.bits == 16:
        n = info.data_len - (info.data_len & 1)
        if n == 0:
            raise BadAudio("empty audio: the WAV has no samples")
        if info.data_offset == 44 and n == len(data) - 44:
            return data, n / 2 / TARGET_RATE
        return wav_header(n) + data[info.data_offset : info.data_offset + n], n / 2 / TARGET_RATE
    pcm = _decode(data)
    if not pcm:
        raise BadAudio("empty audio: decoding gave no samples")
    return wav_header(len(pcm)) + pcm, len(pcm) / 2 / TARGET_RATE
