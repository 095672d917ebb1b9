"""Prep for recordings that may be over a provider's limits: whole, whole as FLAC, or parts.

Short clips take the usual path (`to_wav16k` in a prep thread) and are only checked against
the limits. A long one (over `LONG_BYTES` encoded, or `LONG_S` by its `audio_length_s`, or
a short-path WAV over the limits) is spilled to a temporary file and measured without
decoding it whole (`asyncbench.sources.longform`); then, in this order:

1. within the provider's `limits` as 16 kHz PCM16 WAV: sent whole, as WAV;
2. over the byte limit only, and the provider takes FLAC: encoded to FLAC (block by block)
   and sent whole if that fits;
3. else, with `--chunking auto`, cut at silences into parts of at most `--chunk_max_s`
   (and under the limits) and sent as parts of one sample; with `--chunking off` the sample
   fails with kind `over_limit` before anything is sent;
4. a recording that would need more than `MAX_PARTS` parts, or parts shorter than
   `MIN_PART_S`, fails with kind `too_long`; the run goes on.

Uploads are built only when their request is about to go out, so what waits in the engine's
queues is a file handle, and what is in memory per request is one part.
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from asyncbench.core.errors import PermanentError, ProviderError
from asyncbench.core.limits import MB, WAV_BYTES_PER_S, Limits, max_part_seconds, request_timeout
from asyncbench.engine.pipeline import Job
from asyncbench.providers.base import AudioPayload
from asyncbench.results.parts import DoneParts, PartRecord, PartWriter
from asyncbench.sources.audio import MIN_SEND_S, TARGET_RATE, BadAudio, to_wav16k
from asyncbench.sources.dataset import Sample

CHUNKING_MODES = ("auto", "off")
DEFAULT_CHUNK_MAX_S = 600.0
MIN_PART_S = 1.0
MAX_PARTS = 200
LONG_BYTES = 4 * MB  # encoded bytes from which a clip takes the long path (~2 min of WAV)
LONG_S = 120.0
#: a split whose rows average more than this is read one row at a time (see `long_rows`)
LONG_ROW_BYTES = 1 * MB


@dataclass(slots=True)
class LongformPolicy:
    """What the user and the provider allow (built once per run)."""

    provider: str
    limits: Limits
    accepts_flac: bool
    chunking: str = "auto"
    chunk_max_s: float = DEFAULT_CHUNK_MAX_S
    timeout_floor: float = 120.0
    timeout_per_audio_s: float = 0.25

    def timeout(self, seconds: float) -> float:
        return request_timeout(self.timeout_floor, self.timeout_per_audio_s, seconds)


@dataclass(slots=True)
class _Plan:
    ranges: list[tuple[int, int]]
    fmt: str  # "wav" or "flac" (flac: the whole recording, spilled in `flac`)
    flac: IO[bytes] | None = None


@dataclass(eq=False)
class SpilledParts:
    """A `PartSource` over a spilled recording (see `asyncbench.engine.parts`)."""

    sample_id: str
    rec: Any  # sources.longform.Recording
    plan: _Plan
    policy: LongformPolicy
    executor: ThreadPoolExecutor
    writer: PartWriter | None
    done: dict[int, PartRecord] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.plan.ranges)

    def seconds(self, k: int) -> float:
        start, end = self.plan.ranges[k]
        return (end - start) / TARGET_RATE

    def timeout(self, k: int) -> float:
        return self.policy.timeout(self.seconds(k))

    def earlier(self, k: int) -> PartRecord | None:
        rec = self.done.get(k)
        if rec is None or rec.of != self.n or (rec.start, rec.end) != self.plan.ranges[k]:
            return None
        return rec

    def _build(self, k: int) -> AudioPayload:
        from asyncbench.sources.longform import encode_wav_part

        seconds = self.seconds(k)
        if self.plan.fmt == "flac" and self.plan.flac is not None:
            self.plan.flac.seek(0)
            data = self.plan.flac.read()
            return AudioPayload(data, "audio/flac", "audio.flac", seconds)
        start, end = self.plan.ranges[k]
        wav = encode_wav_part(self.rec, start, end)
        return AudioPayload(wav, "audio/wav", "audio.wav", seconds)  # type: ignore[arg-type]

    async def payload(self, k: int) -> AudioPayload:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, self._build, k)
        except (BadAudio, OSError, RuntimeError) as exc:
            raise PermanentError("bad_audio", f"cannot read part {k + 1}: {exc}") from None

    def finished(self, k: int, text: str, time: float, attempts: int, endpoint: str | None) -> None:
        start, end = self.plan.ranges[k]
        if self.n > 1 and self.writer is not None:  # a recording sent whole has no parts
            self.writer.put(
                PartRecord(self.sample_id, k, self.n, start, end, text, time, attempts, endpoint)
            )

    def close(self) -> None:
        self.rec.close()
        if self.plan.flac is not None:
            self.plan.flac.close()


def _over(policy: LongformPolicy, seconds: float) -> str:
    wav_mb = (44 + seconds * WAV_BYTES_PER_S) / MB
    return (
        f"recording of {seconds:.0f} s ({wav_mb:.1f} MB as 16 kHz WAV) is over "
        f"{policy.provider}'s limits ({policy.limits.describe()})"
    )


def plan_recording(rec: Any, policy: LongformPolicy) -> _Plan:
    """How to send a spilled recording; raises PermanentError (`over_limit`, `too_long`)."""
    from asyncbench.sources.longform import encode_flac, energy_db, plan_cuts

    seconds = rec.seconds
    limits = policy.limits
    if limits.allows(44 + 2 * rec.frames, seconds):
        return _Plan([(0, rec.frames)], "wav")
    within_duration = limits.max_seconds is None or seconds <= limits.max_seconds
    if within_duration and policy.accepts_flac:
        flac = encode_flac(rec, limits.max_bytes)
        if flac is not None:
            return _Plan([(0, rec.frames)], "flac", flac)
    if policy.chunking == "off":
        raise PermanentError(
            "over_limit", _over(policy, seconds) + "; --chunking auto would send it in parts"
        )
    longest = max_part_seconds(limits, policy.chunk_max_s)
    if longest < MIN_PART_S or math.ceil(seconds / longest) > MAX_PARTS:
        raise PermanentError(
            "too_long",
            _over(policy, seconds) + f" and too long to cut: it needs parts of at most "
            f"{longest:.1f} s, and at most {MAX_PARTS} parts of at least {MIN_PART_S:g} s "
            "are sent per recording",
        )
    ranges = plan_cuts(energy_db(rec), rec.frames, int(longest * TARGET_RATE))
    return _Plan(ranges, "wav")


def is_long(sample: Sample) -> bool:
    """Whether a sample takes the long path before it is decoded."""
    size = len(sample.audio) if sample.audio else 0
    return size > LONG_BYTES or (sample.duration or 0.0) > LONG_S


def long_rows(ds: Any, split: str) -> bool:
    """Whether the split's rows are long recordings (by the card's bytes per row), so the
    run reads one row at a time instead of batches of 64 that would hold gigabytes."""
    try:
        info = ds.info.splits[split]
        return int(info.num_bytes) / max(1, int(info.num_examples)) > LONG_ROW_BYTES
    except Exception:
        return False


def return_freed_memory() -> None:
    """Make freed recordings leave RSS: a long-form run allocates and frees tens of MB at a
    time (a row, a part), and with the defaults that memory stays with the process. glibc
    raises its mmap threshold to 32 MB after the first such free, so later buffers come
    from heaps that fragment and are not given back; pyarrow's mimalloc pool keeps freed
    pages for reuse. Measured over 8 recordings of 20 minutes only read, not sent: 516 MB
    peak with the defaults, 357 MB with a fixed 1 MB threshold and the system pool."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: buffers over 1 MB are their own mapping
    except (OSError, AttributeError):  # not glibc: its allocator, its rules
        pass


