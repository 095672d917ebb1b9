"""Rev AI protocol under `/speechtotext/v1` (keys: `revai`).

Strict where the service is: `Bearer` auth; `POST jobs` is either multipart with a `media`
file part (and an optional `options` JSON part) or JSON with `source_config.url` (or the
deprecated `media_url`), anything else is refused; the transcript is JSON only when asked for
with `Accept: application/vnd.rev.transcript.v1.0+json` (`text/plain` gives text, anything
else 406), and only once the job is `transcribed` (409 before). Errors are RFC 7807 problem
details. Failed jobs carry `failure` and `failure_detail`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from asyncbench.core.languages import ISO639_1
from asyncbench.servers.mock import jobs
from asyncbench.servers.mock.state import MockState

NAME = "revai"
BASE = "/speechtotext/v1"
TRANSCRIPT_JSON = "application/vnd.rev.transcript.v1.0+json"
_ERRORS = "https://www.rev.ai/api/v1/errors/"

_FAILURES = {
    jobs.FETCH: ("download_failure", "Failed to download media file. Please check your url"),
    jobs.BAD_AUDIO: ("invalid_media", "Media file is invalid or unsupported"),
    jobs.TOO_SHORT: ("duration_too_short", "Media duration is too short"),
    jobs.INTERNAL: ("internal_processing", "Internal processing error, please resubmit the job"),
}


def problem(status: int, title: str, slug: str = "", **extra: Any) -> web.Response:
    body = {"title": title, "status": status, **extra}
    if slug:
        body["type"] = _ERRORS + slug
    return web.json_response(body, status=status, content_type="application/problem+json")


def invalid(parameter: str, message: str) -> web.Response:
    return problem(
        400,
        "Your request parameters didn't pass validation",
        "invalid-parameters",
        parameters={parameter: [message]},
    )


def add_routes(app: web.Application, state: MockState) -> None:
    runner = jobs.JobRunner(app, state, NAME)

    def gate(request: web.Request) -> web.Response | None:
        jobs.note(state, NAME, request)
        if state.check_key(NAME, state.bearer(request)) is not None:
            return problem(401, "Authorization has been denied for this request")
        return state.fault(NAME)

    async def submit(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        audio: bytes | None = None
        url: str | None = None
        name = "media"
        if request.content_type == "multipart/form-data":
            parts = await jobs.multipart_parts(request) or {}
            if "media" not in parts or not parts["media"][1]:
                return invalid("media", "A media file is required")
            name, audio = parts["media"][0] or "media", parts["media"][1]
            try:
                options = orjson.loads(parts["options"][1]) if "options" in parts else {}
            except orjson.JSONDecodeError:
                return invalid("options", "options must be a JSON object")
        elif request.content_type == "application/json":
            options, why = await jobs.json_object(request)
            if options is None:
                return invalid("body", why)
            source = options.get("source_config") or {}
            url = source.get("url") if isinstance(source, dict) else None
            url = url or options.get("media_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return invalid("source_config", "source_config.url must be a media URL")
            name = url.rsplit("/", 1)[-1]
        else:
            return problem(
                415, f"Unsupported content type {request.content_type}", "unsupported-media-type"
            )
        if not isinstance(options, dict):
            return invalid("options", "options must be a JSON object")
        language = options.get("language", "en")
        if not isinstance(language, str) or (language not in ISO639_1 and language != "cmn"):
            return invalid("language", f"Language '{language}' is not supported")
        state.counters[f"{NAME}.language.{language}"] += 1
        job = runner.start(
            audio=audio,
            url=url,
            extra={
                "name": name,
                "created_on": _stamp(time.time()),
                "language": options.get("language", "en"),
                "transcriber": options.get("transcriber", "machine"),
            },
        )
        return web.json_response(_view(job))

    def not_found() -> web.Response:
        return problem(404, "could not find job", "job-not-found")

    async def get(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request), not_found)
        return job if isinstance(job, web.Response) else web.json_response(_view(job))

    async def transcript(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request), not_found)
        if isinstance(job, web.Response):
            return job
        if job["state"] != jobs.DONE:
            return problem(
                409,
                "Job is not transcribed",
                "invalid-job-state",
                allowed_values=["transcribed"],
                current_value=_view(job)["status"],
            )
        accept = request.headers.get("Accept", "")
        if TRANSCRIPT_JSON in accept:
            return web.json_response(_document(job["text"]), content_type=TRANSCRIPT_JSON)
        if "text/plain" in accept:
            return web.Response(text=f"Speaker 0    00:00:00    {job['text']}\n")
        return problem(
            406, f"Accept must be {TRANSCRIPT_JSON} or text/plain", "unsupported-accept-header"
        )

    async def delete(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request), not_found)
        if isinstance(job, web.Response):
            return job
        runner.delete(job["id"])  # counter revai.deleted
        return web.Response(status=204)

    app.router.add_post(f"{BASE}/jobs", submit)
    app.router.add_delete(f"{BASE}/jobs/{{job_id}}", delete)
    app.router.add_get(f"{BASE}/jobs/{{job_id}}", get)
    app.router.add_get(f"{BASE}/jobs/{{job_id}}/transcript", transcript)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _view(job: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job["id"],
        "created_on": job["created_on"],
        "name": job["name"],
        "status": {jobs.RUNNING: "in_progress", jobs.DONE: "transcribed", jobs.FAILED: "failed"}[
            job["state"]
        ],
        "type": "async",
        "language": job["language"],
        "transcriber": job["transcriber"],
    }
    if job["duration"] is not None:
        view["duration_seconds"] = round(job["duration"], 3)
    if job["state"] == jobs.FAILED:
        view["failure"], detail = _FAILURES[job["failure"]]
        view["failure_detail"] = f"{detail} ({job['reason']})"
    return view


def _document(text: str) -> dict[str, Any]:
    """Rev's transcript JSON: words as `text` elements, spaces and punctuation as `punct`."""
    elements: list[dict[str, Any]] = []
    t = 0.0
    for i, word in enumerate(text.split()):
        if i:
            elements.append({"type": "punct", "value": " "})
        core = word.rstrip(".,?!;:")
        if core:
            elements.append(
                {"type": "text", "value": core, "ts": t, "end_ts": t + 0.3, "confidence": 0.99}
            )
            t += 0.3
        if core != word:
            elements.append({"type": "punct", "value": word[len(core) :]})
    return {"monologues": [{"speaker": 0, "elements": elements}]}
