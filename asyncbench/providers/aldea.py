"""Aldea: raw WAV POSTed to one or many `host:port` endpoints (self-hosted or the cloud).

Endpoint precedence is the seed's: `--aldea_endpoints`, then `ALDEA_ENDPOINTS`, then
`ALDEA_API_URL` (or `--base_url`), then the public URL.

Two protocols, chosen per endpoint (`--aldea_api`, `options["aldea_api"]`):

- `transcribe`, the seed's (the aldea-ai fork's servers, `asyncbench serve`): the WAV itself
  with the non-standard `Content-Type: wave` the servers expect, to `/asr/transcribe`; the key
  is sent only when set; the reply is JSON `text`, JSON lines or plain text.
- `listen`, Aldea's public API (platform.aldea.ai/docs/stt-api-reference/pre-recorded-audio):
  `POST /v1/listen?language=en`, `Authorization: Bearer <ALDEA_API_KEY>` (required), the raw
  audio with its MIME type (auto-detected by the service) or, in `--use_url` mode,
  `{"url": ...}` as `application/json` (the service fetches it); the transcript is the
  Deepgram-compatible `results.channels[0].alternatives[0].transcript`. Errors are
  `{"error", "request_id"}`: 401/403 stop the run, 429 and 5xx are retried (Retry-After
  honoured), 400/413/415/422 are permanent. Clips over 600 s (the documented default maximum)
  are refused before upload.

`auto` (the default) speaks `listen` to Aldea's public host (`api.aldea.ai`, whatever path was
given: the old `/asr/transcribe` URL there is the seed's default and now answers as
`/v1/listen`) and `transcribe` to every other endpoint (local ports, the seed's contract).
`--aldea_api listen` forces the public protocol on every endpoint (a path-less endpoint gets
`/v1/listen`, a legacy `/asr/transcribe` or `/transcribe` path is replaced by it, another path
gets `/v1/listen` appended); `--aldea_api transcribe` forces the seed's everywhere.

Language: the fork sends no query parameters, and English runs on `transcribe` keep it so.
Any other language goes in the `language` query parameter, as Aldea's public API documents it
(BCP-47; a two-letter code is one); which languages a self-hosted server knows is its own
business, so every ISO 639-1 code is let through and the server refuses what it cannot do.
UNCONFIRMED: Aldea's numeric rate limits.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from asyncbench.core.endpoint_spec import normalize_endpoint, parse_endpoints
from asyncbench.core.errors import ConfigError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import audio_bytes, read_error, reply_json, text_at
from asyncbench.providers._wire import check_plain_text, check_reply, send
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, excerpt, http_error

if TYPE_CHECKING:
    import aiohttp

DEFAULT_URL = "https://api.aldea.ai/asr/transcribe"
DEFAULT_PATH = "/asr/transcribe"
PUBLIC_HOST = "api.aldea.ai"
LISTEN_PATH = "/v1/listen"
LEGACY_PATHS = ("/asr/transcribe", "/transcribe")
API_CHOICES = ("auto", "listen", "transcribe")
#: seconds: the public API's documented default maximum duration
LISTEN_MAX_SECONDS = 600.0
LISTEN_LIMITS = Limits(max_seconds=LISTEN_MAX_SECONDS, source="Aldea's documented default")
LISTEN_TRANSCRIPT = ("results", "channels", 0, "alternatives", 0, "transcript")


def aldea_api(settings: ProviderSettings) -> str:
    """The `--aldea_api` choice, checked: auto, listen or transcribe."""
    choice = settings.options.get("aldea_api", "auto").strip().lower() or "auto"
    if choice not in API_CHOICES:
        raise ConfigError(f"--aldea_api must be one of {', '.join(API_CHOICES)} (got {choice!r})")
    return choice


def is_public(url: str) -> bool:
    """Whether an endpoint is Aldea's public API host."""
    return (urlsplit(url).hostname or "").lower() == PUBLIC_HOST


def listen_url(url: str) -> str:
    """The `/v1/listen` URL of an endpoint (see the module docstring for the path rules)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if is_public(url) or path in ("", *LEGACY_PATHS):
        path = LISTEN_PATH
    elif not path.endswith(LISTEN_PATH):
        for legacy in LEGACY_PATHS:
            path = path.removesuffix(legacy)
        path += LISTEN_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


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


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _whole_text(whole: Any) -> str | None:
    """The transcript of a reply that parsed as one JSON value: its field, or the value
    itself when it is a string."""
    text = _text_of(whole)
    if text is None and isinstance(whole, str):
        return whole
    return text


def parse_reply(body: bytes, content_type: str = "text/plain") -> str:
    """JSON (`text`, `transcript` or `data.text`), else JSON lines, else plain text.

    A body that starts like JSON but does not parse is a torn or broken reply, not a
    transcript: it is retried instead of being scored as words. So is anything that is not
    text (an HTML page, binary, invalid UTF-8), and plain text needs a `text/*` type.
    """
    check_reply(body, content_type)
    if not body or body.isspace():
        raise TransientError("bad_response", "empty reply body")
    # JSON allows whitespace around a value, so the body is parsed as it came: stripping a
    # reply that ends in a newline copied it whole, at the parse (a reply's peak). The
    # stripped copy is only made when that is not the answer.
    whole = _json_or_none(body)
    text = _whole_text(whole)
    if text is not None:
        return text
    stripped = body.strip()
    if whole is None:  # form feeds or vertical tabs around it: no JSON whitespace
        whole = _json_or_none(stripped)
        text = _whole_text(whole)
        if text is not None:
            return text
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
        self.api = aldea_api(settings)
        self._headers = {"Content-Type": "wave"}
        if self.api_key:
            self._headers["Authorization"] = f"Bearer {self.api_key}"
        lang = settings.language
        self._params = {} if lang == "en" else {"language": lang}
        self._urls = [self._speak(url) for url in self._configured_urls()]
        self._listen = frozenset(u for u in self._urls if u.endswith(LISTEN_PATH))
        if self._listen and not self.api_key:
            raise ConfigError(
                f"{self.key_env} is not set; export {self.key_env}=... or pass --api_key "
                f"(Aldea's public API, {sorted(self._listen)[0]}, needs a key)"
            )
        # the public API fetches URLs itself; the seed's servers take bytes only
        self.fetches_urls = bool(self._urls) and len(self._listen) == len(self._urls)  # type: ignore[misc]

    def _speak(self, url: str) -> str:
        """The endpoint URL for the protocol it will be spoken with."""
        if self.api == "listen" or (self.api == "auto" and is_public(url)):
            return listen_url(url)
        return url

    def endpoint_urls(self) -> list[str]:
        return list(self._urls)

    def _configured_urls(self) -> list[str]:
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
        if url in self._listen:
            return await self._listen_once(session, url, audio)
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

    async def _listen_once(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        """One clip through the public `/v1/listen` protocol."""
        if audio.data is None and audio.url:
            body, content_type = orjson.dumps({"url": audio.url}), "application/json"
        else:
            LISTEN_LIMITS.check(audio, "Aldea")
            body, content_type = audio_bytes(audio), audio.mime
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": content_type}
        params = {"language": self.settings.language or "en"}
        reply = await send(
            session, "POST", url, self.wire, data=body, headers=headers, params=params
        )
        if not 200 <= reply.status < 300:
            message = read_error(reply.body).message
            raise http_error(reply.status, message, reply.headers, key_env=self.key_env)
        return text_at(reply_json(reply.body, reply.content_type), LISTEN_TRANSCRIPT, reply.body)
