"""Aqua Voice Avalon: `aquavoice/avalon-v1-en` at `POST /api/v1/audio/transcriptions`.

As the leaderboard sends it (huggingface/open_asr_leaderboard@d1e99b2
api/providers/aquavoice_provider.py): `Authorization: Bearer <key>`, a multipart body with the
clip in `file` and `model=<variant>`; the reply's `text` is the transcript. That is the OpenAI
transcription shape, so this client is the OpenAI one at Aqua's URL with only `model` sent (no
`language` or `response_format`: the leaderboard sends neither, and what Aqua makes of them
is unknown). No URL mode (`--use_url` downloads and uploads the bytes). The leaderboard runs 5
workers "due to rate limits" (PR #97).

UNCONFIRMED: Aqua Voice publishes no API reference. Third-party code suggests OpenAI-style
error bodies, models `avalon-v1-en`/`avalon-v1.5`/`avalon-1`, a 25 MiB / 1 h cap and an
alternative host `https://api.aqua.sh/v1`; none of it is relied on. So any model name is
sent as given, no size is refused here (a 413 is permanent), and errors are read as OpenAI's
(401/403 stop the run, `insufficient_quota` or 402 stops it as an empty balance, 429 waits out
its headers or its "try again in" hint, other 4xx are permanent, 5xx retried).
"""

from __future__ import annotations

from collections.abc import Mapping

from asyncbench.core.errors import ProviderError
from asyncbench.providers._http import quota_error, read_error
from asyncbench.providers.openai import OpenAIProvider

DEFAULT_BASE_URL = "https://api.aquavoice.com"


class AquaVoiceProvider(OpenAIProvider):
    prefixes = ("aquavoice",)
    key_env = "AQUAVOICE_API_KEY"
    base_url_env = "AQUAVOICE_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 5
    languages = (("", frozenset({"en"})),)  # Avalon is an English model (avalon-v1-en)
    default_timeout = 300.0
    api_prefix = "/api/v1"
    serves_sse = False  # no streamed transcription documented

    def fields(self) -> list[tuple[str, str]]:
        return [("model", self.model)]

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        if status == 402:
            return quota_error(self.key_env, read_error(body).message, status)
        return super().error(status, body, headers)
