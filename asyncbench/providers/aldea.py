"""Aldea: raw WAV POSTed to one or many `host:port` endpoints (self-hosted or the cloud).

Endpoint precedence is the seed's: `--aldea_endpoints`, then `ALDEA_ENDPOINTS`, then
`ALDEA_API_URL` (or `--base_url`), then the public URL. The body is the WAV itself with the
non-standard `Content-Type: wave` the servers expect; the key is sent only when set.

Language: the fork sends no query parameters, and English runs keep it so. Any other
language goes in the `language` query parameter, as Aldea's public API documents it (BCP-47;
a two-letter code is one); which languages a self-hosted server knows is its own business,
so every ISO 639-1 code is let through and the server refuses what it cannot do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import orjson

from asyncbench.core.endpoint_spec import normalize_endpoint, parse_endpoints
from asyncbench.core.errors import TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._wire import check_plain_text, check_text, send
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, excerpt, http_error

if TYPE_CHECKING:
    import aiohttp

DEFAULT_URL = "https://api.aldea.ai/asr/transcribe"
DEFAULT_PATH = "/asr/transcribe"


def _text_of(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for key in ("text", "transcript"):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    data = obj.get("data")
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return data["text"]
    return None


def parse_reply(body: bytes, content_type: str = "text/plain") -> str:
    """JSON (`text`, `transcript` or `data.text`), else JSON lines, else plain text.

    A body that starts like JSON but does not parse is a torn or broken reply, not a
    transcript: it is retried instead of being scored as words. So is anything that is not
    text (an HTML page, binary, invalid UTF-8), and plain text needs a `text/*` type.
    """
    check_text(body, content_type)
    stripped = body.strip()
    if not stripped:
        raise TransientError("bad_response", "empty reply body")
    try:
        whole = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        whole = None
    else:
        text = _text_of(whole)
        if text is not None:
            return text
        if isinstance(whole, str):
            return whole
    if stripped[:1] in (b"{", b"["):
        pieces: list[str] = []
        parsed_any = False
        for line in stripped.splitlines():
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            parsed_any = True
            text = _text_of(obj)
            if text:
                pieces.append(text)
        if pieces:
            return " ".join(pieces)
        if parsed_any or whole is not None:
            raise TransientError("bad_response", f"no transcript in reply: {excerpt(stripped)}")
        raise TransientError("bad_response", f"malformed JSON reply: {excerpt(stripped)}")
    return check_plain_text(stripped, content_type)


class AldeaProvider(Provider):
    prefixes = ("aldea",)
    key_env = "ALDEA_API_KEY"
    key_required = False
    base_url_env = "ALDEA_API_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 160
    # the public API's default maximum duration is 600 s [PROTOCOLS-2026 B]; the fork's
    # servers may take FLAC, but WAV stays what they get
    limits = Limits(max_seconds=600.0)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self._headers = {"Content-Type": "wave"}
        if self.api_key:
            self._headers["Authorization"] = f"Bearer {self.api_key}"
        lang = settings.language
        self._params = {} if lang == "en" else {"language": lang}

    def endpoint_urls(self) -> list[str]:
        """Flags beat the environment; a list beats a single URL (the seed's order)."""
        if self.settings.endpoints:
            return parse_endpoints(self.settings.endpoints, DEFAULT_PATH)
        if self.settings.base_url:
            return [normalize_endpoint(self.settings.base_url, DEFAULT_PATH)]
        env_list = os.environ.get("ALDEA_ENDPOINTS", "").strip()
        if env_list:
            return parse_endpoints(env_list, DEFAULT_PATH)
        return [normalize_endpoint(self.base_url, DEFAULT_PATH)]

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        # The fork sends "wave" whatever the bytes are (also downloaded MP3/FLAC in URL mode);
        # servers decode by content, so the header stays the protocol's fixed value.
        reply = await send(
            session,
            "POST",
            url,
            self.wire,
            data=audio.data,
            headers=self._headers,
            params=self._params,
        )
        if reply.status != 200:
            raise http_error(reply.status, reply.body, reply.headers, key_env=self.key_env)
        return parse_reply(reply.body, reply.content_type)
