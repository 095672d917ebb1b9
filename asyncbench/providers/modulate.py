"""Modulate Velma-2 batch: `modulate/vfast` (English) and `modulate/multilingual`.

One multipart POST per clip to `{base}/api/velma-2-stt-batch-english-vfast` (vfast) or
`.../velma-2-stt-batch-multilingual-vfast` (multilingual), key in `X-API-Key`, the audio in
the part `upload_file`; the multilingual endpoint also gets the form field `language` (a
lower-case ISO code, "en" from a tag such as "en-US"), which routes the clip to that
language's transcriber. The reply is `{"text", "duration_ms"}`. As in the leaderboard
(huggingface/open_asr_leaderboard@d1e99b2 api/providers/modulate_provider.py), any other
variant is refused, URL mode is not offered (the API takes uploads only; `--use_url` then
downloads and uploads the bytes), and requests may take 600 s.

Error meaning (docs.modulate.ai troubleshooting/authentication): 401 is a bad key and 403 a
spent quota or a model not enabled for the key — both stop the run; 429 is the account's
concurrency limit, retried after its `Retry-After` (the leaderboard gives up on it instead;
lower `--max_workers` below 25 if they keep coming); other 4xx are permanent; 5xx are
retried. Uploads are capped at 100 MB and must not be empty.

Differences from the leaderboard, on purpose: the upload part carries the clip's real MIME
type (the docs warn that a generic type "may cause intermittent decoding failures or empty
responses"; the leaderboard sends none). UNCONFIRMED: the multilingual endpoint and its
`language` field are used by the leaderboard but not in the public docs; the docs show both
`platform.modulate.ai` and `modulate-developer-apis.com` as hosts; the error-body shape. A
later leaderboard revision (2ba8e60) routes vfast to the multilingual endpoint with
`language=en` ("english-vfast will be retired"); this client follows the pinned d1e99b2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import (
    HTTPProvider,
    api_url,
    multipart,
    quota_error,
    read_error,
    reply_json,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings, excerpt, http_error

DEFAULT_BASE_URL = "https://platform.modulate.ai"
#: the leaderboard's variants and the endpoint each is served at
ENDPOINTS = {
    "vfast": "/velma-2-stt-batch-english-vfast",
    "multilingual": "/velma-2-stt-batch-multilingual-vfast",
}
MAX_UPLOAD = 100 * 10**6  # bytes, decimal MB as documented
#: the leaderboard's name for a full endpoint URL
ENDPOINT_ENV = "MODULATE_ENDPOINT"


def language_field(language: str) -> str:
    """`en-US` → `en`: the endpoint takes a short lower-case ISO code."""
    code = language.strip().lower().split("-")[0].split("_")[0]
    if not code.isalpha() or not 2 <= len(code) <= 3:
        raise ConfigError(f"modulate: language {language!r} is not an ISO 639 code such as 'de'")
    return code


class ModulateProvider(HTTPProvider):
    prefixes = ("modulate",)
    key_env = "MODULATE_API_KEY"
    base_url_env = "MODULATE_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 25
    limits = Limits(max_bytes=MAX_UPLOAD, source="Modulate's documented upload cap")
    # vfast is English; the multilingual endpoint takes the language it is given
    languages = (("vfast", frozenset({"en"})), ("", None))
    default_timeout = 600.0
    api_prefix = "/api"

    def __init__(self, settings: ProviderSettings) -> None:
        if settings.model not in ENDPOINTS:
            raise ConfigError(
                f"unknown Modulate model {settings.model!r} in modulate/{settings.model}; "
                f"use one of: {', '.join(f'modulate/{v}' for v in ENDPOINTS)}"
            )
        self._fields = (
            [("language", language_field(settings.language))]
            if settings.model == "multilingual"
            else []
        )
        super().__init__(settings)
        # The leaderboard's MODULATE_ENDPOINT (a full URL) when no base URL was chosen.
        endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
        chosen = settings.base_url or os.environ.get(self.base_url_env or "", "").strip()
        base = self.base_url if chosen or not endpoint else endpoint
        try:
            self.url = api_url(base, self.api_prefix, ENDPOINTS[settings.model])
        except ConfigError as exc:
            source = "--base_url" if settings.base_url else (self.base_url_env or ENDPOINT_ENV)
            raise ConfigError(f"{source}: {exc}") from None
        self._headers = {"X-API-Key": self.api_key or ""}

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        self.limits.check(audio, "Modulate")
        if not audio.data:
            raise PermanentError("bad_audio", "empty upload: Modulate refuses empty files")
        return {
            "data": multipart(self._fields, audio, file_field="upload_file"),
            "headers": self._headers,
        }

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        if status == 403:
            return quota_error(
                self.key_env, f"{info.message} (or the model is not enabled for this key)", status
            )
        return http_error(status, info.message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        reply = reply_json(body)
        text = reply.get("text") if isinstance(reply, dict) else None
        if text is None and isinstance(reply, dict) and "duration_ms" in reply:
            return ""  # nothing said: the service answers without text, as the leaderboard reads it
        if not isinstance(text, str):
            raise TransientError("bad_response", f"no text in reply: {excerpt(body)}")
        return text
