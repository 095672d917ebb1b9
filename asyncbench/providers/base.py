"""What every provider client shares: settings, the audio it is given, and error meaning.

A client knows its URL, auth header, request shape, response parsing and which errors are
permanent; the engine knows none of that and only sees `transcribe(session, url, audio)`
returning text or raising a `ProviderError` with a kind.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.retry import retry_after_from_headers

if TYPE_CHECKING:
    import aiohttp


@dataclass(slots=True)
class AudioPayload:
    """What a client sends: bytes (with their real type and a filename with the right
    extension, which some APIs use to detect the format) and/or a URL the provider can fetch."""

    data: bytes | None
    mime: str
    filename: str
    duration: float
    url: str | None = None


@dataclass(slots=True)
class ProviderSettings:
    """Everything the user chose that a client may need."""

    model: str
    api_key: str | None = None
    base_url: str | None = None
    endpoints: str | None = None  # a list spec, for providers that spread over many URLs
    use_url: bool = False
    language: str = "en"
    options: dict[str, str] = field(default_factory=dict)
    #: the dataset config being run (e.g. `librispeech`), for providers whose leaderboard
    #: options depend on it (Azure's lexical prompt)
    dataset: str = ""


class Provider(ABC):
    """One API. Subclasses set the class attributes and implement `transcribe`."""

    #: model-name prefixes this client answers to, e.g. ("openai",)
    prefixes: ClassVar[tuple[str, ...]] = ()
    #: environment variable holding the key
    key_env: ClassVar[str | None] = None
    key_required: ClassVar[bool] = True
    #: environment variable overriding the base URL
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str] = ""
    #: the provider downloads a public URL itself (so --use_url sends no bytes)
    fetches_urls: ClassVar[bool] = False
    #: default requests in flight for batch runs (the seed's per-provider numbers)
    default_concurrency: ClassVar[int] = 20
    #: default `--timeout` (seconds for one whole `transcribe` call): async-job providers
    #: queue, process and are polled inside one call, so they need longer than a sync POST
    default_timeout: ClassVar[float] = 120.0

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.model = settings.model
        self.api_key = settings.api_key or (os.environ.get(self.key_env) if self.key_env else None)
        if self.key_required and not self.api_key:
            raise ConfigError(
                f"{self.key_env} is not set; export {self.key_env}=... or pass --api_key"
            )
        env_url = os.environ.get(self.base_url_env) if self.base_url_env else None
        self.base_url = (settings.base_url or env_url or self.default_base_url).rstrip("/")

    def endpoint_urls(self) -> list[str]:
        """The URLs the pool spreads requests over (one for most providers)."""
        return [self.base_url]

    def secrets(self) -> list[str]:
        """Strings that must never appear in logs, results or messages."""
        return [self.api_key] if self.api_key else []

    @abstractmethod
    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        """Return the transcript or raise a ProviderError."""


def excerpt(body: bytes | str, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def http_error(
    status: int, body: bytes | str, headers: Mapping[str, str], *, key_env: str | None = None
) -> ProviderError:
    """The usual meaning of an HTTP error status; providers refine it where theirs differ."""
    detail = excerpt(body) or "(empty body)"
    if status in (401, 403):
        hint = f"; check {key_env}" if key_env else ""
        return PermanentError("auth", f"key rejected{hint}: {detail}", status=status)
    if status == 429:
        return TransientError(
            "rate_limited", detail, status=status, retry_after=retry_after_from_headers(headers)
        )
    if status in (408, 409, 425) or status >= 500:
        kind = "timeout" if status in (408, 504) else "server_error"
        return TransientError(
            kind, detail, status=status, retry_after=retry_after_from_headers(headers)
        )
    if status == 413:
        return PermanentError("too_large", detail, status=status)
    return PermanentError("bad_request", detail, status=status)
