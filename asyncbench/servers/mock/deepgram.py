"""Deepgram protocol: `POST /v1/listen?model=...&language=...&smart_format=...` (keys: `deepgram`).

Strict where the service is: `Authorization: Token <key>` (Bearer or no scheme → 401
INVALID_AUTH); the body is raw audio unless `Content-Type: application/json`, in which case it
must be `{"url": ...}` and the mock downloads that URL. So a URL sent as JSON *without* that
header is read as audio and fails as it does at Deepgram: 400 "failed to process audio:
corrupt or unsupported data". Errors come in both documented shapes: `{"err_code",
"err_msg", "request_id"}` and `{"category", "message", "details", "request_id"}`. A
`language` that is not a tag it knows (ISO 639-1, with or without a region, or `multi`) is
400 "No such model/language/tier combination found"; each request's language is counted in
`state.counters["deepgram.language.<code>"]`.

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-rate_limit` (first attempt of each clip
429), `mock-insufficient_credits` (every request 402).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from asyncbench.core.languages import ISO639_1, primary_subtag
from asyncbench.servers.mock import models as model_lists
from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "deepgram"
PATH = "/v1/listen"
CORRUPT = "failed to process audio: corrupt or unsupported data"
_FLAGS = ("smart_format", "punctuate", "diarize", "utterances", "paragraphs")


def error(status: int, code: str, message: str) -> web.Response:
    body = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
    return web.json_response(body, status=status)


def problem(status: int, category: str, message: str, details: str) -> web.Response:
    body = {
        "category": category,
        "message": message,
        "details": details,
        "request_id": str(uuid.uuid4()),
    }
    return web.json_response(body, status=status)


def _url_of(body: bytes) -> tuple[str | None, web.Response | None]:
    """The `url` of a JSON request body, or the 400 Deepgram gives for a bad one."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, error(
            400,
            "Bad Request",
            "Content-type was application/json, but we could not process the JSON payload.",
        )
    url = obj.get("url") if isinstance(obj, dict) else None
    if not isinstance(url, str) or not url:
        return None, problem(
            400,
            "INVALID_JSON",
            "Invalid JSON submitted.",
            "Json deserialize error: missing field `url` at line 1 column 1",
        )
    return url, None


#: the version the mock says its models are (a real reply names a dated build)
MODEL_VERSION = "2026-01-01.0"


def _reply(request: web.Request, text: str, seconds: float) -> web.Response:
    model = request.query.get("model", "base")
    words = [
        {"word": w.lower().strip(".,?!"), "punctuated_word": w, "confidence": 0.99}
        for w in text.split()
    ]
    body: dict[str, Any] = {
        "metadata": {
            "request_id": str(uuid.uuid4()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(seconds, 3),
            "channels": 1,
            "models": [str(uuid.uuid5(uuid.NAMESPACE_URL, model))],
            # what the API ran, keyed by the model's uuid (the version is the mock's own)
            "model_info": {
                str(uuid.uuid5(uuid.NAMESPACE_URL, model)): {
                    "name": model,
                    "version": MODEL_VERSION,
                    "arch": model,
                }
            },
        },
        "results": {
            "channels": [
                {"alternatives": [{"transcript": text, "confidence": 0.99, "words": words}]}
            ]
        },
    }
    return web.json_response(body)


def add_routes(app: web.Application, state: MockState) -> None:
    async def listen(request: web.Request) -> web.Response:
        state.record(NAME, request)
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        presented = key.strip() if scheme == "Token" else None
        if state.check_key(NAME, presented or None) is not None:
            return error(401, "INVALID_AUTH", "Invalid credentials.")
        for flag in _FLAGS:
            value = request.query.get(flag)
            if value is not None and value not in ("true", "false"):
                return error(400, "Bad Request", f"Invalid query string: {flag}={value}")
        if model_lists.unknown(state.config.strict_models, NAME, request.query.get("model")):
            return error(
                400, "Bad Request", "Bad Request: No such model/language/tier combination found."
            )
        language = request.query.get("language")
        known = language in (None, "multi") or primary_subtag(language or "") in ISO639_1
        if not known:
            return error(
                400, "Bad Request", "Bad Request: No such model/language/tier combination found."
            )
        state.counters[f"{NAME}.language.{language or '-'}"] += 1
        body = await request.read()
        url = None
        if request.content_type == "application/json":
            url, refused = _url_of(body)
            if refused is not None:
                return refused
        clip = url.encode() if url else body
        wanted = sync.scenario(presented)
        if wanted == "insufficient_credits":
            return error(
                402,
                "ASR_PAYMENT_REQUIRED",
                "Project does not have enough credits for an ASR request.",
            )
        if wanted == "rate_limit" and sync.first_attempt(state, NAME, clip):
            return error(429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.")
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else body, url)
        except FetchFailed as exc:
            return error(400, "REMOTE_CONTENT_ERROR", f"Failed to download the media: {exc}")
        except BadAudio:
            return error(
                400,
                "Bad Request",
                "Bad Request: failed to process audio: corrupt or unsupported data",
            )
        await state.wait()
        return _reply(request, text, seconds)

    app.router.add_post(PATH, listen)
