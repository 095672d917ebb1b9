"""Reson8 prerecorded protocol (keys: `reson8`): `POST /v1/auth/token`, then
`POST /v1/speech-to-text/prerecorded`.

Strict where the service is (docs.reson8.dev api/auth/token, api/speech-to-text/prerecorded):
the token request needs `Authorization: ApiKey <key>` (else 401) and answers `{access_token,
token_type: "Bearer", expires_in: 600}`; a transcription needs `Authorization: Bearer <a token
this mock issued and that has not expired>` or `ApiKey <key>` (else 401); the body is the raw
audio (a JSON or form body → 415); query parameters are the documented ones (plus `model`,
which the leaderboard sends) and anything else is a 400, as are a bad `encoding` or a
non-boolean flag. The reply is `{"text", "duration"}`.

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-revoke` (each token is revoked after
its first use, so a client must buy a new one and send the next clip again),
`mock-rate_limit` (first attempt of each clip 429 with `Retry-After`), `mock-no_credit`
(every transcription 402).
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "reson8"
TOKEN_PATH = "/v1/auth/token"
PATH = "/v1/speech-to-text/prerecorded"
TOKEN_LIFE = 600
PARAMS = frozenset(
    {
        "encoding",
        "sample_rate",
        "channels",
        "language",
        "custom_model_id",
        "include_timestamps",
        "include_words",
        "include_confidence",
        "diarize",
        "max_speakers",
        "model",
    }
)
ENCODINGS = frozenset({"auto", "pcm_s16le", "wav", "flac", "mp3", "ogg", "webm", "m4a"})
FLAGS = ("include_timestamps", "include_words", "include_confidence", "diarize")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def add_routes(app: web.Application, state: MockState) -> None:
    #: token -> (the key it was bought with, monotonic expiry, used already)
    tokens: dict[str, list] = {}

    def api_key(request: web.Request) -> str | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return value.strip() or None if scheme == "ApiKey" else None

    async def token(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.tokens"] += 1
        state.last_request[f"{NAME} token"] = dict(request.headers)
        key = api_key(request)
        if state.check_key(NAME, key) is not None:
            return error(401, "Invalid API key")
        value = secrets.token_urlsafe(24)
        tokens[value] = [key, time.monotonic() + TOKEN_LIFE, False]
        return web.json_response(
            {"access_token": value, "token_type": "Bearer", "expires_in": TOKEN_LIFE}
        )

    def authorized(request: web.Request) -> str | None:
        """The API key behind the request's credentials, None when they are refused."""
        key = api_key(request)
        if key is not None:
            return key if state.check_key(NAME, key) is None else None
        presented = state.bearer(request)
        entry = tokens.get(presented or "")
        if entry is None or time.monotonic() > entry[1]:
            return None
        if sync.scenario(entry[0]) == "revoke" and entry[2]:
            del tokens[presented or ""]
            return None
        entry[2] = True
        return str(entry[0])

    async def transcribe(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = authorized(request)
        if key is None:
            state.counters[f"{NAME}.401"] += 1
            return error(401, "Invalid or expired access token")
        unknown = sorted(set(request.query) - PARAMS)
        if unknown:
            return error(400, f"unknown query parameter(s): {', '.join(unknown)}")
        encoding = request.query.get("encoding", "auto")
        if encoding not in ENCODINGS:
            return error(400, f"unsupported encoding {encoding!r}")
        for flag in FLAGS:
            if request.query.get(flag, "false") not in ("true", "false"):
                return error(400, f"{flag} must be true or false")
        if request.content_type in ("application/json", "multipart/form-data") or (
            request.content_type == "application/x-www-form-urlencoded"
        ):
            return error(415, f"expected the raw audio bytes, got {request.content_type}")
        body = await request.read()
        if not body:
            return error(400, "empty audio body")
        wanted = sync.scenario(key)
        if wanted == "no_credit":
            return error(402, "Insufficient credit")
        if wanted == "rate_limit" and sync.first_attempt(state, NAME, body):
            return error(
                429, "Too many requests", headers={"Retry-After": f"{state.config.retry_after:g}"}
            )
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, body, None)
        except BadAudio as exc:
            return error(400, f"could not decode audio: {exc}")
        await state.wait()
        return web.json_response({"text": text, "duration": round(seconds, 3)})

    app.router.add_post(TOKEN_PATH, token)
    app.router.add_post(PATH, transcribe)
