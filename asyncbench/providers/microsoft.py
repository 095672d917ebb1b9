"""Microsoft Azure Speech fast transcription with LLM Speech (`microsoft/<anything>`).

Wire facts (reference/PROTOCOLS-2026.md §A3, from the leaderboard's client and the REST
reference): one synchronous `POST {endpoint}/speechtotext/transcriptions:transcribe
?api-version=2025-10-15` with `Ocp-Apim-Subscription-Key: <AZURE_API_KEY>`; multipart parts
`definition` (a JSON string, no filename) and `audio` (the file, named with its extension).
The definition is the leaderboard's: `locales: [<locale of the language>]`,
`profanityFilterMode: None`, `enhancedMode: {enabled: true, task: transcribe}` (LLM Speech;
the model version is the service's, so the variant after `microsoft/` is not sent), plus
`enhancedMode.prompt: ["Output must be in lexical format."]` on the datasets the
leaderboard's scripts ask it for (a config named exactly `librispeech` or `gigaspeech`, and
`mls_it` in multilingual runs: since the English config is `gigaspeech_cleaned`, only
LibriSpeech gets it there). In `--use_url` mode the URL goes in `definition.audioUrl` and
Azure downloads it (the leaderboard downloads first; the REST reference documents audioUrl).

Endpoint: `--base_url`, else `MICROSOFT_BASE_URL`, else `AZURE_SPEECH_ENDPOINT` (a resource
endpoint such as `https://<name>.cognitiveservices.azure.com`), else the region in
`AZURE_REGION` (`https://<region>.api.cognitive.microsoft.com`), else `northeurope`, the
leaderboard's hard-coded region.

Limits: LLM Speech takes files under 300 MB and 2 h (checked before sending); fast
transcription allows 300 requests/min on S0 (kept for all workers together). Errors: 401
stops the run (key rejected; also a key used on another region's endpoint), 403 with a quota
message stops it (free tier used up), 429/5xx are retried after `Retry-After`, other 4xx
are permanent.

UNCONFIRMED: the error body (read both as `{"error": {"code", "message"}}` and as a bare
`{"code", "message"}`); whether `locales` steers LLM Speech at all; which size/duration cap
binds now (200 MB / 2 h, 250 MB / 2 h, 300 MB / 2 h and 500 MB / 5 h all appear in
Microsoft's pages); whether 300/min is still the fast-transcription rate on every tier.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from asyncbench.core.errors import ConfigError, ProviderError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import (
    HTTPProvider,
    multipart,
    quota_error,
    read_error,
    reply_json,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

if TYPE_CHECKING:
    import aiohttp

API_VERSION = "2025-10-15"
DEFAULT_REGION = "northeurope"
ENDPOINT_ENV = "AZURE_SPEECH_ENDPOINT"
REGION_ENV = "AZURE_REGION"
LEXICAL_PROMPT = "Output must be in lexical format."
#: dataset configs the leaderboard's scripts run with the lexical prompt
LEXICAL_DATASETS = frozenset({"librispeech", "gigaspeech", "mls_it"})
#: the leaderboard's language → locale map
LOCALES = {
    "en": "en-US",
    "es": "es-ES",
    "fr": "fr-FR",
    "de": "de-DE",
    "it": "it-IT",
    "pt": "pt-PT",
    "nl": "nl-NL",
}
LIMITS = Limits(300 * 10**6, 2 * 3600.0, "Azure LLM Speech")
REQUESTS_PER_SECOND = 300 / 60
_REGION = re.compile(r"^[a-z][a-z0-9]*$")


def region_url(region: str) -> str:
    """The regional endpoint, from a region name such as `westeurope`."""
    if not _REGION.match(region):
        raise ConfigError(
            f"{REGION_ENV} must be an Azure region name such as northeurope (got {region!r})"
        )
    return f"https://{region}.api.cognitive.microsoft.com"


def definition(settings: ProviderSettings, audio_url: str | None = None) -> dict[str, Any]:
    """The transcription definition the leaderboard sends for this language and dataset."""
    locale = LOCALES.get(settings.language)
    if locale is None:
        raise ConfigError(
            f"microsoft/: no Azure locale for language {settings.language!r}; "
            f"known: {', '.join(sorted(LOCALES))}"
        )
    enhanced: dict[str, Any] = {"enabled": True, "task": "transcribe"}
    if settings.dataset in LEXICAL_DATASETS:
        enhanced["prompt"] = [LEXICAL_PROMPT]
    body: dict[str, Any] = {
        "locales": [locale],
        "profanityFilterMode": "None",
        "enhancedMode": enhanced,
    }
    if audio_url is not None:
        body["audioUrl"] = audio_url
    return body


class MicrosoftProvider(HTTPProvider):
    prefixes = ("microsoft",)
    key_env = "AZURE_API_KEY"
    base_url_env = "MICROSOFT_BASE_URL"
    default_base_url = region_url(DEFAULT_REGION)
    default_concurrency = 4
    languages = (("", frozenset(LOCALES)),)  # the board's language → locale map
    limits = LIMITS
    default_timeout = 300.0
    fetches_urls = True
    api_prefix = ""
    resource = "/speechtotext/transcriptions:transcribe"

    def __init__(self, settings: ProviderSettings) -> None:
        assert self.base_url_env is not None
        if not settings.base_url and not os.environ.get(self.base_url_env):
            endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
            region = os.environ.get(REGION_ENV, "").strip()
            if endpoint or region:
                settings = dataclasses.replace(settings, base_url=endpoint or region_url(region))
        super().__init__(settings)
        self._headers = {"Ocp-Apim-Subscription-Key": self.api_key or ""}
        self._definition = orjson.dumps(definition(settings)).decode()
        self._pace = self.account_pace("requests", REQUESTS_PER_SECOND)

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        if audio.data is None and audio.url:
            body = orjson.dumps(definition(self.settings, audio.url)).decode()
            form = multipart([("definition", body)], None)
        else:
            form = multipart([("definition", self._definition)], audio, file_field="audio")
        return {"data": form, "headers": self._headers, "params": {"api-version": API_VERSION}}

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        self.limits.check(audio, "Azure")
        await self._pace.take()
        return await super().transcribe(session, url, audio)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        if status == 403 and "quota" in info.message.lower():
            return quota_error(self.key_env, info.message, status)
        return http_error(status, info.message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        reply = reply_json(body)
        phrases = reply.get("combinedPhrases") if isinstance(reply, dict) else None
        if not isinstance(phrases, list):
            raise TransientError("bad_response", f"reply has no combinedPhrases: {body[:200]!r}")
        if not phrases:
            return ""  # nothing was heard
        text = phrases[0].get("text") if isinstance(phrases[0], dict) else None
        return text.strip() if isinstance(text, str) else ""
