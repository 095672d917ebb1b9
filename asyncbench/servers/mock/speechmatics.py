"""Speechmatics batch protocol under `/v2/jobs` (keys: `speechmatics`).

Strict where the service is: `Bearer` auth (a bad key gets nginx's HTML 401 page, as the docs
show); `POST /v2/jobs` must be multipart/form-data with a `config` part (an urlencoded or JSON
body is a 400 "Malformed request") and either a `data_file` part or `fetch_data.url` in the
config (else 400 "Missing data_file"); more than 10 new jobs or 50 status/transcript requests
in any one second are answered 429 "Rate Limited". Jobs end `done` or `rejected` with
`errors[].message` ("failed to fetch file ..." when a URL cannot be downloaded). `wait` on a
status request is accepted (answered at once); `wait=N` on submit holds the reply until the
job ends (at most N s) and embeds the transcript, as the official SDK expects.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import web

from asyncbench.core.service_languages import SPEECHMATICS_LANGUAGES
from asyncbench.servers.mock import jobs
from asyncbench.servers.mock.state import MockState

NAME = "speechmatics"
SUBMITS_PER_S = 10
GETS_PER_S = 50

_REJECTIONS = {
    jobs.FETCH: "failed to fetch file: {detail}",
    jobs.BAD_AUDIO: "Job rejected due to invalid audio: {detail}",
    jobs.TOO_SHORT: "Job rejected due to invalid audio: {detail}",
    jobs.INTERNAL: "Job rejected: internal error, please resubmit",
}
_UNAUTHORIZED = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _error(status: int, error: str, detail: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "error": error}
    if detail:
        body["detail"] = detail
    return web.json_response(body, status=status)


class _Window:
    """At most `limit` requests in any trailing second."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.times: deque[float] = deque()

    def admit(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] >= 1.0:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


def add_routes(app: web.Application, state: MockState) -> None:
    runner = jobs.JobRunner(app, state, NAME)
    submits = _Window(SUBMITS_PER_S)
    gets = _Window(GETS_PER_S)

    def gate(request: web.Request, window: _Window) -> web.Response | None:
        jobs.note(state, NAME, request)
        if state.check_key(NAME, state.bearer(request)) is not None:
            return web.Response(status=401, text=_UNAUTHORIZED, content_type="text/html")
        if not window.admit():
            state.counters[f"{NAME}.rate_limited"] += 1
            return _error(429, "Rate Limited")
        return state.fault(NAME)

    async def submit(request: web.Request) -> web.Response:
        if (refused := gate(request, submits)) is not None:
            return refused
        parts = await jobs.multipart_parts(request)
        if parts is None:
            return _error(
                400,
                "Malformed request",
                f"expected multipart/form-data, got {request.content_type}",
            )
        if "config" not in parts:
            return _error(400, "Malformed request", "missing config part")
        try:
            config = orjson.loads(parts["config"][1])
        except orjson.JSONDecodeError:
            return _error(400, "Malformed request", "config is not valid JSON")
        if not isinstance(config, dict) or config.get("type") != "transcription":
            return _error(400, "Malformed request", 'config.type must be "transcription"')
        tc = config.get("transcription_config")
        if not isinstance(tc, dict) or not isinstance(tc.get("language"), str):
            return _error(400, "No language selected")
        if tc["language"] not in SPEECHMATICS_LANGUAGES:
            return _error(400, "Job config invalid", f"unsupported language: {tc['language']}")
        state.counters[f"{NAME}.language.{tc['language']}"] += 1
        fetch = config.get("fetch_data")
        url = fetch.get("url") if isinstance(fetch, dict) else None
        data = parts.get("data_file")
        if data is None and not isinstance(url, str):
            return _error(400, "Missing data_file")
        job = runner.start(
            audio=data[1] if data is not None else None,
            url=None if data is not None else url,
            extra={
                "data_name": (data[0] or "data_file") if data is not None else "",
                "config": config,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            },
        )
        return web.json_response(await _held(request, job), status=201)

    def not_found() -> web.Response:
        return _error(404, "Job not found")

    async def get(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request, gets), not_found)
        return job if isinstance(job, web.Response) else web.json_response({"job": _view(job)})

    async def transcript(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request, gets), not_found)
        if isinstance(job, web.Response):
            return job
        if job["state"] != jobs.DONE:
            return _error(404, "Transcription not ready")
        fmt = request.query.get("format", "json-v2")
        if fmt == "txt":
            return web.Response(text=job["text"] + "\n")
        if fmt == "json-v2":
            return web.json_response(json_v2(job))
        return _error(400, "Format Not Supported", f"format {fmt!r}")

    for path in ("/v2/jobs", "/v2/jobs/"):
        app.router.add_post(path, submit)

    async def delete(request: web.Request) -> web.Response:
        job = runner.lookup(request, gate(request, gets), not_found)
        if isinstance(job, web.Response):
            return job
        view = _view(job)
        runner.delete(job["id"])  # counter speechmatics.deleted
        return web.json_response({"job": view})

    app.router.add_get("/v2/jobs/{job_id}", get)
    app.router.add_delete("/v2/jobs/{job_id}", delete)
    app.router.add_get("/v2/jobs/{job_id}/transcript", transcript)


