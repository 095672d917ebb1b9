"""Modulate Velma-2 batch protocol: `POST /api/velma-2-stt-batch-{english,multilingual}-vfast`
(keys: `modulate`).

Strict where the service is (docs.modulate.ai api-reference/stt/batch-english-vfast,
guides/authentication, guides/troubleshooting): the key comes in `X-API-Key` (an
`Authorization` header is no key → 401); the body must be multipart with a non-empty
`upload_file` part (else 400), at most 100 MB (else 413); the multilingual endpoint takes an
optional `language` field, a lower-case ISO code (else 400); any other form field is refused
(400), so a client sending options the API does not have is caught. The reply is `{"text",
"duration_ms"}`; errors are `{"detail": "..."}` (the real body shape is UNCONFIRMED).

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-concurrency_limit` (first attempt of
each clip 429 with `Retry-After`), `mock-quota` (every request 403: quota used up).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.state import MockState

NAME = "modulate"
ENGLISH = "/api/velma-2-stt-batch-english-vfast"
MULTILINGUAL = "/api/velma-2-stt-batch-multilingual-vfast"
MAX_BYTES = 100_000_000
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": message}, status=status, headers=headers)


def _check_form(parts: sync.Parts, multilingual: bool) -> web.Response | None:
    allowed = {"upload_file", "language"} if multilingual else {"upload_file"}
    unknown = sorted(set(parts) - allowed)
    if unknown:
        return error(400, f"unexpected form field(s): {', '.join(unknown)}")
    upload = parts.get("upload_file")
    if upload is None or upload.filename is None:
        return error(400, "upload_file is required (a file part)")
    if not upload.data:
        return error(400, "upload_file is empty")
    if len(upload.data) > MAX_BYTES:
        return error(413, "file exceeds the 100 MB limit")
    language = sync.form_text(parts, "language")
    if language is not None and not _LANGUAGE.match(language):
        return error(400, f"language {language!r} must be a lower-case ISO code such as 'de'")
    return None


def handler(state: MockState, multilingual: bool) -> Callable[[web.Request], Any]:
    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        state.last_request[f"{NAME} path"] = {"path": request.path}
        key = request.headers.get("X-API-Key", "").strip() or None
        if state.check_key(NAME, key) is not None:
            return error(401, "Invalid or missing API key")
        parts = await sync.recorded_form(state, NAME, request, lambda why: error(400, why))
        if isinstance(parts, web.Response):
            return parts
        refused = _check_form(parts, multilingual)
        if refused is not None:
            return refused
        if sync.scenario(key) == "quota":
            return error(403, "Usage quota exceeded for this API key")
        heard = await sync.hear(
            state,
            NAME,
            key,
            parts["upload_file"].data,
            limited=lambda: error(429, "Concurrency limit reached", sync.retry_after(state)),
            undecodable=lambda why: error(400, f"could not decode audio: {why}"),
            when="concurrency_limit",
        )
        if isinstance(heard, web.Response):
            return heard
        return web.json_response({"text": heard.text, "duration_ms": round(heard.seconds * 1000)})

    return transcribe


def add_routes(app: web.Application, state: MockState) -> None:
    app.router.add_post(ENGLISH, handler(state, multilingual=False))
    app.router.add_post(MULTILINGUAL, handler(state, multilingual=True))