class LocalPrepare:
    """The local prep step, knowing limits: short clips as before, long ones as above.

    Called with one sample it prepares that one; `many` prepares a chunk of short clips in
    one prep-thread job. Every hand-off between the event loop and a thread costs a wake-up
    on both sides (tens of microseconds on a VM, more than the loop's own work for a fast
    local endpoint), so the engine hands over clips a chunk at a time."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        policy: LongformPolicy,
        *,
        done_parts: DoneParts,
        writer: PartWriter | None,
    ) -> None:
        self.executor = executor
        self.policy = policy
        self.done_parts = done_parts
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        #: clips whose audio_length_s is unusable or off by more than 1 % from the decoded
        #: length (which is what the run bills, times and counts)
        self.length_off = 0
        # One thread only spills: a recording waiting for the (busy) prep threads would hold
        # its encoded bytes all that time; spilled first, it waits as a file handle.
        self.spiller = ThreadPoolExecutor(1, thread_name_prefix="spill")

    def _long_job(self, sample: Sample, rec: Any) -> Job:
        try:
            plan = plan_recording(rec, self.policy)
        except ProviderError as err:
            rec.close()
            return Job(sample, rec.seconds, error=err)
        except BaseException:
            rec.close()
            raise
        parts = SpilledParts(
            sample.id,
            rec,
            plan,
            self.policy,
            self.executor,
            self.writer,
            self.done_parts.pop(sample.id, {}),
        )
        return Job(sample, rec.seconds, parts=parts)

    def _prep(self, sample: Sample, data: bytes | None) -> Job:
        """A short clip to its job, in a prep thread; what cannot be decoded fails alone."""
        from asyncbench.sources.longform import open_recording

        try:
            wav, duration = to_wav16k(data)
            if duration < MIN_SEND_S:
                return Job(sample, duration, skip=True)
            if not self.policy.limits.allows(len(wav), duration):
                return self._long_job(sample, open_recording(wav))
        except (BadAudio, OSError) as exc:
            return _failed(sample, exc)
        payload = AudioPayload(wav, "audio/wav", "audio.wav", duration)
        return Job(sample, duration, payload=payload, timeout=self.policy.timeout(duration))

    def _prep_chunk(self, chunk: list[tuple[Sample, bytes | None]]) -> list[Job]:
        return [self._prep(sample, data) for sample, data in chunk]

    async def __call__(self, sample: Sample) -> Job:
        return (await self.many([sample]))[0]

    async def many(self, samples: list[Sample]) -> list[Job]:
        """Jobs for `samples`, in their order: the short clips in one prep-thread job, each
        long recording on its own (spilled first)."""
        decided: list[Job | None] = []  # None: a short clip, decoded with the chunk below
        short: list[tuple[Sample, bytes | None]] = []
        for sample in samples:
            if "audio_error" in sample.meta:  # a chunk file that went away after the checks
                missing = PermanentError("missing_audio", sample.meta["audio_error"])
                decided.append(Job(sample, sample.duration or 0.0, error=missing))
                continue
            data = sample.audio
            sample.audio = None  # from here the prep step holds the only copy
            if data and is_long(sample):
                decided.append(await self._prep_long(sample, data))
                continue
            short.append((sample, data))
            decided.append(None)
        done = iter(
            await self.loop.run_in_executor(self.executor, self._prep_chunk, short) if short else []
        )
        jobs = [next(done) if job is None else job for job in decided]
        for job in jobs:
            if job.payload is not None and length_off(job.sample.duration, job.duration):
                self.length_off += 1
        return jobs

    async def _prep_long(self, sample: Sample, data: bytes) -> Job:
        from asyncbench.sources.longform import open_recording

        try:
            rec = await self.loop.run_in_executor(self.spiller, open_recording, data)
            del data
            return await self.loop.run_in_executor(self.executor, self._long_job, sample, rec)
        except (BadAudio, OSError) as exc:
            return _failed(sample, exc)


def length_off(column: float | None, decoded: float) -> bool:
    """Whether a dataset's length for a clip cannot be billed on: missing, not a finite
    number above 0, or more than 1 % away from the decoded audio's."""
    if column is None or not math.isfinite(column) or column <= 0:
        return True
    return abs(column - decoded) > 0.01 * decoded


def _failed(sample: Sample, exc: BadAudio | OSError) -> Job:
    """The job of a sample that cannot be prepared: undecodable audio, or a spill file that
    could not be written (a full disk), which costs this sample, not the run."""
    if isinstance(exc, BadAudio):
        err: ProviderError = PermanentError("bad_audio", str(exc))
    else:
        err = ProviderError("spill", f"cannot spill the recording to TMPDIR: {exc}")
    return Job(sample, sample.duration or 0.0, error=err)


def make_prepare(
    executor: ThreadPoolExecutor,
    policy: LongformPolicy,
    *,
    done_parts: DoneParts,
    writer: PartWriter | None,
) -> LocalPrepare:
    """The local prep step of a run (see `LocalPrepare`)."""
    return LocalPrepare(executor, policy, done_parts=done_parts, writer=writer)