async def _held(request: web.Request, job: dict[str, Any]) -> dict[str, Any]:
    """The submit reply: `{id}`, or with `?wait=N` (synchronous transcription, which the
    official SDK sends) the reply once the job ends or N seconds pass, with `status`,
    `created_at` and, when done, the transcript under the requested format's name."""
    raw = request.query.get("wait")
    reply: dict[str, Any] = {"id": job["id"]}
    if raw is None:
        return reply
    try:
        deadline = time.monotonic() + max(0, int(raw))
    except ValueError:
        deadline = time.monotonic()
    while job["state"] == jobs.RUNNING and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    reply.update(status=_view(job)["status"], created_at=job["created_at"])
    if job["state"] == jobs.DONE:
        fmt = request.query.get("format", "json-v2")
        reply[fmt] = job["text"] + "\n" if fmt == "txt" else json_v2(job)
    return reply


def json_v2(job: dict[str, Any]) -> dict[str, Any]:
    """The `json-v2` transcript in the documented shape the official `speechmatics-batch`
    SDK parses: `metadata` (`created_at`, `type`, `transcription_config`) and one result per
    word with `start_time`/`end_time` and `alternatives[].content/confidence/language/
    speaker`, spread evenly over the clip."""
    config = job["config"].get("transcription_config") or {}
    language = config.get("language", "en")
    tokens = job["text"].split()
    step = (job["duration"] or 0.0) / max(1, len(tokens))
    results = [
        {
            "type": "word",
            "start_time": round(i * step, 3),
            "end_time": round((i + 1) * step, 3),
            "alternatives": [
                {"content": w, "confidence": 0.99, "language": language, "speaker": "UU"}
            ],
        }
        for i, w in enumerate(tokens)
    ]
    return {
        "format": "2.9",
        "job": _view(job),
        "metadata": {
            "created_at": job["created_at"],
            "type": "transcription",
            "transcription_config": config,
            "language_pack_info": {
                "language_description": language,
                "word_delimiter": " ",
                "writing_direction": "left-to-right",
                "itn": True,
                "adapted": False,
            },
        },
        "results": results,
    }


def _view(job: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job["id"],
        "created_at": job["created_at"],
        "data_name": job["data_name"],
        "status": {jobs.RUNNING: "running", jobs.DONE: "done", jobs.FAILED: "rejected"}[
            job["state"]
        ],
        "config": job["config"],
    }
    if job["duration"] is not None:
        view["duration"] = round(job["duration"])
    if job["state"] == jobs.FAILED:
        view["errors"] = [
            {
                "timestamp": job["created_at"],
                "message": _REJECTIONS[job["failure"]].format(detail=job["reason"]),
            }
        ]
    return view
