"""Gemini Interactions protocol for transcription: `POST /v1/interactions` (what google-genai
3.3.0 calls) and `/v1beta/interactions` (the docs' curl examples) (keys: `gemini`).

Strict where the docs and the google-genai SDK show the service to be: the key comes in
`x-goog-api-key` (or `?key=`); a missing or wrong one is Google's 400 `INVALID_ARGUMENT`
with the `API_KEY_INVALID` reason. The body is JSON with `model` (a transcribe model, else
404 `NOT_FOUND`), `input` (one `audio` item with base64 `data` and an `audio/*`
`mime_type`, bare or inside one `user_input` step as the SDK wraps it), and optionally
`generation_config.transcription_config.language_codes` (BCP-47 locales such as
`en-US`); an unknown top-level field is a 400 "Unknown name". The reply is
an interaction `{"id", "status": "completed", "model", "usage", "steps": [user_input,
model_output{content: [{"type": "text", "text"}]}]}`; errors are `{"error": {"code",
"message", "status", "details"}}` (the field names follow the SDK's types; the real
service's exact replies are UNCONFIRMED). Each request's locale is counted in
`gemini.locale.<code>`. Key scenario: `mock-rate_limit` (first attempt of each clip 429
`RESOURCE_EXHAUSTED` with a RetryInfo `retryDelay` and no Retry-After header).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.state import MockState

NAME = "gemini"
PATHS = ("/v1/interactions", "/v1beta/interactions")
MODELS = frozenset({"gemini-3.5-transcribe"})
FIELDS = frozenset({"model", "input", "generation_config", "store", "system_instruction"})
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2}|-\d{3})?$")


def error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "status": status, "details": details or []}}
    return web.json_response(body, status=code)


def _bad_key() -> web.Response:
    reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    return error(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [reason]
    )


def _check(body: Any) -> tuple[web.Response | None, bytes, str]:
    """(refusal, the audio, the locale) of a request body."""
    if not isinstance(body, dict):
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), b"", ""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        why = f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        return error(400, "INVALID_ARGUMENT", why), b"", ""
    if body.get("model") not in MODELS:
        why = f"models/{body.get('model')} is not found for API version v1beta"
        return error(404, "NOT_FOUND", why), b"", ""
    items = body.get("input")
    if (
        isinstance(items, list)
        and len(items) == 1
        and isinstance(items[0], dict)
        and items[0].get("type") == "user_input"
    ):
        items = items[0].get("content")  # the SDK's shape: one step holding the content
    audio = (
        [i for i in items if isinstance(i, dict) and i.get("type") == "audio"]
        if isinstance(items, list)
        else []
    )
    if len(audio) != 1 or not str(audio[0].get("mime_type", "")).startswith("audio/"):
        why = "input must hold one audio item with an audio/* mime_type"
        return error(400, "INVALID_ARGUMENT", why), b"", ""
    try:
        data = base64.b64decode(str(audio[0].get("data", "")), validate=True)
    except binascii.Error:
        return error(400, "INVALID_ARGUMENT", "input[0].data is not base64"), b"", ""
    if not data:
        return error(400, "INVALID_ARGUMENT", "input[0].data is empty"), b"", ""
    config = (body.get("generation_config") or {}).get("transcription_config") or {}
    codes = config.get("language_codes", [])
    if not isinstance(codes, list) or not all(
        isinstance(c, str) and _LOCALE.match(c) for c in codes
    ):
        why = f"transcription_config.language_codes must be BCP-47 locales, got {codes!r}"
        return error(400, "INVALID_ARGUMENT", why), b"", ""
    return None, data, codes[0] if codes else "-"


def add_routes(app: web.Application, state: MockState) -> None:
    async def interactions(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if state.check_key(NAME, key) is not None:
            return _bad_key()
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        refused, clip, locale = _check(body)
        if refused is not None:
            return refused
        state.last_request[f"{NAME} body"] = {k: v for k, v in body.items() if k != "input"}
        state.last_request[f"{NAME} path"] = {"path": request.path}
        state.counters[f"{NAME}.locale.{locale}"] += 1
        delay = f"{state.config.retry_after:g}s"
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
        heard = await sync.hear(
            state,
            NAME,
            key,
            clip,
            limited=lambda: error(
                429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.", [retry]
            ),
            undecodable=lambda why: error(
                400, "INVALID_ARGUMENT", f"Unable to process input audio: {why}"
            ),
        )
        if isinstance(heard, web.Response):
            return heard
        text, seconds = heard.text, heard.seconds
        audio_tokens = round(seconds * 32)
        return web.json_response(
            {
                "id": state.new_id("v1_"),
                "status": "completed",
                "model": body["model"],
                "usage": {
                    "total_input_tokens": audio_tokens,
                    "total_output_tokens": len(text.split()),
                    "total_tokens": audio_tokens + len(text.split()),
                },
                "steps": [
                    {"type": "user_input", "content": [{"type": "audio"}]},
                    {"type": "thought", "signature": "mock"},
                    {"type": "model_output", "content": [{"type": "text", "text": text}]},
                ],
            }
        )

    for path in PATHS:
        app.router.add_post(path, interactions)
