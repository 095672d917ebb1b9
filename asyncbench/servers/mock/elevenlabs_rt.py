"""ElevenLabs Scribe realtime: a WebSocket at `/v1/speech-to-text/realtime` (keys:
`elevenlabs-rt`).

Strict about what the client must get right, as the API reference and the `elevenlabs` SDK have
it: the key in `xi-api-key` (else HTTP 401; an `Authorization` header is no key); the query must
carry `model_id`, an `audio_format` of the documented list, a `commit_strategy` of `manual` or
`vad` when given, booleans (`include_timestamps`, ...) as `true`/`false` (else HTTP 400). The
server speaks first (`session_started`, with the session's `config`), `latency` seconds after the
upgrade; a message before it is an `input_error`. Every client message must be a JSON text
`input_audio_chunk` with a string `audio_base_64` that decodes (as whole 16-bit samples for
`pcm_*`), a boolean `commit`, the `sample_rate` of the declared format, and `previous_text` only
on the first chunk; anything else is answered with an `input_error` message and a close 1008.

`partial_transcript`s come as audio arrives (every `stream_partial_every` chunks); a commit
makes the `committed_transcript` of the audio since the last commit come `stream_final_delay`
seconds later (then `committed_transcript_with_timestamps` when `include_timestamps=true`), and
the session stays open for more audio until the client closes. Mid-stream faults as in
servers/mock/streaming.py: `drop` closes with 1011, `error` sends a `transcriber_error` message
and closes 1011, `no_final` never answers the commit, `foreign` answers it first with another
session's `session_started` (its own `session_id`) and committed transcript.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from asyncbench.core.languages import ISO639_1
from asyncbench.core.service_languages import ISO639_3
from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import wav_header

NAME = "elevenlabs-rt"
PATH = "/v1/speech-to-text/realtime"
#: `audio_format` -> sample rate (the SDK's `AudioFormat`)
FORMATS = {
    "pcm_8000": 8000,
    "pcm_16000": 16000,
    "pcm_22050": 22050,
    "pcm_24000": 24000,
    "pcm_44100": 44100,
    "pcm_48000": 48000,
    "ulaw_8000": 8000,
}
_BOOL_PARAMS = (
    "include_timestamps",
    "include_language_detection",
    "no_verbatim",
    "filter_background_audio",
    "enable_logging",
)
_LANGUAGES = frozenset(ISO639_1) | frozenset(ISO639_3.values())


def _message(kind: str, **fields: Any) -> str:
    return orjson.dumps({"message_type": kind, **fields}).decode()


def _bad_query(query: Any) -> str | None:
    if not query.get("model_id"):
        return "model_id is required"
    if query.get("audio_format", "pcm_16000") not in FORMATS:
        return f"audio_format must be one of {', '.join(FORMATS)}"
    if query.get("commit_strategy", "manual") not in ("manual", "vad"):
        return "commit_strategy must be manual or vad"
    for flag in _BOOL_PARAMS:
        if query.get(flag, "false") not in ("true", "false"):
            return f"{flag} must be true or false"
    lang = query.get("language_code")
    if lang is not None and lang not in _LANGUAGES:
        return f"language_code {lang!r} is not an ISO 639-1 or ISO 639-3 code"
    return None


def add_routes(app: web.Application, state: MockState) -> None:
    async def realtime(request: web.Request) -> web.StreamResponse:
        state.record(NAME, request)
        denied = state.check_key(NAME, request.headers.get("xi-api-key"))
        if denied is not None:
            return denied
        problem = _bad_query(request.query)
        if problem is not None:
            state.counters[f"{NAME}.400"] += 1
            return web.json_response(
                {"detail": {"status": "invalid_request", "message": problem}}, status=400
            )
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        await ws.prepare(request)
        await Session(ws, state, request.query).serve()
        return ws

    app.router.add_get(PATH, realtime)


class Session:
    """One realtime session: the start, the chunks, the commits."""

    def __init__(self, ws: web.WebSocketResponse, state: MockState, query: Any) -> None:
        self.ws = ws
        self.state = state
        self.format = query.get("audio_format", "pcm_16000")
        self.rate = FORMATS[self.format]
        self.timestamps = query.get("include_timestamps") == "true"
        self.config = {
            "sample_rate": self.rate,
            "audio_format": self.format,
            "language_code": query.get("language_code"),
            "commit_strategy": query.get("commit_strategy", "manual"),
            "model_id": query.get("model_id"),
            "include_timestamps": self.timestamps,
        }
        self.chunks = 0

    async def refuse(self, kind: str, why: str, code: int = 1008) -> None:
        """An error message, then the close (the docs: the error comes before the close)."""
        self.state.counters[f"{NAME}.{kind}"] += 1
        await self.ws.send_str(_message(kind, error=why))
        await self.ws.close(code=code, message=why.encode()[:120])

    async def serve(self) -> None:
        # the session starts after the service's own start-up time; a client that talks
        # before `session_started` is caught while it waits
        early = asyncio.ensure_future(self.ws.receive())
        done, _ = await asyncio.wait({early}, timeout=self.state.delay())
        if done:
            msg = early.result()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await self.refuse("input_error", "audio sent before session_started")
            return
        session_id = self.state.new_id("el")
        await self.ws.send_str(
            _message("session_started", session_id=session_id, config=self.config)
        )
        utterance = Utterance(self.state)
        audio = bytearray()
        pending: asyncio.Future[Any] | None = early
        while True:
            msg = await (pending if pending is not None else self.ws.receive())
            pending = None
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await self.refuse("input_error", "messages must be JSON text")
                return  # the client closed (or the socket failed)
            chunk = await self.read_chunk(msg.data)
            if chunk is None:
                return
            data, commit = chunk
            if data:
                audio += data
                partial = utterance.add(data)
                if partial:
                    await self.ws.send_str(_message("partial_transcript", text=partial))
                fault = utterance.fault_now()
                if fault == "drop":
                    await self.ws.close(code=1011)
                    return
                if fault == "error":
                    await self.refuse("transcriber_error", "injected mid-stream failure", 1011)
                    return
            if not commit:
                continue
            utterance.end()
            if not await utterance.final_due():
                await self.ws.receive()  # the commit is never answered
                return
            if utterance.foreign():
                other = _message("session_started", session_id=self.state.new_id("el"))
                await self.ws.send_str(other)
                await self.ws.send_str(_message("committed_transcript", text=FOREIGN_TEXT))
            text = ""  # a commit with nothing since the last one (unconfirmed reply)
            if audio:
                text = await self.state.recognize(wav_header(len(audio), self.rate) + audio)
            await self.ws.send_str(_message("committed_transcript", text=text))
            if self.timestamps:
                await self.ws.send_str(self.with_timestamps(text, len(audio) / 2 / self.rate))
            self.state.counters[f"{NAME}.commits"] += 1
            utterance, audio = Utterance(self.state), bytearray()  # the next segment

    def with_timestamps(self, text: str, seconds: float) -> str:
        """The segment again with word timings (spread evenly: the mock hears no words)."""
        words = text.split()
        step = seconds / max(1, len(words))
        timed = [
            {
                "text": w,
                "start": round(i * step, 3),
                "end": round((i + 1) * step, 3),
                "type": "word",
            }
            for i, w in enumerate(words)
        ]
        return _message(
            "committed_transcript_with_timestamps", text=text, language_code="en", words=timed
        )

    async def read_chunk(self, raw: str) -> tuple[bytes, bool] | None:
        """(audio, commit) of one `input_audio_chunk`; None once the message was refused."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or message.get("message_type") != "input_audio_chunk":
            await self.refuse("input_error", "expected an input_audio_chunk message")
            return None
        b64 = message.get("audio_base_64")
        commit = message.get("commit", False)
        if not isinstance(b64, str) or not isinstance(commit, bool):
            await self.refuse("input_error", "audio_base_64 (string) and commit (bool) expected")
            return None
        if message.get("sample_rate") != self.rate:
            await self.refuse("input_error", f"sample_rate must be {self.rate} for {self.format}")
            return None
        if message.get("previous_text") is not None and self.chunks:
            await self.refuse("input_error", "previous_text may only come with the first chunk")
            return None
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            await self.refuse("input_error", "audio_base_64 is not base64")
            return None
        if self.format.startswith("pcm_") and len(data) % 2:
            await self.refuse("input_error", "pcm audio must be whole 16-bit samples")
            return None
        if data:
            self.chunks += 1
        return data, commit
