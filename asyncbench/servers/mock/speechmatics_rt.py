"""Speechmatics real-time protocol: a WebSocket at `/v2` (and `/v2/{language}`) (keys:
`speechmatics-rt`).

Strict about the documented order: a bad `Bearer` key is refused at the upgrade (HTTP 401);
the first message must be a valid `StartRecognition`; audio that arrives before the server has
sent `RecognitionStarted` (the mock waits 20 ms before sending it, to catch clients that do
not wait) is an `Error` `protocol_error` and the session is closed; every binary chunk is
acknowledged with `AudioAdded` (`seq_no` counting from 1); `EndOfStream.last_seq_no` must be a
whole number at or below the number of chunks received (the current SDK sends its own count,
which may lag the acknowledgements). With `enable_partials`, an `AddPartialTranscript` comes
every `stream_partial_every` chunks as audio arrives; `stream_final_delay` seconds after
`EndOfStream`, the `AddTranscript` messages (the text in two halves, in the documented shape:
`format`, `metadata.transcript/start_time/end_time`, `results[]` with word timings and
`alternatives`) and `EndOfTranscript`
(servers/mock/streaming.py; also the injected mid-stream faults: a dropped socket, an `Error`
`internal_error`, a final that never comes, or first another session's `AddTranscript`, its
`metadata.end_time` past the audio this session was sent). Raw audio must be `pcm_s16le` here (the
service also takes `pcm_f32le` and `mulaw`; the mock cannot recognise those). Injected
faults arrive as the service sends them, in-band after the upgrade: a 429 as `Error`
`quota_exceeded` (close 4005), a 503 as `internal_error` (close 1011), a failed job as
`job_error` (close 4013).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import WSMsgType, web

from asyncbench.core.service_languages import SPEECHMATICS_LANGUAGES
from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import BadAudio, wav_header

NAME = "speechmatics-rt"
START_GRACE_S = 0.02
_CLOSE_CODES = {"quota_exceeded": 4005, "job_error": 4013, "internal_error": 1011}


class SessionError(Exception):
    def __init__(self, etype: str, reason: str) -> None:
        super().__init__(reason)
        self.etype = etype
        self.reason = reason


def _check_start(message: Any) -> dict[str, Any]:
    """The audio format of a valid StartRecognition, else SessionError."""
    if not isinstance(message, dict) or message.get("message") != "StartRecognition":
        raise SessionError("protocol_error", "the first message must be StartRecognition")
    fmt = message.get("audio_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("raw", "file"):
        raise SessionError("invalid_audio_type", "audio_format.type must be raw or file")
    if fmt["type"] == "raw":
        rate = fmt.get("sample_rate")
        if fmt.get("encoding") != "pcm_s16le" or not isinstance(rate, int) or rate <= 0:
            raise SessionError(
                "invalid_audio_type", "raw audio needs encoding pcm_s16le and a sample_rate"
            )
    config = message.get("transcription_config")
    if not isinstance(config, dict) or not isinstance(config.get("language"), str):
        raise SessionError("invalid_config", "transcription_config.language is required")
    if config["language"] not in SPEECHMATICS_LANGUAGES:
        raise SessionError("invalid_config", f"language not supported: {config['language']}")
    return fmt


def add_routes(app: web.Application, state: MockState) -> None:
    async def session(request: web.Request) -> web.StreamResponse:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        denied = state.check_key(NAME, state.bearer(request))
        if denied is not None:
            return denied
        fault = state.fault(NAME)
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        await ws.prepare(request)
        try:
            if fault is not None:
                if fault.status == 429:
                    raise SessionError("quota_exceeded", "Concurrent session limit reached")
                raise SessionError("internal_error", "Internal server error")
            await _serve(ws, state)
        except SessionError as exc:
            state.counters[f"{NAME}.errors"] += 1
            await ws.send_str(
                orjson.dumps({"message": "Error", "type": exc.etype, "reason": exc.reason}).decode()
            )
            await ws.close(code=_CLOSE_CODES.get(exc.etype, 1008), message=exc.etype.encode())
        return ws

    app.router.add_get("/v2", session)
    app.router.add_get("/v2/", session)
    app.router.add_get("/v2/{language}", session)


async def _serve(ws: web.WebSocketResponse, state: MockState) -> None:
    first = await ws.receive()
    if first.type != WSMsgType.TEXT:
        raise SessionError("protocol_error", "the first message must be StartRecognition")
    try:
        start = orjson.loads(first.data)
    except orjson.JSONDecodeError:
        raise SessionError("invalid_message", "messages must be JSON") from None
    fmt = _check_start(start)
    state.counters[f"{NAME}.language.{start['transcription_config']['language']}"] += 1
    try:
        await ws.receive(timeout=START_GRACE_S)
    except TimeoutError:
        pass
    else:
        raise SessionError("protocol_error", "message received before RecognitionStarted")
    await _send(ws, {"message": "RecognitionStarted", "id": state.new_id("rt")})

    seq_no = 0
    audio = bytearray()
    partials = start["transcription_config"].get("enable_partials") is True
    utterance = Utterance(state)
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.BINARY:
            seq_no += 1
            audio += msg.data
            await _send(ws, {"message": "AudioAdded", "seq_no": seq_no})
            partial = utterance.add(msg.data)
            if partials and partial:
                await _send(
                    ws, {"message": "AddPartialTranscript", "metadata": {"transcript": partial}}
                )
            fault = utterance.fault_now()
            if fault == "drop":
                await ws.close(code=1006)
                return
            if fault == "error":
                raise SessionError("internal_error", "injected mid-stream failure")
            continue
        if msg.type != WSMsgType.TEXT:
            return  # the client went away
        try:
            message = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            raise SessionError("invalid_message", "messages must be JSON") from None
        if not isinstance(message, dict) or message.get("message") != "EndOfStream":
            raise SessionError("invalid_message", f"unexpected message {str(msg.data)[:100]}")
        last = message.get("last_seq_no")
        if not isinstance(last, int) or isinstance(last, bool) or not 0 <= last <= seq_no:
            raise SessionError(
                "protocol_error",
                f"EndOfStream last_seq_no {last!r} but {seq_no} AddAudio messages were received",
            )
        utterance.end()
        break

    if fmt["type"] == "raw":
        data = wav_header(len(audio), fmt["sample_rate"]) + bytes(audio)
    else:
        data = bytes(audio)
    try:
        text = await state.recognize(data)
    except BadAudio as exc:
        raise SessionError("data_error", str(exc)) from None
    if not await utterance.final_due():
        await ws.receive()  # the final never comes: hold the socket until the client leaves
        return
    if state.job_fails():
        raise SessionError("job_error", "injected failure")
    words = text.split()
    half = (len(words) + 1) // 2
    seconds = len(audio) / (2 * fmt["sample_rate"]) if fmt["type"] == "raw" else 0.0
    step = seconds / max(1, len(words))
    language = start["transcription_config"]["language"]
    if utterance.foreign():  # another session's words, timed on its own (longer) audio
        words_of_other = FOREIGN_TEXT.split()
        other_step = (seconds + 30.0) / len(words_of_other)
        await _send(ws, add_transcript(words_of_other, 0, other_step, language))
    for first, part in ((0, words[:half]), (half, words[half:])):
        if part:
            await _send(ws, add_transcript(part, first, step, language))
    await _send(ws, {"message": "EndOfTranscript"})
    await ws.close()


def add_transcript(words: list[str], first: int, step: float, language: str) -> dict[str, Any]:
    """One `AddTranscript` in the documented shape: `format`, `metadata` (`transcript`,
    `start_time`, `end_time`) and a result per word (the official SDK reads all of it)."""
    results = [
        {
            "type": "word",
            "start_time": round((first + i) * step, 3),
            "end_time": round((first + i + 1) * step, 3),
            "alternatives": [{"content": w, "confidence": 0.99, "language": language}],
        }
        for i, w in enumerate(words)
    ]
    return {
        "message": "AddTranscript",
        "format": "2.9",
        "metadata": {
            "transcript": " ".join(words) + " ",
            "start_time": round(first * step, 3),
            "end_time": round((first + len(words)) * step, 3),
        },
        "results": results,
    }


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(message).decode())
