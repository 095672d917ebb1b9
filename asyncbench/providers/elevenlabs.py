"""ElevenLabs speech-to-text (scribe_v1, scribe_v2, ...): `POST /v1/speech-to-text`.

Multipart with `model_id`, `file` and `tag_audio_events=true`, as the Hugging Face harness
sends it, so numbers compare with the leaderboard (the tags are parenthesised and the scorer
drops them). English, the service's own default, is left to it (no `language_code`, as the
harness does); any other language is forced with `language_code` in its ISO 639-3 form
(`deu`, `fra`), the form ElevenLabs' language table uses and the fork sent (`eng`).
The key goes in `xi-api-key`. Errors are `{"detail": {"status", "message"}}`: a 401
`quota_exceeded` is an empty balance, not a bad key; a 429 is either the plan's concurrency
cap (`too_many_concurrent_requests`) or server load (`system_busy`), both worth retrying but
told apart so a run can see which it hit; 422 is a validation error and permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncbench.core.errors import ProviderError, TransientError
from asyncbench.core.limits import MB, Limits
from asyncbench.core.retry import retry_after_from_headers
from asyncbench.core.service_languages import ISO639_3
from asyncbench.providers._http import (
    HTTPProvider,
    multipart,
    quota_error,
    read_error,
    reply_json,
    text_at,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

DEFAULT_BASE_URL = "https://api.elevenlabs.io"


class ElevenLabsProvider(HTTPProvider):
    prefixes = ("elevenlabs",)
    key_env = "ELEVENLABS_API_KEY"
    base_url_env = "ELEVENLABS_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 5
    limits = Limits(max_bytes=3 * 1024 * MB, max_seconds=10 * 3600.0)  # [PROTOCOLS-2026 C5]
    accepts_flac = True
    api_prefix = "/v1"
    resource = "/speech-to-text"
    languages = (("", frozenset(ISO639_3)),)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self._headers = {"xi-api-key": self.api_key or ""}
        lang = settings.language
        self._language = [] if lang == "en" else [("language_code", ISO639_3[lang])]

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        fields = [("model_id", self.model), ("tag_audio_events", "true"), *self._language]
        return {"data": multipart(fields, audio), "headers": self._headers}

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        if "quota_exceeded" in info.codes:
            return quota_error(self.key_env, info.message, status)
        if status == 429:
            limited = "too_many_concurrent_requests" in info.codes
            return TransientError(
                "concurrency_limited" if limited else "rate_limited",
                info.message + (" (lower --max_workers to your plan's limit)" if limited else ""),
                status=status,
                retry_after=retry_after_from_headers(headers),
            )
        return http_error(status, info.message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        return text_at(reply_json(body, content_type), ("text",), body)
