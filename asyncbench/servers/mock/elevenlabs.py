"""ElevenLabs protocol: `POST /v1/speech-to-text` (keys: `elevenlabs`).

Strict where the service is: the key comes in `xi-api-key` (an `Authorization` header alone is
no key → 401); the body must be multipart (else 400); a missing `model_id`, or neither `file`
nor a URL (`source_url`, the SDK's current name, or the deprecated `cloud_storage_url`), or a
non-boolean `tag_audio_events`, is a 422 validation error with
a FastAPI `detail` list; a `language_code` that is neither ISO 639-1 nor one of Scribe's
ISO 639-3 codes is a 400 `invalid_language_code`; other errors are `{"detail": {"status",
"message"}}`. Each request's `language_code` is counted in
`state.counters["elevenlabs.language.<code>"]` ("-" when none was sent: auto-detect).

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-too_many_concurrent_requests` and
`mock-system_busy` (first attempt of each clip 429 with that `detail.status`),
`mock-quota_exceeded` (every request 401 `quota_exceeded`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from asyncbench.core.languages import ISO639_1
from asyncbench.core.service_languages import ISO639_3
from asyncbench.servers.mock import models as model_lists
from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "elevenlabs"
PATH = "/v1/speech-to-text"
_BOOLS = {"true": True, "false": False}
_BUSY = {
    "too_many_concurrent_requests": "Too many concurrent requests. Your subscription allows "
    "a limited number of concurrent requests; wait for one to finish or upgrade.",
    "system_busy": "We're experiencing high traffic right now, please try again later.",
}


_THREE_LETTER = frozenset(ISO639_3.values())


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"detail": {"status": code, "message": message}}, status=status)


def invalid(field: str, kind: str, message: str) -> web.Response:
    """A FastAPI 422, as ElevenLabs answers bad form fields."""
    detail = [{"type": kind, "loc": ["body", field], "msg": message, "input": None}]
    return web.json_response({"detail": detail}, status=422)


def _check_form(parts: sync.Parts) -> web.Response | None:
    if not sync.form_text(parts, "model_id"):
        return invalid("model_id", "missing", "Field required")
    for flag in ("tag_audio_events", "diarize", "webhook"):
        value = sync.form_text(parts, flag)
        if value is not None and value.lower() not in _BOOLS:
            return invalid(
                flag, "bool_parsing", "Input should be a valid boolean, unable to interpret input"
            )
    language = sync.form_text(parts, "language_code")
    if language is not None and language not in ISO639_1 and language not in _THREE_LETTER:
        return error(
            400,
            "invalid_language_code",
            f"language_code '{language}' is not a supported ISO 639-1 or ISO 639-3 code.",
        )
    if ("file" in parts) == bool(source_url(parts)):
        return error(
            400,
            "invalid_parameters",
            "Exactly one of file, source_url or cloud_storage_url must be provided.",
        )
    return None


def source_url(parts: Any) -> str | None:
    """The URL to fetch: `source_url` (the official SDK's current field) or the deprecated
    `cloud_storage_url`."""
    return sync.form_text(parts, "source_url") or sync.form_text(parts, "cloud_storage_url")


def _words(text: str, seconds: float) -> list[dict[str, Any]]:
    tokens = text.split()
    step = seconds / max(1, len(tokens))
    words: list[dict[str, Any]] = []
    for i, token in enumerate(tokens):
        if i:
            words.append({"text": " ", "type": "spacing", "start": i * step, "end": i * step})
        words.append({"text": token, "type": "word", "start": i * step, "end": (i + 1) * step})
    return words


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        key = request.headers.get("xi-api-key", "").strip() or None
        if state.check_key(NAME, key) is not None:
            if key is None:
                return error(
                    401,
                    "needs_authorization",
                    "Neither authorization header nor xi-api-key received, please provide one.",
                )
            return error(401, "invalid_api_key", "Invalid API key")
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return error(400, "invalid_content", f"could not parse multipart form: {exc}")
        if parts is None:
            return error(
                400,
                "invalid_content_type",
                f"expected multipart/form-data, got {request.content_type}",
            )
        sync.record_form(state, NAME, parts)
        refused = _check_form(parts)
        model_id = sync.form_text(parts, "model_id")
        if refused is None and model_lists.unknown(state.config.strict_models, NAME, model_id):
            refused = error(
                400, "invalid_model_id", f"Model '{model_id}' is not a speech-to-text model."
            )
        if refused is not None:
            return refused
        state.counters[f"{NAME}.language.{sync.form_text(parts, 'language_code') or '-'}"] += 1
        url = source_url(parts) if "file" not in parts else None
        clip = url.encode() if url else parts["file"].data
        wanted = sync.scenario(key)
        if wanted == "quota_exceeded":
            return error(
                401,
                "quota_exceeded",
                "This request exceeds your quota. You have 0 credits remaining.",
            )
        if wanted in _BUSY and sync.first_attempt(state, NAME, clip):
            return error(429, wanted, _BUSY[wanted])
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else clip, url)
        except FetchFailed as exc:
            return error(400, "invalid_cloud_storage_url", f"could not fetch the file: {exc}")
        except BadAudio as exc:
            return error(400, "invalid_content", f"the file could not be decoded: {exc}")
        await state.wait()
        return web.json_response(
            {
                "language_code": "eng",
                "language_probability": 0.99,
                "text": text,
                "words": _words(text, seconds),
            }
        )

    app.router.add_post(PATH, transcribe)
