"""Gladia pre-recorded v2 protocol: `/v2/upload`, `/v2/pre-recorded[/{id}]` (keys: `gladia`).

Strict where the service is (reference/PROTOCOLS-2026.md §A2): the key only in `x-gladia-key`
(an `Authorization` header is not looked at → 401); the upload must be multipart with an
`audio` file part; the job body must be JSON with an http(s) `audio_url` and only known
options (anything else → 400 with `validation_errors`); `language_config.languages` must be a
list of language codes. A job is `queued` when created, `processing` once looked at, then
`done` (transcript in `result.transcription.full_transcript`) or `error` (`error_code`:
400 for audio the service cannot read or fetch, 500 for its own failure). Uploads are served
back from `/file/{id}`, as `https://api.gladia.io/file/<id>` really is. The upload path is
AssemblyAI's too: a request with `x-gladia-key` is routed here (see `gladia_upload`).
Error bodies: `{timestamp, path, request_id, statusCode, message, validation_errors}`.

Key scenario (see `asyncbench.servers.mock.sync`): `mock-no_credit` (every request 402).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from asyncbench.servers.mock import jobs, sync
from asyncbench.servers.mock.state import MockState

NAME = "gladia"
UPLOAD = "/v2/upload"
MODELS = frozenset({"solaria-1", "solaria-3"})
#: top-level options of a pre-recorded job (docs.gladia.io api-reference pre-recorded init)
OPTIONS = frozenset(
    {
        "audio_url",
        "model",
        "language_config",
        "custom_vocabulary",
        "custom_vocabulary_config",
        "callback",
        "callback_config",
        "subtitles",
        "subtitles_config",
        "diarization",
        "diarization_config",
        "translation",
        "translation_config",
        "summarization",
        "summarization_config",
        "named_entity_recognition",
        "custom_spelling",
        "custom_spelling_config",
        "sentiment_analysis",
        "audio_to_llm",
        "audio_to_llm_config",
        "custom_metadata",
        "sentences",
        "punctuation_enhanced",
        "display_mode",
        "chapterization",
        "name_consistency",
        "structured_data_extraction",
        "moderation",
        "audio_enhancer",
    }
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CODES = {jobs.BAD_AUDIO: 400, jobs.FETCH: 400, jobs.TOO_SHORT: 400, jobs.INTERNAL: 500}


def error(request: web.Request, status: int, message: str, **extra: Any) -> web.Response:
    body = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "path": request.path,
        "request_id": f"G-{uuid.uuid4().hex[:8]}",
        "statusCode": status,
        "message": message,
        "validation_errors": extra.pop("validation_errors", []),
        **extra,
    }
    return web.json_response(body, status=status)


def invalid(request: web.Request, message: str) -> web.Response:
    return error(request, 400, "Bad Request", validation_errors=[message])


def _check_options(body: dict[str, Any]) -> str | None:
    """Why a job body is refused, or None."""
    unknown = sorted(set(body) - OPTIONS)
    if unknown:
        return f"property {unknown[0]} should not exist"
    url = body.get("audio_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return "audio_url must be a URL address"
    if "model" in body and body["model"] not in MODELS:
        return f"model must be one of the following values: {', '.join(sorted(MODELS))}"
    config = body.get("language_config", {})
    if not isinstance(config, dict) or set(config) - {"languages", "code_switching"}:
        return "language_config must be an object with languages and code_switching"
    languages = config.get("languages", [])
    if not isinstance(languages, list) or not all(
        isinstance(x, str) and 2 <= len(x) <= 3 for x in languages
    ):
        return "language_config.languages must be a list of language codes"
    return None


def add_routes(app: web.Application, state: MockState) -> None:
    runner = jobs.JobRunner(app, state, NAME)

    def gate(request: web.Request) -> web.Response | None:
        jobs.note(state, NAME, request)
        key = request.headers.get("x-gladia-key", "").strip() or None
        if state.check_key(NAME, key) is not None:
            return error(request, 401, "Invalid or missing x-gladia-key")
        if sync.scenario(key) == "no_credit":
            return error(request, 402, "You have no credit left; upgrade your plan.")
        return state.fault(NAME)

    async def upload(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return invalid(request, f"malformed multipart body: {exc}")
        part = parts.get("audio") if parts is not None else None
        if part is None or part.filename is None or not part.data:
            return invalid(request, "audio must be a non-empty file part")
        upload_id = str(uuid.uuid4())
        state.uploads[upload_id] = part.data
        extension = part.filename.rpartition(".")[2]
        try:  # the service measures the upload; the official SDK reads a number here
            seconds: float | None = await jobs.audio_seconds(part.data)
        except Exception:  # not audio: the job fails later, as the service's does
            seconds = None
        return web.json_response(
            {
                "audio_url": f"{request.url.origin()}/file/{upload_id}",
                "audio_metadata": {
                    "id": upload_id,
                    "filename": part.filename,
                    "extension": extension,
                    "size": len(part.data),
                    "audio_duration": seconds,
                    "number_of_channels": 1,
                },
            }
        )

    async def serve_file(request: web.Request) -> web.Response:
        body = state.uploads.get(request.match_info["upload_id"])
        if body is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=body, content_type="application/octet-stream")

    async def create(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body, why = await jobs.json_object(request)
        if body is None:
            return invalid(request, why)
        if (why := _check_options(body)) is not None:
            return invalid(request, why)
        job = runner.start(
            url=body["audio_url"],
            extra={"request_params": body, "looked_at": False, "created_at": time.time()},
        )
        result_url = f"{request.url.origin()}/v2/pre-recorded/{job['id']}"
        state.last_request[f"{NAME} options"] = body
        return web.json_response({"id": job["id"], "result_url": result_url}, status=201)

    async def get(request: web.Request) -> web.Response:
        job = runner.lookup(
            request, gate(request), lambda: error(request, 404, "Transcription not found")
        )
        if isinstance(job, web.Response):
            return job
        view = _view(job)
        job["looked_at"] = True
        return web.json_response(view)

    @web.middleware
    async def gladia_upload(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Gladia and AssemblyAI both upload at `POST /v2/upload`; the real services live on
        different hosts, the mock on one, so the request that carries Gladia's key header is
        Gladia's (whatever route, AssemblyAI's or none, the path resolved to)."""
        if (
            request.method == "POST"
            and request.path == UPLOAD
            and "x-gladia-key" in request.headers
        ):
            return await upload(request)
        return await handler(request)

    app.middlewares.append(gladia_upload)
    app.router.add_get("/file/{upload_id}", serve_file)
    app.router.add_post("/v2/pre-recorded", create)

    async def delete(request: web.Request) -> web.Response:
        job = runner.lookup(
            request, gate(request), lambda: error(request, 404, "Transcription not found")
        )
        if isinstance(job, web.Response):
            return job
        runner.delete(job["id"])  # counter gladia.deleted
        return web.Response(status=202)

    app.router.add_get("/v2/pre-recorded/{job_id}", get)
    app.router.add_delete("/v2/pre-recorded/{job_id}", delete)


