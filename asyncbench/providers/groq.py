"""Groq: the OpenAI transcription protocol at `https://api.groq.com/openai/v1`.

Groq can fetch the audio itself: in URL mode the form carries `url` instead of `file`. That
form has text fields only, so it must be forced to multipart (aiohttp would send it
urlencoded, which Groq rejects). `retry-after` comes only with 429s; the error body is
OpenAI's shape. 498 is Groq's own "flex tier at capacity": retry later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncbench.core.errors import ProviderError, TransientError
from asyncbench.core.limits import MB, Limits
from asyncbench.core.retry import retry_after_from_headers
from asyncbench.core.service_languages import WHISPER_LANGUAGES
from asyncbench.providers._http import multipart, read_error
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.openai import OpenAIProvider

DEFAULT_BASE_URL = "https://api.groq.com/openai/v1"
CAPACITY_EXCEEDED = 498


class GroqProvider(OpenAIProvider):
    prefixes = ("groq",)
    key_env = "GROQ_API_KEY"
    base_url_env = "GROQ_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 8
    limits = Limits(max_bytes=25 * MB)  # free tier (100 MB on dev) [PROTOCOLS-2026 C5]
    api_prefix = "/openai/v1"
    fetches_urls = True
    serves_sse = False  # no streamed transcription documented
    #: English-only distil-whisper; the large-v3 models take every Whisper language
    #: [console.groq.com/docs/speech-to-text]
    languages = (("distil-whisper", frozenset({"en"})), ("", WHISPER_LANGUAGES))

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        if audio.data is None and audio.url:
            return {
                "data": multipart([*self.fields(), ("url", audio.url)], None),
                "headers": self._headers,
            }
        return super().request(audio)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        if status == CAPACITY_EXCEEDED:
            return TransientError(
                "rate_limited",
                read_error(body).message,
                status=status,
                retry_after=retry_after_from_headers(headers),
            )
        return super().error(status, body, headers)
