"""What the synchronous protocols (OpenAI, Groq, ElevenLabs, Deepgram) share.

Failure scenarios are chosen by the API key, so a test, or a user dry-running a
configuration, can ask for each provider's own error variants without a mock flag: a key
`mock-<scenario>` (e.g. `OPENAI_API_KEY=mock-insufficient_quota`) selects one. Each protocol
module lists the scenarios it knows. "Once" scenarios fail the first attempt of each clip and
let its retry through, whatever the concurrency, so a client that retries correctly ends with
every clip transcribed and one that does not ends with failures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from asyncbench.servers.mock.jobs import FetchFailed, audio_seconds
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

SCENARIO_PREFIX = "mock-"


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart body, with what the wire said about it."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


Parts = dict[str, Part]


async def read_form(request: web.Request) -> Parts | None:
    """The parts of a multipart/form-data body by name; None when the body is not multipart
    (JSON, urlencoded, raw bytes), which these APIs refuse. Raises ValueError when the
    multipart body itself is malformed."""
    if request.content_type != "multipart/form-data":
        return None
    parts: Parts = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, aiohttp.BodyPartReader) and part.name:
                data = bytes(await part.read())
                ctype = part.headers.get("Content-Type")
                parts[part.name] = Part(data, part.filename, ctype)
    except (AssertionError, RuntimeError) as exc:  # aiohttp's words for a broken body
        raise ValueError(str(exc) or type(exc).__name__) from None
    return parts


async def recorded_form(
    state: MockState, provider: str, request: web.Request, refuse: Callable[[str], web.Response]
) -> Parts | web.Response:
    """The parts of a multipart body, recorded (`record_form`), or `refuse(why)` (the
    protocol's 400) for a body that is not multipart or is malformed."""
    try:
        parts = await read_form(request)
    except ValueError as exc:
        return refuse(f"could not parse multipart form: {exc}")
    if parts is None:
        return refuse(f"expected multipart/form-data, got {request.content_type}")
    record_form(state, provider, parts)
    return parts


def record_form(state: MockState, provider: str, parts: Parts) -> None:
    """Keep what the last request's form said (text fields; a file as `name;type;bytes`) in
    `state.last_request["<provider> form"]`, so tests can check the wire."""
    state.last_request[f"{provider} form"] = {
        name: (
            f"{part.filename};{part.content_type};{len(part.data)}"
            if part.filename is not None
            else part.data.decode("utf-8", "replace")
        )
        for name, part in parts.items()
    }


def scenario(key: str | None) -> str | None:
    """The scenario a key asks for (`mock-rate_limit` → "rate_limit"), else None."""
    if key and key.startswith(SCENARIO_PREFIX):
        return key[len(SCENARIO_PREFIX) :]
    return None


def first_attempt(state: MockState, provider: str, clip: bytes) -> bool:
    """True the first time this clip (its bytes, or its URL) reaches this provider."""
    name = f"{provider}.attempt.{hashlib.blake2b(clip, digest_size=8).hexdigest()}"
    state.counters[name] += 1
    return state.counters[name] == 1


async def fetch(url: str) -> bytes:
    """Download the audio a client asked the service to fetch, as the real services do."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(url) as resp,
        ):
            if resp.status != 200:
                raise FetchFailed(f"HTTP {resp.status} from {url}")
            return await resp.read()
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        raise FetchFailed(f"{type(exc).__name__} fetching {url}") from None


def form_text(parts: Parts, name: str) -> str | None:
    """A text field of a multipart body, None when absent."""
    part = parts.get(name)
    return part.data.decode("utf-8", "replace").strip() if part is not None else None


async def listen(state: MockState, audio: bytes | None, url: str | None) -> tuple[str, float]:
    """(transcript, seconds) of the clip sent, or of the one at `url`.

    Raises FetchFailed when the URL cannot be downloaded and BadAudio when the bytes are
    not audio; each protocol words those in its own error shape.
    """
    data = audio if audio is not None else await fetch(url or "")
    seconds = await audio_seconds(data)
    return await state.recognize(data), seconds


@dataclass(frozen=True, slots=True)
class Heard:
    """A clip the service transcribed: its text and length."""

    text: str
    seconds: float


async def hear(
    state: MockState,
    provider: str,
    key: str | None,
    clip: bytes,
    *,
    limited: Callable[[], web.Response],
    undecodable: Callable[[str], web.Response],
    when: str = "rate_limit",
) -> Heard | web.Response:
    """What a synchronous service does with a clip it accepted: `limited()` (its 429) on the
    clip's first attempt when the key asks for the scenario `when`, a configured fault, else
    the transcript after the configured latency; bytes that are not audio get
    `undecodable(why)`."""
    if scenario(key) == when and first_attempt(state, provider, clip):
        return limited()
    fault = state.fault(provider)
    if fault is not None:
        return fault
    try:
        text, seconds = await listen(state, clip, None)
    except BadAudio as exc:
        return undecodable(str(exc))
    await state.wait()
    return Heard(text, seconds)


def retry_after(state: MockState) -> dict[str, str]:
    """The `Retry-After` header of the mock's 429s."""
    return {"Retry-After": f"{state.config.retry_after:g}"}


def as_duration(seconds: float) -> str:
    """Seconds as the Go-style duration OpenAI and Groq put in `x-ratelimit-reset-*`."""
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"
