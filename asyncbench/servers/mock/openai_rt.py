"""OpenAI realtime transcription: a WebSocket at `/v1/realtime?intent=transcription`
(keys: `openai-rt`).

Strict about what the client must get right: `Authorization: Bearer <key>` on the upgrade
(else HTTP 401); `intent=transcription` in the query and no `model` (else 400, as a model
URL opens a conversation session). The server speaks first (`session.created`); every client
message is a JSON text frame with a known `type`. Audio needs a `session.update` first, with
`session.type: "transcription"`, `audio.input.format` `{"type": "audio/pcm", "rate": 24000}`
(any other rate, e.g. 16000, is refused: the API takes 24 kHz only), a transcription `model`
the SDK lists, and `turn_detection: null` (the mock has no VAD: the client commits). An
`input_audio_buffer.append` carries base64 `audio` of whole 16-bit samples. Each refusal is
the documented `error` event (`error.type` `invalid_request_error`, a `code`, `message`,
`param`, the client's `event_id`), and the session stays open, as the service keeps it.

The audio is resampled 24 -> 16 kHz as it arrives (soxr, streaming) and read by the shared
`Utterance` (the clip's rate-robust watermark), so deltas grow as audio is heard, every
`stream_partial_every` appends. `input_audio_buffer.commit` (at least 100 ms of audio, else
`input_audio_buffer_commit_empty`) answers `input_audio_buffer.committed`, and the
`...transcription.completed` of that item comes `stream_final_delay` seconds later. Faults
as in servers/mock/streaming.py: "drop" closes with 1011, "error" sends a `server_error`
event (and no final), "no_final" never completes, "foreign" first completes another item
(another session's words).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Any

import numpy as np
import orjson
import soxr
from aiohttp import WSMsgType, web

from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import wav_header

NAME = "openai-rt"
RATE = 24000
#: the transcription models of the SDK's `AudioTranscription` (openai 3.57.0)
MODELS = frozenset(
    {
        "whisper-1",
        "gpt-transcribe",
        "gpt-live-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe",
        "gpt-4o-transcribe-diarize",
        "gpt-realtime-whisper",
    }
)
CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
)
MIN_COMMIT_BYTES = RATE * 2 // 10  # 100 ms


def _event(state: MockState, kind: str, **fields: Any) -> str:
    return orjson.dumps({"event_id": state.new_id("event_"), "type": kind, **fields}).decode()


def _error(
    state: MockState, message: str, code: str, param: str | None = None, **extra: Any
) -> str:
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
    return _event(state, "error", error={**error, **extra})


def _at(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or {} where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return {} if value is None else value


def _bad_session(session: Any) -> tuple[str, str, str] | None:
    """(message, code, param) of what is wrong with a `session.update`'s session."""
    if not isinstance(session, dict) or session.get("type") != "transcription":
        return "session.type must be 'transcription' here", "invalid_value", "session.type"
    audio_in = _at(session, "audio", "input")
    fmt = _at(audio_in, "format")
    if not isinstance(audio_in, dict) or not isinstance(fmt, dict):
        return "audio.input.format must be an object", "invalid_type", "session.audio.input"
    if fmt.get("type") != "audio/pcm":
        return "the format must be audio/pcm", "invalid_value", "session.audio.input.format.type"
    if fmt.get("rate", RATE) != RATE:
        return (
            f"Invalid value: {fmt.get('rate')}. Only a 24000 Hz sample rate is supported.",
            "invalid_value",
            "session.audio.input.format.rate",
        )
    model = _at(audio_in, "transcription", "model")
    if not isinstance(model, str) or model not in MODELS:
        return f"unknown transcription model {model!r}", "invalid_value", "model"
    if audio_in.get("turn_detection", "missing") is not None:
        return (
            "the mock commits manually only: send turn_detection null",
            "invalid_value",
            "session.audio.input.turn_detection",
        )
    return None


def add_routes(app: web.Application, state: MockState) -> None:
    async def realtime(request: web.Request) -> web.StreamResponse:
        state.record(NAME, request)
        denied = state.check_key(NAME, state.bearer(request))
        if denied is not None:
            return denied
        if request.query.get("intent") != "transcription" or "model" in request.query:
            state.counters[f"{NAME}.400"] += 1
            error = {
                "type": "invalid_request_error",
                "code": "invalid_intent",
                "message": "transcription sessions use ?intent=transcription and no model",
            }
            return web.json_response({"error": error}, status=400)
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        await ws.prepare(request)
        await Session(ws, state).serve()
        return ws

    app.router.add_get("/v1/realtime", realtime)


