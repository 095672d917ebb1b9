"""OpenAI transcription (whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe), and the same
protocol served by anything else: `openai-compatible/<model>` for vLLM, local Whisper servers
and other `/v1/audio/transcriptions` endpoints.

The body is multipart: `file` (named with its real extension, which OpenAI uses to detect the
container and without which it answers 400), `model`, `language`, `response_format=json`.
A 429 means two different things here: a rate limit (retry after the `x-ratelimit-reset-*`
duration) or `insufficient_quota` (no retry will ever succeed, so the run stops).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError
from asyncbench.core.limits import MB, Limits
from asyncbench.core.retry import parse_duration
from asyncbench.core.service_languages import OPENAI_LANGUAGES
from asyncbench.providers._http import (
    HTTPProvider,
    multipart,
    quota_error,
    read_error,
    reply_json,
    text_at,
)
from asyncbench.providers._sse import post_sse
from asyncbench.providers._wire import check_plain_text
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

if TYPE_CHECKING:
    import aiohttp

DEFAULT_BASE_URL = "https://api.openai.com/v1"


# "Please try again in 1.2s" / "in 20ms" / "in 6m0s": OpenAI and Groq say when in the message
_TRY_AGAIN = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|s|m|h))+)", re.IGNORECASE)


def wait_hint(message: str) -> float | None:
    """Seconds to wait as stated in a rate-limit message, when headers gave none."""
    match = _TRY_AGAIN.search(message)
    return parse_duration(match.group(1)) if match else None


def openai_error(
    status: int, body: bytes, headers: Mapping[str, str], key_env: str | None
) -> ProviderError:
    """Meaning of an OpenAI-style error (`{"error": {"message", "type", "code"}}`)."""
    info = read_error(body)
    if status == 429 and "insufficient_quota" in info.codes:
        return quota_error(key_env, info.message, status)
    if status == 400 and "audio_too_short" in info.codes:
        return PermanentError("audio_too_short", info.message, status=status)
    err = http_error(status, info.message, headers, key_env=key_env)
    if status == 429 and err.retry_after is None:
        err.retry_after = wait_hint(info.message)
    return err


class OpenAIProvider(HTTPProvider):
    prefixes = ("openai",)
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 20
    # 25 MB per file; gpt-4o-transcribe takes at most 1500 s and -diarize 1400 s
    # (400 invalid_value) [PROTOCOLS-2026 C5], so 1400 s holds for every model
    limits = Limits(max_bytes=25 * MB, max_seconds=1400.0)
    accepts_flac = True
    api_prefix = "/v1"
    resource = "/audio/transcriptions"
    languages = (("", OPENAI_LANGUAGES),)
    serves_sse: ClassVar[bool] = True
    #: models that ignore `stream=true` (OpenAI: "not supported for whisper-1")
    no_stream_models: ClassVar[frozenset[str]] = frozenset({"whisper-1"})

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self._headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.stream = settings.options.get("stream") == "1"
        if self.stream:
            self.check_stream(self.model)

    @classmethod
    def check_stream(cls, model: str, prefix: str | None = None) -> None:
        super().check_stream(model, prefix)  # Groq and Sprag speak it but not its stream
        if model in cls.no_stream_models:
            raise ConfigError(
                f"{cls.prefixes[0]}/{model} does not stream transcripts (the service "
                "ignores stream=true); use gpt-4o-transcribe or gpt-4o-mini-transcribe, or "
                "drop --stream"
            )

    def fields(self) -> list[tuple[str, str]]:
        # json is the one format every model accepts (gpt-4o models accept only json/text)
        return [
            ("model", self.model),
            ("language", self.settings.language),
            ("response_format", "json"),
            *([("stream", "true")] if self.stream else []),
        ]

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        """One POST; with `--stream`, the events read as they come (providers/_sse.py) and
        the line gains the time to the first delta, the gaps between deltas and the usage."""
        if self.stream:
            return await post_sse(session, url, self.wire, self.error, **self.request(audio))
        return await super().transcribe(session, url, audio)

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        return {"data": multipart(self.fields(), audio), "headers": self._headers}

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        return openai_error(status, body, headers, self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        # Some compatible servers ignore response_format and answer text/plain.
        if content_type == "text/plain":
            return check_plain_text(body, content_type).strip()
        return text_at(reply_json(body, content_type), ("text",), body)


class OpenAICompatibleProvider(OpenAIProvider):
    """The OpenAI protocol at a server the user names; the key is optional (local servers
    usually have none)."""

    prefixes = ("openai-compatible",)
    key_env = "OPENAI_COMPATIBLE_API_KEY"
    key_required = False
    base_url_env = "OPENAI_COMPATIBLE_BASE_URL"
    default_base_url = ""
    languages = (("", None),)  # whatever the user's server runs: it decides
    no_stream_models: ClassVar[frozenset[str]] = frozenset()  # the server decides

    def fields(self) -> list[tuple[str, str]]:
        # vLLM reports usage in its last chunk only when asked (OpenAI sends it unasked)
        return super().fields() + ([("stream_include_usage", "true")] if self.stream else [])

    # a server of the user's own: its limits are the user's to say (--max_upload_mb)
    limits = Limits()

    def __init__(self, settings: ProviderSettings) -> None:
        assert self.base_url_env is not None
        if not (settings.base_url or os.environ.get(self.base_url_env, "").strip()):
            raise ConfigError(
                f"openai-compatible/ needs --base_url (or {self.base_url_env}), "
                "e.g. http://127.0.0.1:8000/v1"
            )
        super().__init__(settings)
