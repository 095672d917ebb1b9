"""Zoom AI Services Scribe, fast mode (`zoom/scribe_v1`, `zoom/scribe_v2_pro`): one synchronous
JSON POST.

Wire facts (reference/PROTOCOLS-2026.md §A4, from the leaderboard's client and Zoom's docs):
`POST https://api.zoom.us/v2/aiservices/scribe/transcribe`, `Authorization: Bearer <token>`,
JSON `{"file": F, "config": {...}}` with F a `data:<mime>;base64,...` URI of the clip, or in
`--use_url` mode the clip's URL (Zoom downloads it). The config is the leaderboard's:
`language: en-US` (always: its client never passes another), `segmentation_mode: none` for
clips up to 29.9 s and `auto` (voice activity detection) above, `experimental_feature:
{gpu_pipeline_vnext: true}`, `timestamps: true`, and for `scribe_v2_pro` the model
`zoom-scribe-en-pro` in `config.model` (`scribe_v1` sends none); any other variant is refused
before any request. That is the board since its merged PR #210 (2026-09-03,
huggingface/open_asr_leaderboard@30df8c90 api/providers/zoom_provider.py); at d1e99b2 the
flag was `{model_pro: true}` and the variant was not sent. The transcript is
`result.text_display` (punctuated; `text_lexical` is the other form).

Auth: Zoom's AI Services pages ask for an HS256 JWT (`iss` = API key, `iat`, `exp` ≤ 1 h)
signed with the API secret, while the leaderboard sends the key itself as the bearer. Both are
supported: with `ZOOM_API_SECRET` set a JWT is made (and renewed before it expires), else
`ZOOM_API_KEY` (or `--api_key`) is sent as it is.

Limits: 100 MB and 2 h per file in fast mode (checked before sending, on the raw bytes).
Rate limits follow the Zoom account's "Pro" API tier; a 429 is retried after its
`Retry-After`. 401 stops the run; other 4xx are permanent, 5xx retried.

UNCONFIRMED: whether the raw key is accepted as bearer without a JWT (the leaderboard relies on
it); whether the 100 MB cap counts the base64 text (then the raw cap is about 75 MB); the
numeric rate limits; the error body (read as `{"code", "message"}`); what the
`gpu_pipeline_vnext` flag selects (the PR says only that it is the board's configuration).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError, ProviderError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import HTTPProvider, audio_bytes, read_error, reply_json, text_at
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error

DEFAULT_BASE_URL = "https://api.zoom.us/v2"
SECRET_ENV = "ZOOM_API_SECRET"
LIMITS = Limits(100 * 10**6, 2 * 3600.0, "Scribe fast mode")
#: clips up to this long are sent without voice-activity segmentation, as the leaderboard does
SEGMENTATION_OFF_UP_TO = 29.9
JWT_LIFETIME = 3600
TRANSCRIPT = ("result", "text_display")
#: the board's variants and the `config.model` each sends (None: no model field)
VARIANT_MODELS: dict[str, str | None] = {
    "scribe_v1": None,
    "scribe_v2_pro": "zoom-scribe-en-pro",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(key: str, secret: str, now: float, lifetime: int = JWT_LIFETIME) -> str:
    """An HS256 JWT for Zoom AI Services: `iss` = API key, valid for `lifetime` seconds."""
    header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    iat = int(now)
    payload = _b64url(orjson.dumps({"iss": key, "iat": iat, "exp": iat + lifetime}))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


class ZoomProvider(HTTPProvider):
    prefixes = ("zoom",)
    key_env = "ZOOM_API_KEY"
    base_url_env = "ZOOM_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 32
    languages = (("", frozenset({"en"})),)  # the client always sends en-US, as the board's
    limits = LIMITS
    default_timeout = 300.0
    fetches_urls = True
    api_prefix = "/v2"
    resource = "/aiservices/scribe/transcribe"

    def __init__(self, settings: ProviderSettings) -> None:
        if settings.model not in VARIANT_MODELS:
            raise ConfigError(
                f"unknown Zoom model {settings.model!r} in zoom/{settings.model}; use "
                + " or ".join(f"zoom/{v}" for v in VARIANT_MODELS)
            )
        super().__init__(settings)
        self.secret = os.environ.get(SECRET_ENV, "").strip() or None
        self._token: tuple[str, float] | None = None  # (JWT, renew after)

    def secrets(self) -> list[str]:
        return super().secrets() + ([self.secret] if self.secret else [])

    def bearer(self) -> str:
        """The key itself, or a JWT signed with the secret, renewed 5 minutes before expiry."""
        if self.secret is None:
            return self.api_key or ""
        now = time.time()
        if self._token is None or now >= self._token[1]:
            token = make_jwt(self.api_key or "", self.secret, now)
            self._token = (token, now + JWT_LIFETIME - 300)
        return self._token[0]

    def config(self, audio: AudioPayload) -> dict[str, Any]:
        short = audio.duration <= SEGMENTATION_OFF_UP_TO
        config: dict[str, Any] = {
            "language": "en-US",
            "segmentation_mode": "none" if short else "auto",
            "experimental_feature": {"gpu_pipeline_vnext": True},
            "timestamps": True,
        }
        model = VARIANT_MODELS[self.model]
        if model is not None:
            config["model"] = model
        return config

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        self.limits.check(audio, "Zoom")
        if audio.data is None and audio.url:
            file = audio.url
        else:
            encoded = base64.b64encode(audio_bytes(audio)).decode("ascii")
            file = f"data:{audio.mime};base64,{encoded}"
        return {
            "data": orjson.dumps({"file": file, "config": self.config(audio)}),
            "headers": {
                "Authorization": f"Bearer {self.bearer()}",
                "Content-Type": "application/json",
            },
        }

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        return http_error(status, info.message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        return text_at(reply_json(body), TRANSCRIPT, body).strip()