class Session:
    """One transcription session: the configuration, the current buffer and its item."""

    def __init__(self, ws: web.WebSocketResponse, state: MockState) -> None:
        self.ws = ws
        self.state = state
        self.configured: dict[str, Any] | None = None
        self.previous: str | None = None
        self._new_turn()

    def _new_turn(self) -> None:
        self.utterance = Utterance(self.state)
        self.down = soxr.ResampleStream(RATE, 16000, 1, dtype="int16")
        self.pcm16 = bytearray()
        self.received = 0  # bytes at 24 kHz
        self.item = self.state.new_id("item_")
        self.words_sent = 0
        self.failed = False

    async def send(self, text: str) -> None:
        """Send an event, unless the client has gone (it gave up on the final): a late
        `completed` for nobody is not the mock's error."""
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionResetError):
            await self.ws.send_str(text)

    async def serve(self) -> None:
        session = {"type": "transcription", "id": self.state.new_id("sess_"), "audio": {}}
        await self.send(_event(self.state, "session.created", session=session))
        while True:
            msg = await self.ws.receive()
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await self.send(_error(self.state, "send JSON text events", "invalid_event"))
                    continue
                return
            try:
                event = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                event = None
            if not isinstance(event, dict) or event.get("type") not in CLIENT_EVENTS:
                kind = event.get("type") if isinstance(event, dict) else None
                await self.send(
                    _error(self.state, f"Invalid value: {kind!r}", "invalid_value", "type")
                )
                continue
            if await self.handle(event) is False:
                return

    async def handle(self, event: dict[str, Any]) -> bool:
        """One client event; False once the session is over (dropped)."""
        state, kind, eid = self.state, event["type"], event.get("event_id")
        if kind == "session.update":
            problem = _bad_session(event.get("session"))
            if problem is not None:
                state.counters[f"{NAME}.errors"] += 1
                await self.send(_error(state, *problem, event_id=eid))
                return True
            self.configured = event["session"]
            await self.send(_event(state, "session.updated", session=self.configured))
            return True
        if self.configured is None:
            state.counters[f"{NAME}.errors"] += 1
            message = "configure the session (session.update) before sending audio"
            await self.send(_error(state, message, "session_not_configured", event_id=eid))
            return True
        if kind == "input_audio_buffer.clear":
            self._new_turn()
            await self.send(_event(state, "input_audio_buffer.cleared"))
            return True
        if kind == "input_audio_buffer.append":
            return await self.append(event)
        return await self.commit(eid)

    async def append(self, event: dict[str, Any]) -> bool:
        state = self.state
        try:
            audio = base64.b64decode(event.get("audio") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            audio = None
        if not audio or len(audio) % 2:
            state.counters[f"{NAME}.errors"] += 1
            message = "audio must be base64 PCM16: whole 16-bit samples"
            await self.send(_error(state, message, "invalid_value", "audio", event_id=None))
            return True
        self.received += len(audio)
        chunk = self.down.resample_chunk(np.frombuffer(audio, dtype="<i2")).astype("<i2")
        self.pcm16 += chunk.tobytes()
        partial = self.utterance.add(chunk.tobytes())
        if partial and not self.failed:
            words = partial.split()
            if len(words) > self.words_sent:
                delta = " ".join(words[self.words_sent :])
                delta = delta if self.words_sent == 0 else " " + delta
                self.words_sent = len(words)
                await self.send(self._delta(self.item, delta))
        fault = self.utterance.fault_now()
        if fault == "drop":
            await self.ws.close(code=1011)
            return False
        if fault == "error":
            state.counters[f"{NAME}.errors"] += 1
            error = {"type": "server_error", "code": None, "message": "injected mid-stream failure"}
            await self.send(_event(state, "error", error=error))
            self.failed = True  # the service stays up, but this item never completes
        return True

    def _delta(self, item: str, text: str) -> str:
        return _event(
            self.state,
            "conversation.item.input_audio_transcription.delta",
            item_id=item,
            content_index=0,
            delta=text,
        )

    async def commit(self, eid: str | None) -> bool:
        state = self.state
        if self.received < MIN_COMMIT_BYTES:
            state.counters[f"{NAME}.errors"] += 1
            ms = self.received / (RATE * 2) * 1000
            message = (
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {ms:.2f}ms of audio."
            )
            await self.send(_error(state, message, "input_audio_buffer_commit_empty", event_id=eid))
            return True
        tail = self.down.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self.pcm16 += tail.astype("<i2").tobytes()
        self.utterance.end()
        item, failed, seconds = self.item, self.failed, self.received / (RATE * 2)
        await self.send(
            _event(
                state,
                "input_audio_buffer.committed",
                item_id=item,
                previous_item_id=self.previous,
            )
        )
        self.previous = item
        text = await state.recognize(wav_header(len(self.pcm16)) + bytes(self.pcm16))
        utterance, words_sent = self.utterance, self.words_sent
        self._new_turn()
        if failed or not await utterance.final_due():
            return True  # this item never completes; the session stays open
        if utterance.foreign():
            other = _event(
                state,
                "conversation.item.input_audio_transcription.completed",
                item_id=state.new_id("item_"),
                content_index=0,
                transcript=FOREIGN_TEXT,
            )
            await self.send(other)
        rest = text.split()[words_sent:]
        if rest:
            delta = " ".join(rest)
            await self.send(self._delta(item, delta if words_sent == 0 else " " + delta))
        completed = _event(
            state,
            "conversation.item.input_audio_transcription.completed",
            item_id=item,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )
        await self.send(completed)
        return True
