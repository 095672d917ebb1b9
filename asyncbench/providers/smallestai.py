"""Smallest AI Pulse: `smallestai/pulse` at `POST /waves/v1/pulse/get_text?language=<lang>`.

As the leaderboard sends it (huggingface/open_asr_leaderboard@d1e99b2
api/providers/smallest_provider.py): `Authorization: Bearer <key>`; local audio as raw bytes
with `Content-Type: application/octet-stream`; in URL mode the service fetches the audio
itself from `{"url": ...}` sent as `application/json`; the transcript is the reply's
`transcription`; requests may take 300 s. The endpoint serves one model, so the variant is
not sent and only `smallestai/pulse` is accepted (another name would label Pulse's numbers
with a model that was never asked for).

Limits and errors (smallest-inc/smallest-ai-documentation pulse-stt-openapi.yaml@0cdfee4,
docs.smallest.ai concurrency-and-limits): 250 MB per request (400 "Audio data too large",
refused here before the upload); concurrency is per account and shared by all models, excess
is a 429 (retried after its `Retry-After`); 401/403 stop the run; other 4xx are permanent, as
in the leaderboard. UNCONFIRMED: the status of an empty balance (402 is read as one and stops
the run), rate limits in numbers, and whether `language` accepts more than the documented
codes (default `multi-eu`; this client sends the run's language, "en").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError, ProviderError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import (
    HTTPProvider,
    audio_bytes,
    quota_error,
    read_error,
    reply_json,
    text_at,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

DEFAULT_BASE_URL = "https://api.smallest.ai"
MODELS = ("pulse",)
MAX_UPLOAD = 250 * 10**6  # bytes, decimal MB as documented
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2,4})?$")


class SmallestAIProvider(HTTPProvider):
    prefixes = ("smallestai",)
    key_env = "SMALLESTAI_API_KEY"
    base_url_env = "SMALLESTAI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 16
    limits = Limits(max_bytes=MAX_UPLOAD, source="docs.smallest.ai concurrency-and-limits")
    default_timeout = 300.0
    api_prefix = "/waves/v1"
    resource = "/pulse/get_text"
    fetches_urls = True

    def __init__(self, settings: ProviderSettings) -> None:
        if settings.model not in MODELS:
            raise ConfigError(
                f"unknown Smallest AI model {settings.model!r}: the Pulse endpoint serves one "
                "model, use smallestai/pulse"
            )
        if not _LANGUAGE.match(settings.language):
            raise ConfigError(
                f"smallestai: language {settings.language!r} is not a code such as 'en' or "
                "'multi-eu'"
            )
        super().__init__(settings)
        self._auth = {"Authorization": f"Bearer {self.api_key}"}
        self._params = {"language": settings.language}

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        if audio.data is None and audio.url:
            body, content_type = orjson.dumps({"url": audio.url}), "application/json"
        else:
            self.limits.check(audio, "Smallest AI")
            body, content_type = audio_bytes(audio), "application/octet-stream"
        return {
            "data": body,
            "headers": {**self._auth, "Content-Type": content_type},
            "params": self._params,
        }

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        if status == 402:
            return quota_error(self.key_env, info.message, status)
        return http_error(status, info.message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        return text_at(reply_json(body), ("transcription",), body)
