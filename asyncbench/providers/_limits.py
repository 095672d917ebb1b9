"""Documented per-request limits, checked before a clip is sent.

A clip over a provider's size or duration cap can only be refused, after its upload has been
paid for in time (and, for job APIs, sometimes in money). Checking the payload first turns
that into one permanent `too_large` failure line, with the provider's limit in its words,
and no request. Where the size of a URL-mode clip is unknown only its duration is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncbench.core.errors import PermanentError
from asyncbench.providers.base import AudioPayload


@dataclass(frozen=True, slots=True)
class Limits:
    """A provider's caps on one request: bytes of audio, seconds of audio (None = no cap)."""

    max_bytes: int | None = None
    max_seconds: float | None = None
    source: str = ""

    def check(self, audio: AudioPayload, provider: str) -> None:
        """Raise a permanent `too_large` error when the clip is over a cap."""
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
                "too_large",
                f"{audio.duration / 60:.1f} min of audio is over {provider}'s "
                f"{self.max_seconds / 60:g} min limit{where}",
            )
