"""Reson8 prerecorded transcription: `reson8/resonant-1`, `reson8/resonant-1-flash`.

Two steps, as the leaderboard does it (huggingface/open_asr_leaderboard@d1e99b2
api/providers/reson8_provider.py): the API key (`Authorization: ApiKey <key>`) buys a
short-lived access token at `POST /v1/auth/token` (`{access_token, token_type: "Bearer",
expires_in: 600}`), shared by every worker and renewed 30 s before it expires (one renewal at
a time, under a lock, however many requests are in flight); each clip is then `POST
/v1/speech-to-text/prerecorded?encoding=auto&model=<variant>&language=<lang>` with
`Authorization: Bearer <token>`, the raw bytes as `application/octet-stream`, and the reply's
`text` is the transcript. A 401 on a transcription means the token was revoked or expired
early: the client buys a new one and sends the clip once more; a 401 on the token request is a
rejected key and stops the run. Requests may take 300 s. No URL mode (the service takes
bytes; `--use_url` downloads them first).

UNCONFIRMED (docs.reson8.dev documents neither): what the `model` query does (the model may
be fixed by the API client's settings; the leaderboard sends it, so this client does too),
size and rate limits, and the error-body shape. So no size is refused here; a 413 is
permanent, a 429 waits out its `Retry-After`, a 402 stops the run as an empty balance.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

from asyncbench.core.errors import ConfigError, ProviderError, TransientError
from asyncbench.providers._http import api_url, audio_bytes, quota_error, read_error, reply_json
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, excerpt, http_error

if TYPE_CHECKING:
    import aiohttp

DEFAULT_BASE_URL = "https://api.reson8.dev"
#: renew a token this many seconds before it expires
REFRESH_MARGIN = 30.0
DEFAULT_TOKEN_LIFE = 600.0
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Reson8Provider(Provider):
    prefixes = ("reson8",)
    key_env = "RESON8_API_KEY"
    base_url_env = "RESON8_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 16
    default_timeout = 300.0

    def __init__(self, settings: ProviderSettings) -> None:
        if not _LANGUAGE.match(settings.language):
            raise ConfigError(
                f"reson8: language {settings.language!r} is not a language code such as 'en'"
            )
        super().__init__(settings)
        try:
            self.url = api_url(self.base_url, "/v1", "/speech-to-text/prerecorded")
        except ConfigError as exc:
            source = "--base_url" if settings.base_url else self.base_url_env
            raise ConfigError(f"{source}: {exc}") from None
        self.token_url = self.url.removesuffix("/speech-to-text/prerecorded") + "/auth/token"
        self.params = {"encoding": "auto", "model": self.model, "language": settings.language}
        self._token: str | None = None
        self._expires = 0.0  # time.monotonic() at which the token stops being used
        self._lock = asyncio.Lock()

    def endpoint_urls(self) -> list[str]:
        return [self.url]

    def error(self, status: int, body: bytes, headers: Any) -> ProviderError:
        message = read_error(body).message
        if status == 402:
            return quota_error(self.key_env, message, status)
        return http_error(status, message, headers, key_env=self.key_env)

    async def token(self, session: aiohttp.ClientSession, stale: str | None = None) -> str:
        """A valid access token; `stale` is one the service just refused, never handed out
        again (a worker that was refused after another already renewed it gets the new one)."""
        async with self._lock:
            fresh = self._token is not None and self._token != stale
            if fresh and time.monotonic() < self._expires:
                return self._token  # type: ignore[return-value]
            headers = {"Authorization": f"ApiKey {self.api_key}"}
            async with session.post(self.token_url, headers=headers) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise self.error(resp.status, body, resp.headers)
            reply = reply_json(body)
            token = reply.get("access_token") if isinstance(reply, dict) else None
            if not isinstance(token, str) or not token:
                raise TransientError(
                    "bad_response", f"token reply has no access_token: {excerpt(body)}"
                )
            try:
                life = float(reply.get("expires_in", DEFAULT_TOKEN_LIFE))
            except (TypeError, ValueError):
                life = DEFAULT_TOKEN_LIFE
            self._token = token
            self._expires = time.monotonic() + life - REFRESH_MARGIN
            return token

    async def _post(
        self, session: aiohttp.ClientSession, url: str, token: str, data: bytes
    ) -> tuple[int, bytes, Any]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
        async with session.post(url, params=self.params, headers=headers, data=data) as resp:
            return resp.status, await resp.read(), resp.headers

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        data = audio_bytes(audio)
        token = await self.token(session)
        status, body, headers = await self._post(session, url, token, data)
        if status == 401:  # revoked or expired early: one new token, one more try
            token = await self.token(session, stale=token)
            status, body, headers = await self._post(session, url, token, data)
        if not 200 <= status < 300:
            raise self.error(status, body, headers)
        reply = reply_json(body)
        text = reply.get("text") if isinstance(reply, dict) else None
        if not isinstance(text, str):
            raise TransientError("bad_response", f"no text in reply: {excerpt(body)}")
        return text.strip()
