"""Smallest AI Pulse protocol: `POST /waves/v1/pulse/get_text?language=...` (keys:
`smallestai`).

Strict where the service is (smallest-inc/smallest-ai-documentation
pulse-stt-openapi.yaml@0cdfee4): `Authorization: Bearer <key>` (else 401); the body is the raw
audio as `application/octet-stream` (or an `audio/*` type), or `{"url": ...}` as
`application/json`, which the mock downloads as the service does; any other content type is
a 400; query parameters are the documented ones (anything else → 400); more than 250 MB is a
400 `{"errors": "Audio data too large", "status": "error", "message"}`. The reply is
`{"status": "success", "transcription", "audio_length", "words", "utterances", "metadata"}`.

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-rate_limit` (first attempt of each
clip 429 with `Retry-After`), `mock-no_credit` (every request 402; the real status is
UNCONFIRMED).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "smallestai"
PATH = "/waves/v1/pulse/get_text"
MAX_BYTES = 250_000_000
PARAMS = frozenset(
    {
        "language",
        "encoding",
        "webhook_url",
        "word_timestamps",
        "diarize",
        "format",
        "punctuate",
        "capitalize",
        "model",
    }
)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _reply(text: str, seconds: float, size: int) -> web.Response:
    words = [{"word": w, "start": 0.0, "end": round(seconds, 3)} for w in text.split()]
    body: dict[str, Any] = {
        "status": "success",
        "transcription": text,
        "audio_length": round(seconds, 3),
        "words": words,
        "utterances": [{"text": text, "start": 0.0, "end": round(seconds, 3)}],
        "metadata": {"filename": "audio", "duration": round(seconds, 3), "fileSize": size},
    }
    return web.json_response(body)


def add_routes(app: web.Application, state: MockState) -> None:
    async def get_text(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = state.bearer(request)
        if state.check_key(NAME, key) is not None:
            return error(401, "Unauthorized: invalid API key")
        unknown = sorted(set(request.query) - PARAMS)
        if unknown:
            return error(400, f"unknown query parameter(s): {', '.join(unknown)}")
        body = await request.read()
        url = None
        ctype = request.content_type
        if ctype == "application/json":
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                return error(400, "invalid JSON body")
            url = obj.get("url") if isinstance(obj, dict) else None
            if not isinstance(url, str) or not url:
                return error(400, "JSON body must carry a url")
        elif ctype != "application/octet-stream" and not ctype.startswith("audio/"):
            return error(400, f"unsupported Content-Type {ctype or 'none'}")
        if len(body) > MAX_BYTES:
            return web.json_response(
                {
                    "errors": "Audio data too large",
                    "status": "error",
                    "message": "The audio must be at most 250 MB",
                },
                status=400,
            )
        clip = url.encode() if url else body
        wanted = sync.scenario(key)
        if wanted == "no_credit":
            return error(402, "Insufficient credits")
        if wanted == "rate_limit" and sync.first_attempt(state, NAME, clip):
            return error(
                429,
                "Concurrency limit exceeded",
                headers={"Retry-After": f"{state.config.retry_after:g}"},
            )
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else body, url)
        except FetchFailed as exc:
            return error(400, f"could not fetch the audio url: {exc}")
        except BadAudio as exc:
            return error(400, f"could not decode audio: {exc}")
        await state.wait()
        return _reply(text, seconds, len(body))

    app.router.add_post(PATH, get_text)
