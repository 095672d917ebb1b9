"""Soniox async protocol: `/v1/files`, `/v1/transcriptions[/{id}[/transcript]]` (keys: `soniox`).

Strict where the service is (reference/PROTOCOLS-2026.md §A1): `Authorization: Bearer <key>`
(any other shape → 401 `unauthenticated`); `POST /v1/files` must be multipart with a `file`
part; `POST /v1/transcriptions` must be JSON with a string `model`, exactly one of `file_id`
(a file of this account) and `audio_url`, and only documented fields (anything else → 400
with `validation_errors`); a transcription is `queued` when created, `processing` once it has
been looked at, then `completed` or `error` (`error_type`, `error_message`); its transcript
exists only once it is completed. Deletes answer 204 and the resource is gone (404) after.
Error bodies: `{status_code, error_type, message, validation_errors, request_id}`.

Counters: `soniox.files`, `soniox.jobs`, `soniox.deleted_files`,
`soniox.deleted_transcriptions` (so a test can see that nothing was left stored).
Key scenario (see `asyncbench.servers.mock.sync`): `mock-no_balance` (every request 402).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from asyncbench.servers.mock import jobs, sync
from asyncbench.servers.mock.state import MockState

NAME = "soniox"
PREFIX = "/v1"

#: fields of the create-transcription body (soniox-python types/api.py)
FIELDS = frozenset(
    {
        "model",
        "file_id",
        "audio_url",
        "language_hints",
        "language_hints_strict",
        "enable_speaker_diarization",
        "enable_language_identification",
        "context",
        "translation",
        "webhook_url",
        "webhook_auth_header_name",
        "webhook_auth_header_value",
        "client_reference_id",
    }
)
_FLAGS = ("language_hints_strict", "enable_speaker_diarization", "enable_language_identification")

_ERRORS = {
    jobs.BAD_AUDIO: ("audio_decode_error", "Unable to decode the audio: {detail}"),
    jobs.FETCH: ("audio_fetch_error", "Failed to download audio from {url}: {detail}"),
    jobs.TOO_SHORT: ("audio_decode_error", "Audio is too short: {detail}"),
    jobs.INTERNAL: ("internal_error", "Internal error while transcribing; please retry."),
}


def error(status: int, error_type: str, message: str, **fields: Any) -> web.Response:
    body = {
        "status_code": status,
        "error_type": error_type,
        "message": message,
        "validation_errors": [],
        "request_id": str(uuid.uuid4()),
        **fields,
    }
    return web.json_response(body, status=status)


def invalid(location: str, message: str) -> web.Response:
    return error(
        400,
        "invalid_request",
        f"Invalid request: {location}: {message}",
        validation_errors=[
            {"error_type": "invalid_value", "location": location, "message": message}
        ],
    )


def _created() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def add_routes(app: web.Application, state: MockState) -> None:
    runner = jobs.JobRunner(app, state, NAME)
    files: dict[str, dict[str, Any]] = {}

    def gate(request: web.Request) -> web.Response | None:
        jobs.note(state, NAME, request)
        key = state.bearer(request)
        if state.check_key(NAME, key) is not None:
            return error(401, "unauthenticated", "Invalid API key.")
        if sync.scenario(key) == "no_balance":
            return error(402, "insufficient_balance", "Your organization has no balance left.")
        return state.fault(NAME)

    def not_found(what: str) -> web.Response:
        return error(404, "not_found", f"{what} not found.")

    async def upload(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return error(400, "invalid_request", f"Malformed multipart body: {exc}")
        if parts is None:
            return error(400, "invalid_request", "Expected a multipart/form-data body.")
        part = parts.get("file")
        if part is None or part.filename is None:
            return invalid("body.file", "a file part named 'file' is required")
        if not part.data:
            return invalid("body.file", "the file is empty")
        file_id = str(uuid.uuid4())
        files[file_id] = {
            "id": file_id,
            "filename": part.filename,
            "size": len(part.data),
            "created_at": _created(),
            "client_reference_id": None,
            "data": part.data,
        }
        state.counters[f"{NAME}.files"] += 1
        view = {k: v for k, v in files[file_id].items() if k != "data"}
        return web.json_response(view, status=201)

    def check_body(body: dict[str, Any]) -> web.Response | None:
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            return invalid(f"body.{unknown[0]}", "unknown field")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return invalid("body.model", "field required")
        if len(body["model"]) > 32 or not body["model"].startswith("stt-async"):
            return invalid("body.model", f"model {body['model']!r} is not an async model")
        if ("file_id" in body) == ("audio_url" in body):
            return invalid("body", "exactly one of file_id and audio_url is required")
        hints = body.get("language_hints", [])
        if not isinstance(hints, list) or not all(isinstance(h, str) and h for h in hints):
            return invalid("body.language_hints", "must be a list of language codes")
        for flag in _FLAGS:
            if flag in body and not isinstance(body[flag], bool):
                return invalid(f"body.{flag}", "must be a boolean")
        return None

    async def create(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body, why = await jobs.json_object(request)
        if body is None:
            return error(400, "invalid_request", why)
        if (refused := check_body(body)) is not None:
            return refused
        extra = {
            "model": body["model"],
            "language_hints": body.get("language_hints"),
            "enable_speaker_diarization": body.get("enable_speaker_diarization", False),
            "enable_language_identification": body.get("enable_language_identification", False),
            "file_id": body.get("file_id"),
            "audio_url": body.get("audio_url"),
            "created_at": _created(),
            "looked_at": False,
            "deleted": False,
        }
        if "file_id" in body:
            stored = files.get(str(body["file_id"]))
            if stored is None:
                return invalid("body.file_id", "file not found")
            job = runner.start(audio=stored["data"], extra=extra | {"filename": stored["filename"]})
        else:
            url = body["audio_url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return invalid("body.audio_url", "must be an http(s) URL")
            # the service names a fetched file after the URL's last path segment; the
            # official SDK requires a string here
            name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "audio"
            job = runner.start(url=url, extra=extra | {"filename": name})
        return web.json_response(_view(job), status=201)

    def lookup(request: web.Request) -> dict[str, Any] | web.Response:
        job = runner.lookup(request, gate(request), lambda: not_found("Transcription"))
        if isinstance(job, dict) and job["deleted"]:
            return not_found("Transcription")
        return job

    async def get(request: web.Request) -> web.Response:
        job = lookup(request)
        if isinstance(job, web.Response):
            return job
        view = _view(job)
        job["looked_at"] = True
        return web.json_response(view)

    async def transcript(request: web.Request) -> web.Response:
        job = lookup(request)
        if isinstance(job, web.Response):
            return job
        if job["state"] != jobs.DONE:
            return error(409, "invalid_state", "Transcription is not completed.")
        text = job["text"]
        tokens = [
            {"text": (" " if i else "") + w, "confidence": 0.99} for i, w in enumerate(text.split())
        ]
        return web.json_response({"id": job["id"], "text": text, "tokens": tokens})

    async def delete(request: web.Request) -> web.Response:
        job = lookup(request)
        if isinstance(job, web.Response):
            return job
        job["deleted"] = True
        state.counters[f"{NAME}.deleted_transcriptions"] += 1
        return web.Response(status=204)

    async def delete_file(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        if files.pop(request.match_info["file_id"], None) is None:
            return not_found("File")
        state.counters[f"{NAME}.deleted_files"] += 1
        return web.Response(status=204)

    app.router.add_post(f"{PREFIX}/files", upload)
    app.router.add_delete(f"{PREFIX}/files/{{file_id}}", delete_file)
    app.router.add_post(f"{PREFIX}/transcriptions", create)
    app.router.add_get(f"{PREFIX}/transcriptions/{{job_id}}", get)
    app.router.add_delete(f"{PREFIX}/transcriptions/{{job_id}}", delete)
    app.router.add_get(f"{PREFIX}/transcriptions/{{job_id}}/transcript", transcript)


def _view(job: dict[str, Any]) -> dict[str, Any]:
    """The Transcription object: `queued` until first looked at, then `processing`."""
    if job["state"] == jobs.RUNNING:
        status = "processing" if job["looked_at"] else "queued"
    else:
        status = "completed" if job["state"] == jobs.DONE else "error"
    error_type = error_message = None
    if job["state"] == jobs.FAILED:
        error_type, template = _ERRORS[job["failure"]]
        error_message = template.format(url=job["audio_url"], detail=job["reason"])
    return {
        "id": job["id"],
        "status": status,
        "created_at": job["created_at"],
        "model": job["model"],
        "audio_url": job["audio_url"],
        "file_id": job["file_id"],
        "filename": job["filename"],
        "language_hints": job["language_hints"],
        "enable_speaker_diarization": job["enable_speaker_diarization"],
        "enable_language_identification": job["enable_language_identification"],
        "audio_duration_ms": round(job["duration"] * 1000) if job["duration"] else None,
        "error_type": error_type,
        "error_message": error_message,
    }
