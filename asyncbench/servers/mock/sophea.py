"""Sophea ASR protocol: `POST /v1/transcribe` (keys: `sophea`).

Strict where the leaderboard's client (open PR #201) shows the service to be: the key comes
in `X-API-Key` (an `Authorization` header is no key → 401); the body is multipart with a
non-empty `file` part, `model` (`asr-k1`, else 404) and `language` (`en` or `de`, else 400);
any other field is refused (400). The reply is `{"text"}`; errors are `{"detail": "..."}`
(the real shapes are UNCONFIRMED: no public reference). Key scenario: `mock-rate_limit` (first
attempt of each clip 429 with Retry-After).
"""

from __future__ import annotations

from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.state import MockState

NAME = "sophea"
PATH = "/v1/transcribe"
MODELS = frozenset({"asr-k1"})
LANGUAGES = frozenset({"en", "de"})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": message}, status=status, headers=headers)


def _check_form(parts: sync.Parts) -> web.Response | None:
    unknown = sorted(set(parts) - {"file", "model", "language"})
    if unknown:
        return error(400, f"unexpected form field(s): {', '.join(unknown)}")
    upload = parts.get("file")
    if upload is None or upload.filename is None or not upload.data:
        return error(400, "file is required (a non-empty file part)")
    model = sync.form_text(parts, "model")
    if model not in MODELS:
        return error(404, f"unknown model {model!r}")
    language = sync.form_text(parts, "language")
    if language not in LANGUAGES:
        return error(400, f"language {language!r} is not supported; use en or de")
    return None


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.record(NAME, request)
        key = request.headers.get("X-API-Key", "").strip() or None
        if state.check_key(NAME, key) is not None:
            return error(401, "Invalid API key")
        parts = await sync.recorded_form(state, NAME, request, lambda why: error(400, why))
        if isinstance(parts, web.Response):
            return parts
        refused = _check_form(parts)
        if refused is not None:
            return refused
        heard = await sync.hear(
            state,
            NAME,
            key,
            parts["file"].data,
            limited=lambda: error(429, "Too many requests", sync.retry_after(state)),
            undecodable=lambda why: error(400, f"could not decode audio: {why}"),
        )
        if isinstance(heard, web.Response):
            return heard
        return web.json_response({"text": heard.text})

    app.router.add_post(PATH, transcribe)
