"""OpenAI protocol: `POST /v1/audio/transcriptions` (keys: `openai`; Groq reuses it, see groq.py).

Strict where the service is: `Authorization: Bearer <key>` (any other scheme counts as no
key → 401); the body must be multipart/form-data (JSON or urlencoded → 400 "Invalid
Content-Type header"); `model` and `file` are required; the file part needs a supported
extension (→ 400 "Invalid file format"); gpt-4o models take only json/text; clips under
0.1 s → 400 `audio_too_short`; a `language` Whisper does not know (not ISO 639-1, or
not one of its languages) → 400 "Invalid language". Each request's language is counted in
`state.counters["openai.language.<code>"]` ("-" when none was sent). A file over 25 MB →
413. Errors are
`{"error": {"message", "type", "param", "code"}}`.

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-insufficient_quota` (every request 429
`insufficient_quota`), `mock-rate_limit` (first attempt of each clip 429
`rate_limit_exceeded` with `x-ratelimit-reset-requests`, no Retry-After), `mock-server_error`
(first attempt of each clip 500).

`stream=true` (OpenAI's gpt-4o models; whisper-1 ignores it, as OpenAI does): the reply is
`text/event-stream`, one `transcript.text.delta` per word `sse_delta_gap` seconds apart, then
`transcript.text.done` with the text and `usage` in tokens (the mock's counts: 10 audio tokens
a second, one output token a word). The vLLM dialect, served at
`/vllm/v1/audio/transcriptions` for `openai-compatible/` runs (no key needed, as a
self-hosted server), sends vLLM's `transcription.chunk` objects
(`choices[0].delta.content`), a last chunk with `finish_reason` and, with
`stream_include_usage=true`, `usage` (`prompt_tokens`, `completion_tokens`), then
`data: [DONE]`. Other dialects refuse `stream=true` (400). Streamed replies are counted in
`<dialect>.streamed`.
"""

from __future__ import annotations

import asyncio
import math
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from asyncbench.core.service_languages import WHISPER_LANGUAGES
from asyncbench.servers.mock import models as model_lists
from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockConfig, MockState
from asyncbench.sources.audio import BadAudio

NAME = "openai"
PATH = "/v1/audio/transcriptions"
FILE_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
MAX_FILE_BYTES = 25 * 1024 * 1024  # OpenAI's 25 MB per file


def error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _openai_rate_limit(cfg: MockConfig, model: str) -> web.Response:
    wait = sync.as_duration(cfg.retry_after)
    return error(
        429,
        f"Rate limit reached for {model} in organization org-mock on requests per min (RPM): "
        f"Limit 500, Used 500, Requested 1. Please try again in {wait}.",
        "requests",
        code="rate_limit_exceeded",
        headers={
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": wait,
        },
    )


def _captions(text: str, seconds: float, vtt: bool) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        sep = "." if vtt else ","
        return (
            f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"
        )

    cue = f"{stamp(0)} --> {stamp(seconds)}\n{text}\n\n"
    return f"WEBVTT\n\n{cue}" if vtt else f"1\n{cue}"


@dataclass(frozen=True)
class Dialect:
    """How one OpenAI-compatible service differs from OpenAI itself."""

    name: str
    path: str
    accepts_url: bool = False  # a `url` form field instead of `file` (Groq)
    checks_extension: bool = True
    min_seconds: float = 0.1
    has_quota: bool = True  # a prepaid balance that can run out (`insufficient_quota`)
    max_file_bytes: int | None = None  # a bigger file part is refused (413)
    models: frozenset[str] | None = None  # None: any model name
    formats: frozenset[str] = frozenset({"json", "text", "verbose_json", "srt", "vtt"})
    rate_limit: Callable[[MockConfig, str], web.Response] = _openai_rate_limit
    reply_extra: Callable[[MockState], dict[str, Any]] = field(default=lambda state: {})
    #: `stream=true`: "openai" events, "vllm" chunks, or None (refused)
    sse: str | None = None
    #: models that ignore `stream=true` and answer JSON
    no_stream_models: frozenset[str] = frozenset()
    #: a request without a key is refused (a self-hosted server usually takes none)
    needs_key: bool = True


OPENAI = Dialect(
    NAME,
    PATH,
    max_file_bytes=MAX_FILE_BYTES,
    sse="openai",
    no_stream_models=frozenset({"whisper-1"}),
)
VLLM = Dialect(
    "vllm", "/vllm/v1/audio/transcriptions", has_quota=False, sse="vllm", needs_key=False
)


