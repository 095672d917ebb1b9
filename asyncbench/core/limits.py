"""What one upload may be: a provider's size and duration limits, and what they imply.

Each provider file declares its `limits` (PROTOCOLS-2026 section C5); the engine never reads
them. The long-form prep (`asyncbench.runs.longform`) checks a recording against them before
anything is sent, picks the upload format and, when even that is too big, the longest part
it may cut. Stdlib only: this is arithmetic on declared numbers.

Limits several layers name live here, below all of them, so the CLI can show a default
without importing the layer that enforces it (`asyncbench --help` stays fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asyncbench.core.errors import PermanentError

MB = 1024 * 1024
#: the largest reply body (or WebSocket message) a provider reads (`--max_reply_bytes`):
#: an hour of speech is ~60 KB of plain text, a few MB of verbose JSON with word timings
DEFAULT_MAX_REPLY_BYTES = 16 * 2**20
#: 16 kHz mono PCM16: what one second of the WAV we send weighs
WAV_BYTES_PER_S = 32000
#: room for the WAV header and rounding, so a part cut to the byte bound never exceeds it
_HEADER_SLACK = 4096


class Upload(Protocol):
    """What a limit is checked on (a provider's `AudioPayload`)."""

    data: bytes | None
    duration: float


@dataclass(frozen=True, slots=True)
class Limits:
    """The most one request may carry; None = no limit the client needs to respect.
    `source` says where the figure was read, for the message of a refused upload."""

    max_bytes: int | None = None
    max_seconds: float | None = None
    source: str = ""

    def check(self, audio: Upload, provider: str) -> None:
        """Refuse, before sending, an upload the provider would refuse after it: one
        permanent `too_large` (bytes) or `too_long` (duration) failure with the limit in its
        words, and no request. (A URL the
        service fetches has no bytes here: only its duration is checked.)"""
        where = f" ({self.source})" if self.source else ""
        size = len(audio.data) if audio.data is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            raise PermanentError(
                "too_large",
                f"{size / 1e6:.1f} MB of audio is over {provider}'s "
                f"{self.max_bytes / 1e6:g} MB limit{where}",
            )
        if self.max_seconds is not None and audio.duration > self.max_seconds:
            raise PermanentError(
                "too_long",
                f"{audio.duration / 60:.1f} min of audio is over {provider}'s "
                f"{self.max_seconds / 60:g} min limit{where}",
            )

    def allows(self, n_bytes: int, seconds: float) -> bool:
        """Whether an upload of `n_bytes` holding `seconds` of audio is within the limits."""
        if self.max_bytes is not None and n_bytes > self.max_bytes:
            return False
        return self.max_seconds is None or seconds <= self.max_seconds

    def describe(self) -> str:
        """`25 MB, 1400 s` for messages."""
        bits = []
        if self.max_bytes is not None:
            bits.append(f"{self.max_bytes / MB:g} MB")
        if self.max_seconds is not None:
            bits.append(f"{self.max_seconds:g} s")
        return ", ".join(bits) or "no limit"

    def with_max_bytes(self, max_bytes: int | None) -> Limits:
        """The same limits with the byte limit the user configured (None keeps the declared)."""
        if max_bytes is None:
            return self
        return Limits(max_bytes=max_bytes, max_seconds=self.max_seconds, source="--max_upload_mb")


def max_part_seconds(limits: Limits, chunk_max_s: float) -> float:
    """The longest part chunking may cut: at most `chunk_max_s`, the duration limit, and what
    fits the byte limit as 16 kHz PCM16 WAV (parts are sent as WAV, whose size is exact)."""
    longest = chunk_max_s
    if limits.max_seconds is not None:
        longest = min(longest, limits.max_seconds)
    if limits.max_bytes is not None:
        longest = min(longest, (limits.max_bytes - _HEADER_SLACK) / WAV_BYTES_PER_S)
    return longest


def request_timeout(floor: float, per_audio_s: float, seconds: float) -> float:
    """`--timeout` is a floor; a long upload gets `per_audio_s` for each second it holds."""
    return max(floor, per_audio_s * seconds)
