"""Sprag Symphony (`sprag/symphony`): the OpenAI transcription protocol at Sprag's URL, with
one request-rate limit shared by the whole process.

As the leaderboard's open PR #212 sends it (huggingface/open_asr_leaderboard@55d5a6ce
api/providers/sprag_provider.py): `POST {SPRAG_BASE_URL or https://api.sprag.ai/v1}
/audio/transcriptions`, `Authorization: Bearer $SPRAG_API_KEY`, multipart `file` with
`model=<variant>` and `temperature=0.0` (no language: the PR sends none); the reply's `text`
is the transcript. No URL mode (`--use_url` downloads and uploads the bytes); requests may
take 600 s; the board runs 8 workers.

The PR keeps one sliding window of `SPRAG_REQUESTS_PER_MINUTE` (default 2400) requests for
every thread of the process. Here every run of this provider in the process (a batch runs
several splits at once) shares one pacer of that rate (`Provider.account_pace`), which
spaces requests evenly instead of letting a minute's budget go in one burst.

Errors are read as OpenAI's: 401/403 stop the run, 429 waits out its headers, other 4xx are
permanent, 5xx retried. UNCONFIRMED (open PR, no public API reference): the service's limits,
error body and which OpenAI fields it honours beyond `model` and `temperature`.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.openai import OpenAIProvider

if TYPE_CHECKING:
    import aiohttp

DEFAULT_BASE_URL = "https://api.sprag.ai/v1"
RPM_ENV = "SPRAG_REQUESTS_PER_MINUTE"
DEFAULT_RPM = 2400


def requests_per_minute() -> float:
    """The process's request budget from `SPRAG_REQUESTS_PER_MINUTE`, else the PR's 2400."""
    raw = os.environ.get(RPM_ENV, "").strip()
    if not raw:
        return float(DEFAULT_RPM)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(
            f"{RPM_ENV} must be a positive number of requests per minute (got {raw!r})"
        )
    return value


class SpragProvider(OpenAIProvider):
    prefixes = ("sprag",)
    key_env = "SPRAG_API_KEY"
    base_url_env = "SPRAG_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 8
    default_timeout = 600.0
    languages = (("", None),)  # no language is sent: the service decides
    accepts_flac = False
    serves_sse = False  # the PR sends no stream field

    def __init__(self, settings: ProviderSettings) -> None:
        rpm = requests_per_minute()
        super().__init__(settings)
        self.pace = self.account_pace("requests", rpm / 60.0)

    def fields(self) -> list[tuple[str, str]]:
        return [("model", self.model), ("temperature", "0.0")]

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        await self.pace.take()
        return (await super().transcribe(session, url, audio)).strip()
