"""What every provider client shares: settings, the audio it is given, and error meaning.

A client knows its URL, auth header, request shape, response parsing and which errors are
permanent; the engine knows none of that and only sees `transcribe(session, url, audio)`
returning text or raising a `ProviderError` with a kind.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from asyncbench.core.credentials import check_base_url, check_key
from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.languages import described
from asyncbench.core.limits import Limits
from asyncbench.core.pacing import AccountPace, account_pace
from asyncbench.core.retry import retry_after_from_headers
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers._wire import DEFAULT_MAX_REPLY_BYTES, WirePolicy

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
    #: replies over this many bytes fail the attempt (`--max_reply_bytes`)
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    #: follow 307/308 within the same origin (`--follow_redirects`); never by default
    follow_redirects: bool = False
    #: a file holding the key (`--api_key_file`), so it never shows in `ps`
    api_key_file: str | None = None
    #: the dataset config being run (e.g. `librispeech`), for providers whose leaderboard
    #: options depend on it (Azure's lexical prompt)
    dataset: str = ""
    #: streaming providers: pacing, chunk size and the final's deadline (core/streaming.py)
    streaming: StreamOptions = field(default_factory=StreamOptions)
    #: this process's share of the account's documented request rates: 1 for a run on one
    #: machine, a Ray shard's fraction of the provider budget (so the shares add up to it)
    rate_share: float = 1.0


class Provider(ABC):
    """One API. Subclasses set the class attributes and implement `transcribe`."""

    def __init_subclass__(cls, **kw: object) -> None:
        """Every client's own `transcribe` reports a reply it cannot parse as `bad_response`
        (`providers/boundary.py`), so no client can call a server's garbage an asyncbench bug."""
        super().__init_subclass__(**kw)
        own = cls.__dict__.get("transcribe")
        if own is not None and not getattr(own, "__isabstractmethod__", False):
            from asyncbench.providers.boundary import at_the_boundary

            cls.transcribe = at_the_boundary(own)  # type: ignore[method-assign]

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
    #: the languages each model takes, as (model-name prefix, codes) pairs: the first prefix
    #: the model starts with wins, "" matches any model; codes None = any ISO 639-1 code
    #: (the service decides). Each provider's table is in its own file, with its source.
    languages: ClassVar[tuple[tuple[str, frozenset[str] | None], ...]] = (("", None),)
    #: the most one upload may carry (PROTOCOLS-2026 C5), checked before sending; a longer
    #: recording is sent as FLAC or cut into parts (`asyncbench.runs.longform`)
    limits: ClassVar[Limits] = Limits()
    #: the API takes FLAC uploads, so a WAV over the byte limit can go whole as FLAC
    accepts_flac: ClassVar[bool] = False
    #: request timeout per second of audio sent; `--timeout` is the floor under it
    timeout_per_audio_s: ClassVar[float] = 0.25
    #: `--stream`: the client can ask for the transcript as server-sent events (core/sse.py)
    serves_sse: ClassVar[bool] = False
    #: the model version the API said it ran, where its replies say one (set while parsing;
    #: the run records it in its results sidecar as `provider_model_version`)
    reported_model_version: str | None = None

    def __init__(self, settings: ProviderSettings) -> None:
        self.check_language(settings.model, settings.language)
        self.settings = settings
        self.model = settings.model
        self.api_key = resolve_key(settings, self.key_env)
        if self.key_required and not self.api_key:
            raise ConfigError(
                f"{self.key_env} is not set; export {self.key_env}=... or pass --api_key"
            )
        self.wire = WirePolicy(settings.max_reply_bytes, settings.follow_redirects)
        env_url = os.environ.get(self.base_url_env) if self.base_url_env else None
        if settings.base_url:
            check_base_url(settings.base_url, "--base_url", self.key_env)
        elif env_url and self.base_url_env:
            check_base_url(env_url, self.base_url_env, self.key_env)
        self.base_url = (settings.base_url or env_url or self.default_base_url).rstrip("/")

    def account_pace(self, limit: str, per_second: float) -> AccountPace:
        """The process-wide pacer of one documented request-rate limit (`limit` names it) of
        this account: every run of the provider with the same key and URL shares it (a batch
        runs many splits at once), at this process's `rate_share`."""
        key = hashlib.sha256((self.api_key or "").encode()).hexdigest()[:16]
        scope = (type(self).__name__, self.base_url, key, limit)
        return account_pace(scope, per_second * self.settings.rate_share)

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        """The codes `model` takes (None: any ISO 639-1 code)."""
        for prefix, codes in cls.languages:
            if model.startswith(prefix):
                return codes
        return None

    @classmethod
    def check_stream(cls, model: str, prefix: str | None = None) -> None:
        """ConfigError (exit 2, before any request) when `--stream` cannot be served for
        `model` (named by the `prefix` the user gave): run, each shard and batch (for every
        model, before the first run) ask here."""
        if not cls.serves_sse:
            raise ConfigError(
                "--stream is for openai/ and openai-compatible/ models (transcripts as "
                f"server-sent events); {prefix or cls.prefixes[0]}/ does not stream them"
            )

    @classmethod
    def check_language(cls, model: str, language: str) -> None:
        """ConfigError (exit 2, before any request) when `model` does not list `language`:
        the service would refuse every request, or worse, transcribe in another language."""
        codes = cls.supported_languages(model)
        if codes is None or language in codes:
            return
        shown = ", ".join(sorted(codes)[:30]) + (" ..." if len(codes) > 30 else "")
        raise ConfigError(
            f"{cls.prefixes[0]}/{model} does not support language {described(language)}; "
            f"it supports: {shown}"
        )

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


def read_key_file(path: str, source: str) -> str:
    """The key in a file (surrounding whitespace and the final newline dropped)."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            key = f.read(64 * 1024).strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        # "(why)", not ": why": a path ending in ".key: " reads like a key to the redactor
        raise ConfigError(f"cannot read {source} {path} ({why})") from None
    if not key:
        raise ConfigError(f"{source} {path} is empty; put the API key in it")
    return key


def resolve_key(settings: ProviderSettings, key_env: str | None) -> str | None:
    """The key, flags first: `--api_key` or `--api_key_file`, then `<KEY_ENV>` or
    `<KEY_ENV>_FILE` (each pair is exclusive: two sources of one key is a mistake)."""
    if settings.api_key and settings.api_key_file:
        raise ConfigError("pass --api_key or --api_key_file, not both")
    if settings.api_key:
        return check_key(settings.api_key, "--api_key", key_env)
    if settings.api_key_file:
        key = read_key_file(settings.api_key_file, "--api_key_file")
        return check_key(key, f"--api_key_file {settings.api_key_file}", key_env)
    if not key_env:
        return None
    value = os.environ.get(key_env) or None
    file_env = f"{key_env}_FILE"
    path = os.environ.get(file_env, "").strip()
    if value and path:
        raise ConfigError(f"both {key_env} and {file_env} are set; unset one")
    if path:
        return check_key(read_key_file(path, file_env), f"{file_env} {path}", key_env)
    return check_key(value, key_env, key_env) if value and value.strip() else None


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