def _view(job: dict[str, Any]) -> dict[str, Any]:
    if job["state"] == jobs.RUNNING:
        status = "processing" if job["looked_at"] else "queued"
    else:
        status = "done" if job["state"] == jobs.DONE else "error"
    result = None
    if job["state"] == jobs.DONE:
        text = job["text"]
        languages = job["request_params"].get("language_config", {}).get("languages") or ["en"]
        tokens = text.split()
        step = job["duration"] / max(1, len(tokens))
        # every field the official SDK's response types require (`gladiaio_sdk` 2.2.1)
        result = {
            "metadata": {
                "audio_duration": job["duration"],
                "number_of_distinct_channels": 1,
                "billing_time": job["duration"],
                "transcription_time": 0.1,
            },
            "transcription": {
                "full_transcript": text,
                "languages": languages,
                "utterances": [
                    {
                        "text": text,
                        "start": 0.0,
                        "end": job["duration"],
                        "confidence": 0.99,
                        "channel": 0,
                        "language": languages[0],
                        "words": [
                            {
                                "word": w,
                                "start": round(i * step, 3),
                                "end": round((i + 1) * step, 3),
                                "confidence": 0.99,
                            }
                            for i, w in enumerate(tokens)
                        ],
                    }
                ],
            },
        }
    return {
        "id": job["id"],
        "request_id": f"G-{job['id'][-8:]}",
        "version": 2,  # required by the official SDK's response type
        "kind": "pre-recorded",
        "status": status,
        "created_at": job["created_at"],
        "request_params": job["request_params"],
        "error_code": _CODES[job["failure"]] if job["state"] == jobs.FAILED else None,
        "result": result,
    }
