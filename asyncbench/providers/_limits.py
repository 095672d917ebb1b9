"""Limits a provider documents for one request, checked before the bytes leave.

A clip over a provider's upload cap can only earn a 413 (or, at some services, a vague 400
after the whole upload): refusing it here as a permanent `too_large` saves the upload and
the retry budget, and says which limit it broke.
"""

from __future__ import annotations

from asyncbench.core.errors import PermanentError
from asyncbench.providers.base import AudioPayload

MB = 1_000_000
MIB = 2**20


def check_size(audio: AudioPayload, limit: int, provider: str) -> None:
    """Raise a permanent `too_large` when the bytes to upload exceed `limit`."""
    size = len(audio.data) if audio.data is not None else 0
    if size > limit:
        raise PermanentError(
            "too_large",
            f"{size / MB:.1f} MB of audio is over {provider}'s {limit / MB:g} MB upload limit",
        )


def check_duration(audio: AudioPayload, limit_s: float, provider: str) -> None:
    """Raise a permanent `too_long` when the clip is longer than the provider accepts."""
    if audio.duration > limit_s:
        raise PermanentError(
            "too_long",
            f"{audio.duration:.0f} s of audio is over {provider}'s {limit_s:g} s limit",
        )
