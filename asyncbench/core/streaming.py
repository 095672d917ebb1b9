"""Streaming speech-to-text as a voice agent feels it: audio paced like a microphone, and the
moments partials and finals come back.

A streaming provider is one file that opens a session, pulls audio chunks from a `PacedAudio`
and reports what the server says to a `Timeline` (`partial(text)`, `final(text)`). This module
owns the clock, so every provider is timed the same way and the engine knows none of them:

- **Pacing.** Chunk *i* of `chunk_ms` is handed over when its last sample would have been
  spoken: at `t0 + end_of_chunk_i / realtime_factor`, an absolute schedule from one anchor, so
  a late wake-up never shifts the chunks after it (no drift across a 30 s clip). How late each
  hand-over was is kept (`lateness`). `t0`, the stream start, is the moment the provider first
  asks for audio, i.e. once its session is open and started. With `realtime=False` the chunks
  go as fast as the provider takes them (the old mode).
- **Metrics.** `first_partial_s` (stream start → the first non-empty partial),
  `first_final_s` (stream start → the first final segment), `final_after_end_s` (the moment the
  last chunk was sent → the last final segment: the TTFS of peers), `partials` (how many
  non-empty partials came). Only finals make the transcript: partials are never scored.

Stdlib only: the engine, providers and reporting all read these types.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from asyncbench.core.errors import ConfigError

DEFAULT_CHUNK_MS = 100
MIN_CHUNK_MS = 10
MAX_CHUNK_MS = 1000
#: seconds after the end of audio a final may take before the sample fails (`--final_timeout`)
DEFAULT_FINAL_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """What the user chose about streaming (`--realtime/--no_realtime`, `--chunk_ms`,
    `--realtime_factor`, `--final_timeout`); None: the provider's own default."""

    realtime: bool | None = None
    chunk_ms: int | None = None
    realtime_factor: float = 1.0
    final_timeout_s: float = DEFAULT_FINAL_TIMEOUT_S


def check_stream_options(
    chunk_ms: int | None, realtime_factor: float | None, final_timeout_s: float | None
) -> None:
    """ConfigError (one line, exit 2, before any request) for flags out of range."""
    if chunk_ms is not None and not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
        raise ConfigError(
            f"--chunk_ms must be between {MIN_CHUNK_MS} and {MAX_CHUNK_MS} (got {chunk_ms})"
        )
    if realtime_factor is not None and not (math.isfinite(realtime_factor) and realtime_factor > 0):
        raise ConfigError(
            f"--realtime_factor must be a number above 0, e.g. 1 for real time or 4 for four "
            f"times faster (got {realtime_factor:g})"
        )
    if final_timeout_s is not None and not (math.isfinite(final_timeout_s) and final_timeout_s > 0):
        raise ConfigError(
            f"--final_timeout must be a positive number of seconds (got {final_timeout_s:g})"
        )


def split_chunks(data: bytes, bytes_per_s: float, chunk_ms: int) -> list[bytes]:
    """`data` cut into chunks of `chunk_ms` of audio (whole frames of 2 bytes; the last one
    may be shorter)."""
    size = max(2, int(bytes_per_s * chunk_ms / 1000) // 2 * 2)
    return [data[i : i + size] for i in range(0, len(data), size)]


class PacedAudio:
    """The chunks of one clip, handed over on an absolute real-time schedule.

    `async for chunk in audio:` gives each chunk at its time; the iteration that ends (after
    the last chunk was sent) marks the end of audio. `ends_s[i]` is the audio time at the end
    of chunk i, in seconds.
    """

    def __init__(
        self, chunks: Sequence[bytes], bytes_per_s: float, *, realtime: bool, factor: float = 1.0
    ) -> None:
        self.chunks = chunks
        self.realtime = realtime
        self.factor = factor
        self.ends_s: list[float] = []
        total = 0
        for chunk in chunks:
            total += len(chunk)
            self.ends_s.append(total / bytes_per_s)
        self.t0: float | None = None  # the stream start (monotonic)
        self.t_end: float | None = None  # the last chunk sent (monotonic)
        self.lateness: list[float] = []  # seconds each chunk was handed over after its time
        self.sent = 0
        self.ended = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        self.t0 = time.monotonic()
        for i, chunk in enumerate(self.chunks):
            if self.realtime:
                due = self.t0 + self.ends_s[i] / self.factor
                now = time.monotonic()
                # uvloop's timers tick in whole milliseconds and may wake a little early:
                # sleep again for what is left, so no chunk goes before its time
                while now < due:
                    await asyncio.sleep(due - now)
                    now = time.monotonic()
                self.lateness.append(now - due)
            else:
                await asyncio.sleep(0)  # let the replies in between sends
            yield chunk
            self.sent = i + 1
        self.t_end = time.monotonic()
        self.ended.set()


@dataclass(slots=True)
class StreamMetrics:
    """One sample's streaming figures (seconds), as they go into its results line."""

    first_partial_s: float | None
    first_final_s: float | None
    final_after_end_s: float | None
    partials: int
    chunks: int
    connect_s: float | None
    lateness: list[float] = field(default_factory=list)

    def fields(self) -> dict[str, float | int | None]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "first_partial_s": r(self.first_partial_s),
            "first_final_s": r(self.first_final_s),
            "final_after_end_s": r(self.final_after_end_s),
            "partials": self.partials,
            "chunks": self.chunks,
            "connect_s": r(self.connect_s),
            "chunk_late_max_s": r(max(self.lateness)) if self.lateness else None,
        }


class Timeline:
    """What the server said and when: providers call `partial` and `final` as messages
    arrive; the final transcript is the finals joined in order."""

    def __init__(self) -> None:
        self.t_open = time.monotonic()  # before the connection
        self.partial_times: list[float] = []
        self.final_times: list[float] = []
        self.finals: list[str] = []
        self.final_bytes = 0

    def partial(self, text: str) -> None:
        if text.strip():
            self.partial_times.append(time.monotonic())

    def final(self, text: str) -> None:
        """A final segment (possibly empty: silence is final too, and its time counts)."""
        self.final_times.append(time.monotonic())
        self.final_bytes += len(text)
        if text.strip():
            self.finals.append(text)

    def text(self) -> str:
        return " ".join(" ".join(self.finals).split())

    def metrics(self, audio: PacedAudio) -> StreamMetrics:
        t0 = audio.t0

        def since(start: float | None, times: list[float], index: int) -> float | None:
            return None if start is None or not times else times[index] - start

        return StreamMetrics(
            first_partial_s=since(t0, self.partial_times, 0),
            first_final_s=since(t0, self.final_times, 0),
            final_after_end_s=since(audio.t_end, self.final_times, -1),
            partials=len(self.partial_times),
            chunks=audio.sent,
            connect_s=None if t0 is None else t0 - self.t_open,
            lateness=audio.lateness,
        )


class StreamedText(str):
    """A final transcript that carries its stream's metrics (`.stream`): the engine writes
    them into the sample's line without knowing which provider measured them."""

    stream: StreamMetrics

    def __new__(cls, text: str, stream: StreamMetrics) -> StreamedText:
        obj = super().__new__(cls, text)
        obj.stream = stream
        return obj
