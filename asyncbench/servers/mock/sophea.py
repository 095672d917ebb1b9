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
from asyncbench.sources.audio import BadAudio

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
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return error(400, f"could not parse multipart form: {exc}")
        if parts is None:
            return error(400, f"expected multipart/form-data, got {request.content_type}")
        sync.record_form(state, NAME, parts)
        refused = _check_form(parts)
        if refused is not None:
            return refused
        clip = parts["file"].data
        if sync.scenario(key) == "rate_limit" and sync.first_attempt(state, NAME, clip):
            retry = {"Retry-After": f"{state.config.retry_after:g}"}
            return error(429, "Too many requests", retry)
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, _ = await sync.listen(state, clip, None)
        except BadAudio as exc:
            return error(400, f"could not decode audio: {exc}")
        await state.wait()
        return web.json_response({"text": text})

    app.router.add_post(PATH, transcribe)
