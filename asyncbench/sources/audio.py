"""Audio prep: encoded bytes in, 16 kHz mono PCM16 WAV bytes out, in memory.

These functions are CPU work and run in a thread pool (the decoding itself is C: dr_flac,
libsndfile or torchcodec's FFmpeg), never on the event loop. A clip that already is 16 kHz
mono PCM16 WAV is passed through untouched: no decode, no copy. A 16 kHz mono 16-bit FLAC
(what the ESB sets mostly hold) is decoded straight into the WAV body by dr_flac (miniaudio's
compiled module), or by libsndfile when dr_flac cannot; anything else goes through
torchcodec. torch/torchcodec are imported on first use only, so the CLI, scoring and runs
over such clips never pay for them.
"""

from __future__ import annotations

import io
import os
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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


def _wav_buffer(n: int) -> np.ndarray:
    """An int16 array of 22 + n items whose first 44 bytes are the WAV header for n samples:
    samples are decoded straight into it, and one `tobytes()` makes the request body."""
    import numpy as np

    out = np.empty(22 + n, dtype="<i2")
    out[:22] = np.frombuffer(wav_header(2 * n), dtype="<i2")
    return out


def _memory_file(data: bytes) -> int | io.BytesIO:
    """The clip as something libsndfile reads from memory without calling back into Python.

    Given a file-like object, libsndfile calls back into Python some 60 times per clip (reads,
    seeks, tells), and each call must take the GIL from the busy event loop: decode threads
    then crawl, and the engine's preppers fall behind its workers. An anonymous memory file
    (`memfd_create`: no path, no disk, freed on close) is read by libsndfile itself, with the
    GIL released throughout. Elsewhere than Linux, the file-like object it is.
    """
    if not hasattr(os, "memfd_create"):
        return io.BytesIO(data)
    fd = os.memfd_create("clip", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        return io.BytesIO(data)
    return fd


def _plausible_frames(frames: int, size: int) -> bool:
    """Whether a fast path may trust the frame count its header gives for `size` encoded
    bytes: an unknown (0) or absurd one (over 64 samples a byte) is left to the next
    decoder to judge, rather than allocated."""
    return 0 < frames <= 64 * size


def _decode_flac16(data: bytes) -> bytes | None:
    """A 16 kHz mono 16-bit FLAC decoded from memory by dr_flac straight into the WAV body;
    None when it is anything else, or damaged, or when miniaudio is not installed (libsndfile
    and FFmpeg then judge it).

    Three calls with the GIL released (open on the bytes themselves, read every frame, close)
    and none back into Python. libsndfile costs 2.5 times the CPU for the same samples: it
    re-reads the CPU's features (`cpuid`, which traps in a virtual machine) for every file it
    opens, copies each decoded frame sample by sample, and needs the clip in a file (a
    memfd: four more system calls and fresh kernel pages per clip). FLAC is lossless, so
    both give the same samples; a clip whose frames do not all decode (a damaged frame fails
    its checksum) is left to libsndfile rather than sent short."""
    try:
        from _miniaudio import ffi, lib
    except ImportError:
        return None
    handle = lib.ma_dr_flac_open_memory(data, len(data), ffi.NULL)
    if handle == ffi.NULL:
        return None
    try:
        n = handle.totalPCMFrameCount
        if (handle.sampleRate, handle.channels, handle.bitsPerSample) != (TARGET_RATE, 1, 16):
            return None
        if not _plausible_frames(n, len(data)):
            return None
        out = _wav_buffer(n)
        got = lib.ma_dr_flac_read_pcm_frames_s16(handle, n, ffi.from_buffer("ma_int16[]", out[22:]))
    finally:
        lib.ma_dr_flac_close(handle)
    return out.tobytes() if got == n else None


def _decode_pcm16(data: bytes) -> bytes | None:
    """16 kHz mono 16-bit FLAC (or another libsndfile container) decoded by libsndfile straight
    into the WAV body; None when the clip needs FFmpeg (another rate, layout or sample format,
    MP3, a damaged file). Same samples as FFmpeg for these lossless sources, at a fraction of
    the cost: no torch import (seconds of CPU, hundreds of MB per run), no float round trip."""
    source = _memory_file(data)
    try:
        if isinstance(source, int):
            return _read_pcm16_fd(source, len(data))
        return _read_pcm16_file(source, len(data))
    finally:
        if isinstance(source, int):
            os.close(source)  # ours to close, whether libsndfile could open it or not


#: libsndfile's constants (sndfile.h): open for reading, the subtype bits, 16-bit PCM
_SFM_READ, _SF_FORMAT_SUBMASK, _SF_FORMAT_PCM_16 = 0x10, 0x0000FFFF, 0x0002


def _read_pcm16_fd(fd: int, size: int) -> bytes | None:
    """The clip in `fd` read by three libsndfile calls (open, read every frame, close).

    `soundfile.SoundFile` asks libsndfile where it is before and after every read and seeks
    back there (for FLAC a seek decodes again from the frame before it), and sets clipping
    and reads format strings on open: about a fifth of the decode's CPU per clip, for a file
    that is read once from start to end. Its own cffi handle to the library is used, so the
    library is the same one `soundfile` loads (pinned in pyproject.toml)."""
    import soundfile as sf

    ffi, lib = sf._ffi, sf._snd
    info = ffi.new("SF_INFO*")
    handle = lib.sf_open_fd(fd, _SFM_READ, info, 0)
    if handle == ffi.NULL:
        return None
    try:
        n = info.frames
        if (info.samplerate, info.channels) != (TARGET_RATE, 1):
            return None
        if info.format & _SF_FORMAT_SUBMASK != _SF_FORMAT_PCM_16:
            return None
        if not _plausible_frames(n, size):
            return None
        out = _wav_buffer(n)
        got = lib.sf_readf_short(handle, ffi.from_buffer("short[]", out[22:]), n)
    finally:
        lib.sf_close(handle)
    return out.tobytes() if got == n else None


def _read_pcm16_file(source: io.BytesIO, size: int) -> bytes | None:
    """The same through `soundfile` and a file-like object (where there is no memfd)."""
    import soundfile as sf

    try:
        with sf.SoundFile(source) as f:
            n = f.frames
            if (f.samplerate, f.channels, f.subtype) != (TARGET_RATE, 1, "PCM_16"):
                return None
            if not _plausible_frames(n, size):
                return None
            out = _wav_buffer(n)
            got = len(f.read(n, dtype="int16", out=out[22:]))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return None
    return out.tobytes() if got == n else None


def _decode(data: bytes) -> bytes:
    """Decode any container FFmpeg knows to a 16 kHz mono PCM16 WAV.

    FFmpeg resamples each channel; the channels are then averaged here. FFmpeg's own downmix
    (`num_channels=1`) adds the channels at -3 dB each, a gain of 1.41 for a stereo clip whose
    channels agree: a clip peaking above 0.71 of full scale came out clipped (a stereo clip at
    0.9 lost 14,400 of 32,000 samples). The mean has no gain and cannot clip, and resampling
    is linear, so resampling before averaging gives the same samples as after."""
    try:
        from torchcodec.decoders import AudioDecoder

        samples = AudioDecoder(data, sample_rate=TARGET_RATE).get_all_samples()
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
    # source (FLAC, WAV at another layout) comes back sample for sample. In place on the
    # decoder's own buffer, then cast once into the WAV body.
    channels = samples.data.numpy()
    scaled = channels[0] if len(channels) == 1 else channels.mean(axis=0, dtype=np.float32)
    np.multiply(scaled, 32768.0, out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    np.rint(scaled, out=scaled)
    out = _wav_buffer(len(scaled))
    out[22:] = scaled
    return out.tobytes()


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
    fast = _decode_flac16(data) if data[:4] == b"fLaC" else None
    wav = fast or _decode_pcm16(data) or _decode(data)
    if len(wav) == 44:
        raise BadAudio("empty audio: decoding gave no samples")
    return wav, (len(wav) - 44) / 2 / TARGET_RATE
