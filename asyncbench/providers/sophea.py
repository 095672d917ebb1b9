"""Sophea ASR (KIEFER SA), `sophea/asr-k1`: one multipart POST per clip.

As the leaderboard's open PR #201 sends it (huggingface/open_asr_leaderboard, index version
6bad770 of api/providers/sophea_provider.py): `POST {SOPHEA_API_URL or https://api.sophea.ai}
/v1/transcribe`, key in `X-API-Key`, multipart `file` with `model=<variant>` and
`language=<code>`; the reply's `text` is the transcript. The model takes English and German
only (anything else is refused before any request, as the PR refuses it). No URL mode
(`--use_url` downloads and uploads the bytes); requests may take 300 s; the board runs 16
workers.

Error meaning: the PR retries every HTTP error (`raise_for_status`); here 401/403 stop the
run, 429 waits out its `Retry-After`, other 4xx are permanent and 5xx retried, as for every
synchronous provider. UNCONFIRMED (open PR, no public API reference): the error body (read
as `{"detail"}` or `{"error"}`), limits and rate limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncbench.core.errors import ProviderError
from asyncbench.providers._http import HTTPProvider, multipart, read_error, reply_json, text_at
from asyncbench.providers.base import AudioPayload, http_error

DEFAULT_BASE_URL = "https://api.sophea.ai"
LANGUAGES = frozenset({"en", "de"})


class SopheaProvider(HTTPProvider):
    prefixes = ("sophea",)
    key_env = "SOPHEA_API_KEY"
    base_url_env = "SOPHEA_API_URL"  # the leaderboard's name for it
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 16
    default_timeout = 300.0
    languages = (("", LANGUAGES),)
    api_prefix = "/v1"
    resource = "/transcribe"

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        fields = [("model", self.model), ("language", self.settings.language)]
        return {"data": multipart(fields, audio), "headers": {"X-API-Key": self.api_key or ""}}

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        return http_error(status, read_error(body).message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        return text_at(reply_json(body, content_type), ("text",), body).strip()
