"""What the async-job protocols share: a job that runs in the background after it is accepted.

A job gets its audio (bytes it was given, or a URL the mock downloads with aiohttp, as the real
services do), measures it, recognises it, waits the configured latency and ends `done` with a
transcript or `failed` with a failure kind and the service's reason. Each protocol module
renders that record in its own vocabulary (AssemblyAI `completed`/`error`, Rev `transcribed`/
`failed`, Speechmatics `done`/`rejected`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio, parse_wav, sniff, to_wav16k

RUNNING = "running"
DONE = "done"
FAILED = "failed"

# failure kinds a protocol module maps to its own words
FETCH = "fetch"
BAD_AUDIO = "bad_audio"
TOO_SHORT = "too_short"
INTERNAL = "internal"


class FetchFailed(Exception):
    """The job's audio URL could not be downloaded."""


async def audio_seconds(audio: bytes) -> float:
    """Duration of a clip: from the header of a PCM WAV, else by decoding it (off the loop).

    Bytes with no known audio signature (a JSON body sent where a file belongs) are refused
    without starting a decoder, in the words the services use for them.
    """
    info = parse_wav(audio)
    if info is not None and info.bits and info.rate and info.channels:
        return info.data_len / (info.rate * info.channels * info.bits // 8)
    if sniff(audio)[1] == "bin":
        raise BadAudio(
            f"file does not appear to contain audio ({len(audio)} bytes of {_kind(audio)})"
        )
    loop = asyncio.get_running_loop()
    _, duration = await loop.run_in_executor(None, to_wav16k, audio)
    return float(duration)


def _kind(data: bytes) -> str:
    head = data.lstrip()[:1]
    return "JSON" if head in (b"{", b"[") else "text" if data[:64].isascii() else "binary data"


def note(state: MockState, provider: str, request: web.Request) -> None:
    """Count the request and keep its headers, under the provider and under its route
    (e.g. `assemblyai POST /v2/upload`), so tests can check what each step sent."""
    state.counters[f"{provider}.requests"] += 1
    headers = dict(request.headers)
    state.last_request[provider] = headers
    route = request.match_info.route.resource
    path = route.canonical if route is not None else request.path
    state.last_request[f"{provider} {request.method} {path}"] = headers


class JobRunner:
    """Starts jobs, keeps their tasks alive until done, and cancels them when the app stops."""

    def __init__(self, app: web.Application, state: MockState, provider: str) -> None:
        self.state = state
        self.provider = provider
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        app.on_cleanup.append(self._cleanup)

    def start(
        self,
        *,
        audio: bytes | None = None,
        url: str | None = None,
        min_duration: float = 0.0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Accept a job now; it finishes in the background. `min_duration` makes shorter clips
        fail with TOO_SHORT (after being measured, as a real service does)."""
        job: dict[str, Any] = {
            "id": self.state.new_id(""),
            "provider": self.provider,
            "state": RUNNING,
            "text": None,
            "failure": None,
            "reason": None,
            "duration": None,
            "created": time.time(),
            **(extra or {}),
        }
        self.state.jobs[job["id"]] = job
        self.state.counters[f"{self.provider}.jobs"] += 1
        task = asyncio.get_running_loop().create_task(self._run(job, audio, url, min_duration))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def delete(self, job_id: str) -> bool:
        """Forget a job (the services' DELETE); False when there was none."""
        if self.get(job_id) is None:
            return False
        del self.state.jobs[job_id]
        self.state.counters[f"{self.provider}.deleted"] += 1
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        job = self.state.jobs.get(job_id)
        return job if job is not None and job["provider"] == self.provider else None

    def lookup(
        self,
        request: web.Request,
        refusal: web.Response | None,
        not_found: Callable[[], web.Response],
    ) -> dict[str, Any] | web.Response:
        """The job named by the route's `{job_id}`, or the response to send instead: the
        protocol's refusal (auth, rate limit, fault) or its own 404."""
        if refusal is not None:
            return refusal
        job = self.get(request.match_info["job_id"])
        return job if job is not None else not_found()

    async def _run(
        self, job: dict[str, Any], audio: bytes | None, url: str | None, min_duration: float
    ) -> None:
        def fail(kind: str, reason: str) -> None:
            job.update(state=FAILED, failure=kind, reason=reason)
            self.state.counters[f"{self.provider}.failed"] += 1

        try:
            data = audio if audio is not None else await self._fetch(url or "")
            digest = hashlib.sha256(data).hexdigest()
            self.state.submissions[f"{self.provider}:{digest}"] += 1
            job["duration"] = await audio_seconds(data)
            if job["duration"] < min_duration:
                return fail(TOO_SHORT, f"{job['duration']:.3f} s of audio")
            text = await self.state.recognize(data)
        except FetchFailed as exc:
            return fail(FETCH, str(exc))
        except BadAudio as exc:
            return fail(BAD_AUDIO, str(exc))
        await self.state.wait()
        if self.state.job_fails():
            return fail(INTERNAL, "injected failure")
        job.update(state=DONE, text=text)

    async def _fetch(self, url: str) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    raise FetchFailed(f"HTTP {resp.status} from {url}")
                return await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise FetchFailed(f"{type(exc).__name__} fetching {url}") from None

    async def _cleanup(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


async def json_object(request: web.Request) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object body, "") or (None, why it is not one): protocols word their own 400."""
    if request.content_type != "application/json":
        return None, f"expected Content-Type application/json, got {request.content_type or 'none'}"
    try:
        body = await request.json()
    except ValueError:
        return None, "body is not valid JSON"
    if not isinstance(body, dict):
        return None, "body must be a JSON object"
    return body, ""


async def multipart_parts(request: web.Request) -> dict[str, tuple[str | None, bytes]] | None:
    """{part name: (filename, bytes)} of a multipart/form-data body; None if it is not one
    (an urlencoded form, JSON, raw bytes), which the multipart-only APIs refuse."""
    if request.content_type != "multipart/form-data":
        return None
    parts: dict[str, tuple[str | None, bytes]] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, aiohttp.BodyPartReader) and part.name:
            parts[part.name] = (part.filename, bytes(await part.read()))
    return parts
