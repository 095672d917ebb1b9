"""Aldea's public API: `POST /v1/listen`, Deepgram-compatible (keys: `aldea_listen`).

Served here under `/aldea/v1/listen`, because this one server also speaks Deepgram, whose
`/v1/listen` takes that path: point a run at it with `--aldea_endpoints
http://127.0.0.1:<port>/aldea --aldea_api listen`.

Strict where the service is (platform.aldea.ai/docs/stt-api-reference/pre-recorded-audio,
/docs/errors): `Authorization: Bearer <key>` (`Token` or none → 401); the body is raw audio
(format detected from the bytes) or, with `Content-Type: application/json`, `{"url": ...}`,
which the mock downloads; query parameters are the documented ones (`language`/`lang`,
`diarization`, `callback`, `callback_method`, `metadata`) and anything else is a 400; clips over
600 s → 413. The reply is Deepgram's shape, `metadata` + `results.channels[0].alternatives[0]
.transcript` (the exact Aldea field set is UNCONFIRMED); errors are `{"error", "request_id"}`.

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-rate_limit` (first attempt of each
clip 429 with `Retry-After`).
"""

from __future__ import annotations

import uuid

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "aldea_listen"
PATH = "/aldea/v1/listen"
MAX_SECONDS = 600.0
PARAMS = frozenset({"language", "lang", "diarization", "callback", "callback_method", "metadata"})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": message, "request_id": str(uuid.uuid4())}
    return web.json_response(body, status=status, headers=headers)


def add_routes(app: web.Application, state: MockState) -> None:
    async def listen(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = state.bearer(request)
        if state.check_key(NAME, key) is not None:
            return error(401, "Invalid or missing API key")
        unknown = sorted(set(request.query) - PARAMS)
        if unknown:
            return error(400, f"unknown query parameter(s): {', '.join(unknown)}")
        if request.query.get("diarization", "false") not in ("true", "false"):
            return error(400, "diarization must be true or false")
        body = await request.read()
        url = None
        if request.content_type == "application/json":
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                return error(400, "invalid JSON body")
            url = obj.get("url") if isinstance(obj, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return error(400, "url must be a valid HTTP or HTTPS URL")
        clip = url.encode() if url else body
        if sync.scenario(key) == "rate_limit" and sync.first_attempt(state, NAME, clip):
            retry = f"{state.config.retry_after:g}"
            return error(429, "Rate limit exceeded", headers={"Retry-After": retry})
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else body, url)
        except FetchFailed as exc:
            return error(400, f"could not fetch the audio url: {exc}")
        except BadAudio as exc:
            return error(415, f"unsupported or corrupt audio: {exc}")
        if seconds > MAX_SECONDS:
            return error(413, f"audio is longer than {MAX_SECONDS:g} s")
        await state.wait()
        request_id = str(uuid.uuid4())
        return web.json_response(
            {
                "metadata": {
                    "request_id": request_id,
                    "duration": round(seconds, 3),
                    "channels": 1,
                },
                "results": {
                    "channels": [{"alternatives": [{"transcript": text, "confidence": 0.99}]}]
                },
            }
        )

    app.router.add_post(PATH, listen)
