"""Meta Muse Voice file transcription protocol: `POST /v1/asr/transcribe` (keys: `meta`).

Strict where the leaderboard's client (open PR #214) and https://dev.meta.ai/docs/speech-to-text
show the service to be: `Authorization: Bearer <key>` (else 401); a multipart body of exactly
two parts, `request` (a JSON part with its `application/json` type and no filename) and
`audio` (a file part); `request` holds `mode` (ENDPOINTING, PUSH_TO_TALK or DIARIZATION),
`model` (`muse-voice-transcribe-1.0`), `audioEncoding` (`WAV`) and optionally `languageBias`
(a list of language names such as "German"); anything else is a 400 "Malformed request".
Audio over 600 s is refused (400). The reply is `{"transcript", "turns": [{"transcript"}]}`;
errors are `{"error": {"message", "code"}}` (UNCONFIRMED shapes). Each request's mode is
counted in `meta.mode.<MODE>`. Key scenario: `mock-rate_limit` (first attempt of each clip
429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.state import MockState

NAME = "meta"
PATH = "/v1/asr/transcribe"
MODES = frozenset({"ENDPOINTING", "PUSH_TO_TALK", "DIARIZATION"})
API_MODEL = "muse-voice-transcribe-1.0"
LANGUAGE_NAMES = frozenset(
    {"English", "German", "Spanish", "French", "Hindi", "Italian", "Dutch", "Portuguese"}
)
MAX_SECONDS = 600.0


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "code": status}}
    return web.json_response(body, status=status, headers=headers)


def check_config(config: Any, encoding: str) -> str | None:
    """Why a `request` config (or a streaming handshake's options) is malformed, else None."""
    if not isinstance(config, dict):
        return "request must be a JSON object"
    if config.get("mode") not in MODES:
        return f"mode must be one of {sorted(MODES)}"
    if config.get("model") != API_MODEL:
        return f"unknown model {config.get('model')!r}"
    if config.get("audioEncoding") != encoding:
        return f"audioEncoding must be {encoding}"
    bias = config.get("languageBias", [])
    if not isinstance(bias, list) or not all(b in LANGUAGE_NAMES for b in bias):
        return f"languageBias takes language names such as 'German', got {bias!r}"
    return None


def _check_form(parts: sync.Parts) -> tuple[str | None, dict[str, Any]]:
    if sorted(parts) != ["audio", "request"]:
        return f"expected the parts request and audio, got {sorted(parts)}", {}
    request, audio = parts["request"], parts["audio"]
    if request.filename is not None or request.content_type != "application/json":
        return "the request part must be JSON (application/json) without a filename", {}
    if audio.filename is None or not audio.data:
        return "the audio part must be a non-empty file", {}
    try:
        config = orjson.loads(request.data)
    except orjson.JSONDecodeError:
        return "the request part is not JSON", {}
    unknown = sorted(set(config) - {"mode", "model", "audioEncoding", "languageBias"})
    if unknown:
        return f"unknown request field(s): {', '.join(unknown)}", config
    return check_config(config, "WAV"), config


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = state.bearer(request)
        if state.check_key(NAME, key) is not None:
            return error(401, "Invalid OAuth access token")
        parts = await sync.recorded_form(
            state, NAME, request, lambda why: error(400, f"Malformed request: {why}")
        )
        if isinstance(parts, web.Response):
            return parts
        why, config = _check_form(parts)
        if why is not None:
            return error(400, f"Malformed request: {why}")
        state.last_request[f"{NAME} request"] = config
        state.counters[f"{NAME}.mode.{config['mode']}"] += 1
        heard = await sync.hear(
            state,
            NAME,
            key,
            parts["audio"].data,
            limited=lambda: error(429, "Rate limit exceeded", sync.retry_after(state)),
            undecodable=lambda why: error(400, f"Could not decode audio: {why}"),
        )
        if isinstance(heard, web.Response):
            return heard
        if heard.seconds > MAX_SECONDS:
            return error(400, f"Audio is {heard.seconds:.0f} s; the limit is {MAX_SECONDS:g} s")
        text = heard.text
        return web.json_response({"transcript": text, "turns": [{"transcript": text}]})

    app.router.add_post(PATH, transcribe)
