"""Meta Muse Voice file transcription, `meta/muse-voice-transcribe`: one multipart POST.

As the leaderboard's open PR #214 sends it (huggingface/open_asr_leaderboard@455b47de
api/providers/meta_provider.py; docs https://dev.meta.ai/docs/speech-to-text):
`POST https://api.meta.ai/v1/asr/transcribe` (the full URL may come from `META_ENDPOINT`),
`Authorization: Bearer $META_API_KEY`, a multipart body of two parts: `request`, a JSON part
(`application/json`, no filename) `{"mode", "model": "muse-voice-transcribe-1.0",
"audioEncoding": "WAV", "languageBias": [<language name>]}`, and `audio`, the WAV. The mode
comes from `META_FILE_MODE` (default `ENDPOINTING`: the PR notes `PUSH_TO_TALK` "leads to
much worse results"); `languageBias` takes language names ("German"), sent only for the
languages the PR maps. The transcript is the reply's `transcript`, else its `turns[]`
transcripts joined.

Clips over 600 s are refused before sending (the endpoint's documented cap); the PR refuses
URL mode (`--use_url` downloads and uploads the bytes). 429 is retried, 401/403 stop the
run, other 4xx are permanent, 5xx retried. The streaming variant is `meta_stream.py`.
UNCONFIRMED (open PR): the error body shape, rate limits, and which modes exist besides
ENDPOINTING, PUSH_TO_TALK and DIARIZATION.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError, ProviderError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import HTTPProvider, api_url, audio_bytes, read_error, reply_json
from asyncbench.providers.base import AudioPayload, ProviderSettings, excerpt, http_error

DEFAULT_BASE_URL = "https://api.meta.ai"
ENDPOINT_ENV = "META_ENDPOINT"
MODE_ENV = "META_FILE_MODE"
DEFAULT_MODE = "ENDPOINTING"
#: the board's model names → the API's versioned model
API_MODELS = {
    "muse-voice-transcribe": "muse-voice-transcribe-1.0",
    "muse-voice-transcribe-streaming": "muse-voice-transcribe-1.0",
}
#: `languageBias` takes names, not codes (the PR's table)
LANGUAGE_NAMES = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
}
MAX_SECONDS = 600.0


def env_value(name: str, default: str) -> str:
    """A variable's value, an empty one counting as unset (the board's scripts pass
    `-e VAR="${VAR:-}"`, and an empty `mode` is a 400 "Malformed request")."""
    value = os.environ.get(name, "").strip()
    return value or default


def api_model(model: str, allowed: tuple[str, ...]) -> str:
    """The API's model for a board model name served by this client, or one line naming
    the board's names."""
    if model not in allowed:
        names = " or ".join(f"meta/{m}" for m in API_MODELS)
        if model in API_MODELS:  # the other transport's name, reached without the registry
            raise ConfigError(f"meta/{model} is served by the other Meta client; use {names}")
        raise ConfigError(f"unknown Meta model {model!r} in meta/{model}; use {names}")
    return API_MODELS[model]


def language_bias(language: str) -> list[str]:
    """`["German"]` for `de`; [] for a language the board's table does not name."""
    name = LANGUAGE_NAMES.get(language.strip().lower().split("-")[0])
    return [name] if name else []


def transcript_of(reply: Any, body: bytes) -> str:
    """The reply's `transcript`, else its turns' transcripts joined."""
    if not isinstance(reply, dict):
        raise TransientError("bad_response", f"reply is not an object: {excerpt(body)}")
    text = reply.get("transcript")
    if isinstance(text, str) and text.strip():
        return text.strip()
    turns = reply.get("turns")
    if text is None and not isinstance(turns, list):
        raise TransientError("bad_response", f"no transcript in reply: {excerpt(body)}")
    parts = [
        t["transcript"].strip()
        for t in turns or []
        if isinstance(t, dict) and isinstance(t.get("transcript"), str) and t["transcript"].strip()
    ]
    return " ".join(parts)


class MetaProvider(HTTPProvider):
    prefixes = ("meta",)
    key_env = "META_API_KEY"
    base_url_env = "META_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 8
    default_timeout = 600.0
    limits = Limits(max_seconds=MAX_SECONDS, source="Meta's file transcription cap")
    api_prefix = "/v1"
    resource = "/asr/transcribe"

    def __init__(self, settings: ProviderSettings) -> None:
        self.api_model = api_model(settings.model, ("muse-voice-transcribe",))
        super().__init__(settings)
        endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
        chosen = settings.base_url or os.environ.get(self.base_url_env or "", "").strip()
        if endpoint and not chosen:
            try:
                self.url = api_url(endpoint, self.api_prefix, self.resource)
            except ConfigError as exc:
                raise ConfigError(f"{ENDPOINT_ENV}: {exc}") from None
        self.config: dict[str, Any] = {
            "mode": env_value(MODE_ENV, DEFAULT_MODE).upper(),
            "model": self.api_model,
            "audioEncoding": "WAV",
        }
        bias = language_bias(settings.language)
        if bias:
            self.config["languageBias"] = bias
        self._headers = {"Authorization": f"Bearer {self.api_key}"}

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        import aiohttp

        self.limits.check(audio, "Meta")
        form = aiohttp.FormData(default_to_multipart=True)
        # a str, not bytes: aiohttp names a bytes part like a file, and the part must not be one
        config = orjson.dumps(self.config).decode()
        form.add_field("request", config, content_type="application/json")
        form.add_field("audio", audio_bytes(audio), filename="audio.wav", content_type="audio/wav")
        return {"data": form, "headers": self._headers}

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        return http_error(status, read_error(body).message, headers, key_env=self.key_env)

    def parse(self, body: bytes, content_type: str) -> str:
        return transcript_of(reply_json(body, content_type), body)
