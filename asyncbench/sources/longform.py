"""Long recordings, read in blocks: spill, measure, find silences, cut and encode parts.

A 100-minute recording is 192 MB as 16 kHz PCM16 and twice that as float32, and dozens may
be in flight. So nothing here holds a whole recording decoded: the encoded bytes are spilled
once to an anonymous temporary file, libsndfile reads that file in blocks of `BLOCK_S`
seconds, and a part is decoded straight into the body of the WAV (or FLAC) that is sent. What
stays in memory per recording is one energy value per 10 ms (240 KB per 100 minutes).

Silences are found by energy, in numpy: the frame energies are smoothed over `PAUSE_S`, and a
part ends in the middle of the quietest stretch of the last half of its allowed length, so a
cut falls in a pause between words whenever the recording has one. Recordings that are not
16 kHz are decoded 30 s at a time at their own rate (libsndfile, or FFmpeg for what it
cannot read, such as M4A), resampled by soxr as a stream into a 16 kHz WAV spill file, and
then read like any other.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from asyncbench.sources.audio import TARGET_RATE, BadAudio, wav_header

if TYPE_CHECKING:
    import numpy as np

FRAME = 160  # samples per energy frame: 10 ms at 16 kHz
BLOCK_S = 30.0  # seconds read per block
PAUSE_S = 0.3  # a pause this long counts as a place to cut
_QUIET_DB = 3.0  # frames within this much of the quietest count as the same silence


@dataclass(slots=True)
class Recording:
    """A recording spilled to an anonymous file: 16 kHz, read through libsndfile in blocks."""

    file: IO[bytes]
    frames: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / TARGET_RATE

    @property
    def path(self) -> str:
        """A path libsndfile opens itself (no Python callbacks, so no GIL while it reads)."""
        return file_path(self.file)

    def close(self) -> None:
        self.file.close()

    def read(self, start: int, out: np.ndarray) -> None:
        """Samples `start .. start + len(out)` as mono int16, into `out` (block by block)."""
        import numpy as np
        import soundfile as sf

        block = int(BLOCK_S * TARGET_RATE)
        with sf.SoundFile(self.path) as f:
            f.seek(start)
            pos = 0
            while pos < len(out):
                n = min(block, len(out) - pos)
                if self.channels == 1:
                    got = len(f.read(n, dtype="int16", out=out[pos : pos + n]))
                else:  # mixed down the way FFmpeg does: the mean of the channels
                    data = f.read(n, dtype="int16", always_2d=True)
                    got = len(data)
                    out[pos : pos + got] = np.round(data.mean(axis=1, dtype=np.float32))
                if got == 0:
                    raise BadAudio(f"recording ends early at sample {start + pos}")
                pos += got


_PROC_FD = os.path.isdir("/proc/self/fd")


def file_path(fh: IO[bytes]) -> str:
    """A path to an open (maybe already unlinked) temporary file."""
    return f"/proc/self/fd/{fh.fileno()}" if _PROC_FD else fh.name


def empty_file() -> IO[bytes]:
    """A temporary file that is gone when closed (or when the process dies, where /proc
    lets the file be unlinked at once)."""
    if _PROC_FD:
        return tempfile.TemporaryFile(prefix="asyncbench-long-")
    return tempfile.NamedTemporaryFile(prefix="asyncbench-long-")


def spill(data: bytes | bytearray | memoryview) -> IO[bytes]:
    """The bytes in a temporary file (see `empty_file`)."""
    fh = empty_file()
    fh.write(data)
    fh.flush()
    return fh


def open_recording(data: bytes) -> Recording:
    """Spill encoded audio and read its header. A recording libsndfile cannot read at
    16 kHz (another rate, M4A...) is decoded by FFmpeg block by block into a 16 kHz WAV
    spill file, which is then read like any other. Raises BadAudio."""
    import soundfile as sf

    if not data:
        raise BadAudio("empty audio: the recording has no bytes")
    fh = spill(data)
    try:
        rec = Recording(fh, 0, 1)
        with sf.SoundFile(rec.path) as f:
            if f.samplerate == TARGET_RATE and f.frames > 0:
                rec.frames, rec.channels = f.frames, f.channels
                return rec
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        pass
    try:
        wav, frames = _decode_to_wav_file(file_path(fh), data)
    finally:
        fh.close()
    return Recording(wav, frames, 1)


def _native_blocks(path: str, data: bytes) -> tuple[int, Iterator[np.ndarray]]:
    """(sample rate, mono int16 blocks of `BLOCK_S`) at the recording's own rate: libsndfile
    where it reads the container, else FFmpeg (torchcodec) range by range. Both are exact
    at block edges at the native rate (FFmpeg's resampler is not, so soxr resamples)."""
    import numpy as np
    import soundfile as sf

    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        f = None
    if f is not None:

        def read_sndfile() -> Iterator[np.ndarray]:
            with f:
                n = int(BLOCK_S * f.samplerate)
                while len(block := f.read(n, dtype="int16", always_2d=True)):
                    yield block[:, 0] if f.channels == 1 else _mix(block)

        return f.samplerate, read_sndfile()
    try:
        from torchcodec.decoders import AudioDecoder

        decoder = AudioDecoder(path, num_channels=1)
        rate = int(decoder.metadata.sample_rate or 0)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadAudio(f"cannot decode the recording ({len(data)} bytes): {reason[:200]}") from None
    if rate <= 0:
        raise BadAudio(f"cannot decode the recording ({len(data)} bytes): no sample rate")

    def read_ffmpeg() -> Iterator[np.ndarray]:
        start = 0.0
        while True:
            try:
                got = decoder.get_samples_played_in_range(start, start + BLOCK_S)
            except RuntimeError:  # past the end ("No audio frames were decoded")
                return
            block = got.data.numpy()[0]
            # the inverse of FFmpeg's int16 -> float scaling, as in sources.audio
            np.multiply(block, 32768.0, out=block)
            np.clip(block, -32768.0, 32767.0, out=block)
            yield np.rint(block).astype(np.int16)
            if len(block) < int(BLOCK_S * rate) - 1:
                return
            start += BLOCK_S

    return rate, read_ffmpeg()


def _mix(block: np.ndarray) -> np.ndarray:
    """Channels mixed down to one, as their mean."""
    import numpy as np

    return np.round(block.mean(axis=1, dtype=np.float32)).astype(np.int16)


def _decode_to_wav_file(path: str, data: bytes) -> tuple[IO[bytes], int]:
    """The recording as a 16 kHz mono PCM16 WAV spill file, decoded and resampled (soxr,
    streaming) one block of `BLOCK_S` at a time: never a whole-file array."""
    import numpy as np
    import soxr

    rate, blocks = _native_blocks(path, data)
    out = empty_file()
    out.write(wav_header(0))
    stream = soxr.ResampleStream(rate, TARGET_RATE, 1, dtype="int16")
    frames = 0
    for block in blocks:
        got = stream.resample_chunk(np.ascontiguousarray(block))
        out.write(got.astype("<i2", copy=False).tobytes())
        frames += len(got)
    tail = stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
    out.write(tail.astype("<i2", copy=False).tobytes())
    frames += len(tail)
    if frames == 0:
        out.close()
        raise BadAudio("empty audio: decoding gave no samples")
    out.seek(0)
    out.write(wav_header(2 * frames))
    out.flush()
    return out, frames


def energy_db(rec: Recording) -> np.ndarray:
    """Energy of every 10 ms frame in dB (float32), read block by block."""
    import numpy as np

    n_frames = rec.frames // FRAME
    out = np.empty(n_frames, dtype=np.float32)
    per_block = int(BLOCK_S * TARGET_RATE) // FRAME
    buf = np.empty(per_block * FRAME, dtype=np.int16)
    for first in range(0, n_frames, per_block):
        count = min(per_block, n_frames - first)
        part = buf[: count * FRAME]
        rec.read(first * FRAME, part)
        frames = part.reshape(count, FRAME).astype(np.float32)
        out[first : first + count] = 10 * np.log10(np.mean(frames * frames, axis=1) + 1.0)
    return out


def _quiet_middle(energy: np.ndarray) -> int:
    """Index (into `energy`) of the middle of its longest quietest stretch."""
    import numpy as np

    width = max(1, round(PAUSE_S * TARGET_RATE / FRAME))
    if len(energy) > width:
        csum = np.concatenate([[0.0], np.cumsum(energy, dtype=np.float64)])
        smooth = (csum[width:] - csum[:-width]) / width  # mean over [i, i + width)
        offset = width // 2
    else:
        smooth, offset = energy.astype(np.float64), 0
    quiet = smooth <= smooth.min() + _QUIET_DB
    # longest run of quiet frames; ties go to the latest (longer parts, fewer requests)
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    best = len(lengths) - 1 - int(np.argmax(lengths[::-1]))
    return int(starts[best] + lengths[best] // 2 + offset)


def plan_cuts(energy: np.ndarray, total: int, max_samples: int) -> list[tuple[int, int]]:
    """Parts `(start, end)` in samples covering `0 .. total`, none longer than `max_samples`,
    each ending in a pause found in the last half of what it may hold."""
    max_frames = max_samples // FRAME
    if max_frames < 2:
        raise ValueError("parts must be at least two frames long")
    parts: list[tuple[int, int]] = []
    start = 0
    while total - start > max_samples:
        lo = start // FRAME + max_frames // 2
        hi = start // FRAME + max_frames
        cut = (lo + _quiet_middle(energy[lo:hi])) * FRAME
        cut = min(max(cut, start + FRAME), start + max_samples)
        parts.append((start, cut))
        start = cut
    parts.append((start, total))
    return parts


def encode_wav_part(rec: Recording, start: int, end: int) -> bytearray:
    """Samples `start .. end` as a 16 kHz mono PCM16 WAV, decoded straight into the body
    (one buffer of the part's size: no float array, no second copy)."""
    import numpy as np

    n = end - start
    buf = bytearray(44 + 2 * n)
    buf[:44] = wav_header(2 * n)
    rec.read(start, np.frombuffer(buf, dtype="<i2", offset=44))
    return buf


def encode_flac(rec: Recording, max_bytes: int | None = None) -> IO[bytes] | None:
    """The whole recording as 16 kHz mono FLAC in a temporary file, encoded block by block
    (nothing of it in memory); None as soon as it is clear it will not fit in `max_bytes`:
    over it, or, a minute in, heading for 15 % over it."""
    import numpy as np
    import soundfile as sf

    out = empty_file()
    block = int(BLOCK_S * TARGET_RATE)
    buf = np.empty(block, dtype=np.int16)
    fits = True
    with sf.SoundFile(file_path(out), "w", TARGET_RATE, 1, "PCM_16", format="FLAC") as f:
        for start in range(0, rec.frames, block):
            part = buf[: min(block, rec.frames - start)]
            rec.read(start, part)
            f.write(part)
            if max_bytes is None:
                continue
            size, done = os.fstat(out.fileno()).st_size, start + len(part)
            heading = size * rec.frames / done if done >= 2 * block else 0
            if size > max_bytes or heading > 1.15 * max_bytes:
                fits = False
                break
    if not fits or (max_bytes is not None and os.fstat(out.fileno()).st_size > max_bytes):
        out.close()
        return None
    return out
