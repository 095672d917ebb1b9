"""AssemblyAI protocol: `/v2/upload`, `/v2/transcript`, `/v2/transcript/{id}` (keys: `assemblyai`).

A new transcript is `queued` (the create reply), then `processing`, then `completed` or
`error`; `DELETE /v2/transcript/{id}` removes it (counter `assemblyai.deleted`).

Strict where the service is: the key must be the raw `Authorization` value (a `Bearer ...`
header is refused with 401); the upload stores whatever body it is given, so a JSON body
"uploads" fine and the job fails later with a transcoding error, as it really does; clips
under 160 ms end in `status: error`, `error: "Audio duration is too short."`. Uploads are
served back from `/cdn/upload/{id}` (the real ones live on cdn.assemblyai.com) and the job
downloads its `audio_url` over HTTP like any other URL.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from asyncbench.core.languages import ISO639_1, primary_subtag
from asyncbench.servers.mock import jobs
from asyncbench.servers.mock import models as model_lists
from asyncbench.servers.mock.state import MockState

NAME = "assemblyai"
MIN_SECONDS = 0.16

_REASONS = {
    jobs.TOO_SHORT: "Audio duration is too short.",
    jobs.BAD_AUDIO: "Transcoding failed. {detail}",
    jobs.FETCH: "Download error, unable to download {url} ({detail}). Please make sure the "
    "file exists and is accessible from the internet.",
    jobs.INTERNAL: "Internal server error while transcribing. Please resubmit the file.",
}


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def add_routes(app: web.Application, state: MockState) -> None:
    runner = jobs.JobRunner(app, state, NAME)

    def gate(request: web.Request) -> web.Response | None:
        """Auth (raw key only), then an injected fault, for every API request."""
        jobs.note(state, NAME, request)
        presented = request.headers.get("Authorization", "").strip()
        if presented.lower().startswith(("bearer ", "token ")):
            presented = ""  # the service wants the key itself, not a scheme
        return state.check_key(NAME, presented or None) or state.fault(NAME)

    async def upload(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body = await request.read()
        if not body:
            return _error("Upload is empty")
        upload_id = state.new_id("up")
        state.uploads[upload_id] = body
        return web.json_response({"upload_url": f"{request.url.origin()}/cdn/upload/{upload_id}"})

    async def cdn(request: web.Request) -> web.Response:
        body = state.uploads.get(request.match_info["upload_id"])
        if body is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=body, content_type="application/octet-stream")

    async def create(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body, why = await jobs.json_object(request)
        if body is None:
            return _error(why)
        audio_url = body.get("audio_url")
        if not isinstance(audio_url, str) or not audio_url.startswith(("http://", "https://")):
            return _error("audio_url must be a URL string")
        language = body.get("language_code", "en")
        if not isinstance(language, str):
            return _error("language_code must be a string")
        if primary_subtag(language) not in ISO639_1:
            return _error(
                f"The language_code '{language}' is not supported. Please check the supported "
                "languages in the docs."
            )
        state.counters[f"{NAME}.language.{language}"] += 1
        model = body.get("speech_model")
        models = body.get("speech_models")
        if models is not None and (
            not isinstance(models, list) or not all(isinstance(m, str) for m in models)
        ):
            return _error("speech_models must be a list of model names")
        if model is not None:
            if not isinstance(model, str):
                return _error("speech_model must be a string")
            if model.startswith("universal-3"):
                return _error(f"{model} must be selected with speech_models")
        for name in [model] if models is None else models:
            if model_lists.unknown(state.config.strict_models, NAME, name):
                return _error(
                    f"speech_model '{name}' is not a valid model; use one of "
                    f"{', '.join(sorted(model_lists.ASSEMBLYAI))}"
                )
        job = runner.start(
            url=audio_url,
            min_duration=MIN_SECONDS,
            extra={
                "audio_url": audio_url,
                "model": (models or [model or "universal-2"])[0],
                "language_code": body.get("language_code", "en"),
            },
        )
        return web.json_response(_view(job))

    async def get(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request), lambda: _error("Transcript not found", 404))
        return job if isinstance(job, web.Response) else web.json_response(_view(job))

    async def delete(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request), lambda: _error("Transcript not found", 404))
        if isinstance(job, web.Response):
            return job
        view = _view(job)
        runner.delete(job["id"])
        return web.json_response(view)

    app.router.add_post("/v2/upload", upload)
    app.router.add_get("/cdn/upload/{upload_id}", cdn)
    app.router.add_post("/v2/transcript", create)
    app.router.add_get("/v2/transcript/{job_id}", get)
    app.router.add_delete("/v2/transcript/{job_id}", delete)


def _view(job: dict[str, Any]) -> dict[str, Any]:
    status = {jobs.RUNNING: "processing", jobs.DONE: "completed", jobs.FAILED: "error"}
    # a new transcript is `queued` until the service has its audio, as the real one reports
    # (the official SDK's poll loop waits through queued and processing alike)
    shown = status[job["state"]]
    if job["state"] == jobs.RUNNING and job["duration"] is None:
        shown = "queued"
    error = None
    if job["state"] == jobs.FAILED:
        error = _REASONS[job["failure"]].format(url=job["audio_url"], detail=job["reason"])
    return {
        "id": job["id"],
        "status": shown,
        "audio_url": job["audio_url"],
        "language_code": job["language_code"],
        "speech_model_used": job["model"] if job["state"] == jobs.DONE else None,
        "audio_duration": job["duration"],
        "text": job["text"],
        "error": error,
    }