def _unauthorized(presented: str | None) -> web.Response:
    if not presented:
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    shown = presented[:3] + "*" * 4 + presented[-4:] if len(presented) > 8 else "***"
    return error(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")


def _check_form(dialect: Dialect, parts: sync.Parts) -> web.Response | None:
    """The 400s a well-formed multipart body can still earn."""
    model = sync.form_text(parts, "model")
    if not model:
        return error(400, "you must provide a model parameter", param="model")
    if dialect.models is not None and model not in dialect.models:
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    has_file, has_url = "file" in parts, bool(dialect.accepts_url and sync.form_text(parts, "url"))
    if has_file == has_url:
        what = "file or url" if dialect.accepts_url else "file"
        return error(400, f"exactly one of {what} must be provided", param="file")
    filename = parts["file"].filename if has_file else None
    if has_file and dialect.checks_extension:
        ext = posixpath.splitext(filename or "")[1][1:].lower()
        if ext not in FILE_FORMATS:
            return error(
                400, f"Invalid file format. Supported formats: {list(FILE_FORMATS)}", param="file"
            )
    fmt = sync.form_text(parts, "response_format") or "json"
    if fmt not in dialect.formats:
        return error(400, f"response_format '{fmt}' is not supported", param="response_format")
    if model.startswith("gpt-4o") and fmt not in ("json", "text"):
        return error(
            400,
            f"response_format '{fmt}' is not compatible with model '{model}'. "
            "Use 'json' or 'text' instead.",
            code="unsupported_value",
            param="response_format",
        )
    stream = sync.form_text(parts, "stream")
    if stream is not None and stream not in ("true", "false"):
        return error(400, f"stream must be true or false, got {stream!r}", param="stream")
    if stream == "true" and dialect.sse is None:
        return error(400, "stream is not supported by this endpoint", param="stream")
    language = sync.form_text(parts, "language")
    if language and language not in WHISPER_LANGUAGES:
        return error(
            400,
            f"Invalid language '{language}'. Language parameter must be specified in "
            "ISO-639-1 format.",
            param="language",
        )
    return None


def _reply(dialect: Dialect, state: MockState, fmt: str, text: str, seconds: float) -> web.Response:
    if fmt == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    if fmt in ("srt", "vtt"):
        return web.Response(text=_captions(text, seconds, fmt == "vtt"), content_type="text/plain")
    body: dict[str, Any] = {"text": text, **dialect.reply_extra(state)}
    if fmt == "verbose_json":
        body.update(
            task="transcribe",
            language="english",
            duration=round(seconds, 3),
            segments=[{"id": 0, "start": 0.0, "end": round(seconds, 3), "text": text}],
        )
    return web.json_response(body)


async def _sse_reply(
    request: web.Request,
    dialect: Dialect,
    state: MockState,
    text: str,
    seconds: float,
    include_usage: bool,
) -> web.StreamResponse:
    """The transcript as server-sent events, one word a delta, in the dialect's shape."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    words = text.split()
    audio_tokens, output_tokens = math.ceil(seconds * 10), len(words)

    async def event(obj: Any) -> None:
        await resp.write(b"data: " + orjson.dumps(obj) + b"\n\n")

    for i, word in enumerate(words):
        if i:
            await asyncio.sleep(state.config.sse_delta_gap)
        piece = word if i == 0 else f" {word}"
        if dialect.sse == "openai":
            await event({"type": "transcript.text.delta", "delta": piece})
        else:
            await event(
                {"object": "transcription.chunk", "choices": [{"delta": {"content": piece}}]}
            )
    if dialect.sse == "openai":
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
            "output_tokens": output_tokens,
            "total_tokens": audio_tokens + output_tokens,
        }
        await event({"type": "transcript.text.done", "text": text, "usage": usage})
    else:
        last: dict[str, Any] = {
            "object": "transcription.chunk",
            "choices": [{"delta": {}, "finish_reason": "stop"}],
        }
        if include_usage:
            last["usage"] = {
                "prompt_tokens": audio_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": audio_tokens + output_tokens,
            }
        await event(last)
        await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


def handler(state: MockState, dialect: Dialect) -> Callable[[web.Request], Any]:
    name = dialect.name

    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{name}.requests"] += 1
        state.last_request[name] = dict(request.headers)
        key = state.bearer(request)
        if (dialect.needs_key or key) and state.check_key(name, key) is not None:
            return _unauthorized(key)
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return error(400, f"Could not parse multipart form: {exc}")
        if parts is None:
            return error(
                400,
                f"Invalid Content-Type header ({request.content_type}), expected "
                "multipart/form-data. (HINT: If you're using curl, you can pass -H "
                "'Content-Type: multipart/form-data')",
            )
        sync.record_form(state, name, parts)
        refused = _check_form(dialect, parts)
        model = sync.form_text(parts, "model")
        if refused is None and model_lists.unknown(state.config.strict_models, name, model):
            refused = error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        if refused is not None:
            return refused
        state.counters[f"{name}.language.{sync.form_text(parts, 'language') or '-'}"] += 1
        size = len(parts["file"].data) if "file" in parts else 0
        if dialect.max_file_bytes is not None and size > dialect.max_file_bytes:
            state.counters[f"{name}.413"] += 1
            return error(
                413,
                f"Maximum content size limit ({dialect.max_file_bytes}) exceeded "
                f"({size} bytes read)",
                "server_error",
            )
        model = sync.form_text(parts, "model") or ""
        url = sync.form_text(parts, "url") if "file" not in parts else None
        clip = url.encode() if url else parts["file"].data
        wanted = sync.scenario(key)
        if wanted == "insufficient_quota" and dialect.has_quota:
            return error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                code="insufficient_quota",
            )
        if wanted in ("rate_limit", "server_error") and sync.first_attempt(state, name, clip):
            if wanted == "rate_limit":
                return dialect.rate_limit(state.config, model)
            return error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            )
        fault = state.fault(name)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else clip, url)
        except FetchFailed as exc:
            return error(400, f"failed to retrieve media: {exc}", param="url")
        except BadAudio as exc:
            return error(400, f"Audio file might be corrupted or unsupported: {exc}", param="file")
        if seconds < dialect.min_seconds:
            return error(
                400,
                f"Audio file is too short. Minimum audio length is {dialect.min_seconds} seconds.",
                code="audio_too_short",
                param="file",
            )
        await state.wait()
        if sync.form_text(parts, "stream") == "true" and model not in dialect.no_stream_models:
            state.counters[f"{name}.streamed"] += 1
            usage = sync.form_text(parts, "stream_include_usage") == "true"
            return await _sse_reply(request, dialect, state, text, seconds, usage)
        return _reply(
            dialect, state, sync.form_text(parts, "response_format") or "json", text, seconds
        )

    return transcribe


def add_routes(app: web.Application, state: MockState) -> None:
    app.router.add_post(OPENAI.path, handler(state, OPENAI))
    app.router.add_post(VLLM.path, handler(state, VLLM))
