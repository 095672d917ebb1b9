"""Deepgram pre-recorded transcription: `POST /v1/listen?model=...&language=en&smart_format=true`.

Local audio is the raw bytes with their audio MIME type. Deepgram fetches URLs itself: URL
mode sends `{"url": ...}` and MUST say `Content-Type: application/json`, or Deepgram reads
the JSON as audio and answers 400 "corrupt or unsupported data". Auth is `Token <key>` (not
Bearer). Error bodies come as `{"err_code", "err_msg"}` or `{"category", "message",
"details"}`; 402 means the balance is spent, which no retry fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from asyncbench.core.errors import ProviderError
from asyncbench.core.limits import MB, Limits
from asyncbench.providers._http import (
    HTTPProvider,
    audio_bytes,
    quota_error,
    read_error,
    reply_json,
    text_at,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

DEFAULT_BASE_URL = "https://api.deepgram.com"
TRANSCRIPT = ("results", "channels", 0, "alternatives", 0, "transcript")

#: pre-recorded languages per model family [developers.deepgram.com/docs/models-languages-
#: overview]; nova-3's list is its first multilingual release (later additions not listed
#: here are refused, UNCONFIRMED which those are); other models (base, enhanced, whisper-*)
#: are left to the service
NOVA3_LANGUAGES = frozenset("en es fr de hi ru pt ja it nl".split())
NOVA2_LANGUAGES = frozenset(
    """
    bg ca zh cs da nl en et fi fr de el hi hu id it ja ko lv lt ms no pl pt ro ru sk es sv th
    tr uk vi
    """.split()
)


class DeepgramProvider(HTTPProvider):
    prefixes = ("deepgram",)
    key_env = "DEEPGRAM_API_KEY"
    base_url_env = "DEEPGRAM_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 50
    limits = Limits(max_bytes=2 * 1024 * MB)  # 2 GB (secondary source) [PROTOCOLS-2026 C5]
    accepts_flac = True
    api_prefix = "/v1"
    resource = "/listen"
    fetches_urls = True
    languages = (("nova-3", NOVA3_LANGUAGES), ("nova-2", NOVA2_LANGUAGES), ("", None))

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self._auth = {"Authorization": f"Token {self.api_key}"}
        self._params = {
            "model": self.model,
            "language": settings.language,
            "smart_format": "true",
        }

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        if audio.data is None and audio.url:
            body, content_type = orjson.dumps({"url": audio.url}), "application/json"
        else:
            body, content_type = audio_bytes(audio), audio.mime
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
        reply = reply_json(body, content_type)
        if self.reported_model_version is None:
            self.reported_model_version = model_version(reply)
        return text_at(reply, TRANSCRIPT, body)


def model_version(reply: object) -> str | None:
    """`name version` of the model a reply says it ran (`metadata.model_info`, keyed by the
    model's uuid), or None when the reply does not say."""
    meta = reply.get("metadata") if isinstance(reply, dict) else None
    info = meta.get("model_info") if isinstance(meta, dict) else None
    for entry in info.values() if isinstance(info, dict) else ():
        if isinstance(entry, dict) and entry.get("version"):
            name = str(entry.get("name") or entry.get("arch") or "")
            return f"{name} {entry['version']}".strip()[:200]
    return None
