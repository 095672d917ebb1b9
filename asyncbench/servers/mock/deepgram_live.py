"""Deepgram live streaming: a WebSocket at `/v1/listen` (keys: `deepgram-live`).

Strict about what the client must get right: `Authorization: Token <key>` on the upgrade
(else HTTP 401); the query must say `encoding=linear16`, a positive `sample_rate`,
`channels=1` and `interim_results=true`; audio frames are binary and whole 16-bit samples; a
text frame must be JSON with `type` `KeepAlive`, `Finalize` or `CloseStream`, and nothing may
follow `CloseStream`. Interim `Results` (`is_final: false`) come as audio arrives, every
`stream_partial_every` frames; after `Finalize` (or `CloseStream`) the final `Results`
(`is_final: true`, `speech_final: true`) comes `stream_final_delay` seconds later, then
`Metadata` and a close 1000. Each stream has its own request id, as the service gives it: the
`dg-request-id` header of the upgrade, `metadata.request_id` in every `Results` and
`request_id` in `Metadata`. Mid-stream faults as in servers/mock/streaming.py (the error
is a close 1011 with a reason, as the service closes on an internal error; the foreign final
is a final `Results` of another request id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import wav_header

NAME = "deepgram-live"


#: the model the mock says it ran (`metadata.model_info` / `model_uuid` of each Results)
_MODEL_INFO = {"name": "general-nova-3", "version": "2024-12-20.0", "arch": "nova-3"}
_MODEL_UUID = "40bd3654-e622-47c4-a111-63a61b23bfe2"


def _results(text: str, final: bool, request_id: str, seconds: float) -> str:
    """A `Results` with the fields the SDK's `ListenV1Results` requires: the audio so far
    as one span from 0 (the mock hears no word timings)."""
    return orjson.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "start": 0.0,
            "duration": round(seconds, 3),
            "is_final": final,
            "speech_final": final,
            "from_finalize": final,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.99, "words": []}]},
            "metadata": {
                "request_id": request_id,
                "model_info": _MODEL_INFO,
                "model_uuid": _MODEL_UUID,
            },
        }
    ).decode()


def _metadata(request_id: str, seconds: float) -> str:
    """The closing `Metadata`, with the fields the SDK's `ListenV1Metadata` requires."""
    return orjson.dumps(
        {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": request_id,
            "sha256": "0" * 64,
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "duration": round(seconds, 3),
            "channels": 1,
        }
    ).decode()


def _bad_query(query: Any) -> str | None:
    if query.get("encoding") != "linear16":
        return "encoding must be linear16 for raw audio"
    if not query.get("sample_rate", "").isdigit() or int(query["sample_rate"]) <= 0:
        return "sample_rate is required with encoding"
    if query.get("channels", "1") != "1":
        return "the mock takes one channel"
    if query.get("interim_results") != "true":
        return "interim_results=true is expected (partials are measured)"
    return None


def add_routes(app: web.Application, state: MockState) -> None:
    async def listen(request: web.Request) -> web.StreamResponse:
        state.counters[f"{NAME}.requests"] += 1
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        denied = state.check_key(NAME, key.strip() if scheme == "Token" else None)
        if denied is not None:
            return denied
        problem = _bad_query(request.query)
        if problem is not None:
            state.counters[f"{NAME}.400"] += 1
            return web.json_response({"err_code": "Bad Request", "err_msg": problem}, status=400)
        request_id = state.new_id("dg")
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        ws.headers["dg-request-id"] = request_id  # sent with the 101 (aiohttp keeps it)
        await ws.prepare(request)
        await _serve(ws, state, int(request.query["sample_rate"]), request_id)
        return ws

    app.router.add_get("/v1/listen", listen)


async def _serve(ws: web.WebSocketResponse, state: MockState, rate: int, request_id: str) -> None:
    utterance = Utterance(state)
    audio = bytearray()
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.BINARY:
            if len(msg.data) % 2:
                await ws.close(code=1008, message=b"audio frames must be whole 16-bit samples")
                return
            audio += msg.data
            partial = utterance.add(msg.data)
            if partial:
                seconds = len(audio) / (2 * rate)
                await ws.send_str(_results(partial, False, request_id, seconds))
            fault = utterance.fault_now()
            if fault == "drop":
                await ws.close(code=1011)
                return
            if fault == "error":
                state.counters[f"{NAME}.errors"] += 1
                await ws.close(code=1011, message=b"injected mid-stream failure")
                return
            continue
        if msg.type != WSMsgType.TEXT:
            return
        try:
            message = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "KeepAlive":
            continue
        if kind not in ("Finalize", "CloseStream"):
            await ws.close(code=1008, message=b"unknown control message")
            return
        if not audio:
            await ws.close(code=1008, message=b"no audio before the end of the stream")
            return
        break
    utterance.end()
    seconds = len(audio) / (2 * rate)
    text = await state.recognize(wav_header(len(audio), rate) + bytes(audio))
    if kind == "Finalize":  # CloseStream must follow, and nothing after it
        nxt = await ws.receive()
        closing = orjson.loads(nxt.data) if nxt.type == WSMsgType.TEXT else None
        if not isinstance(closing, dict) or closing.get("type") != "CloseStream":
            await ws.close(code=1008, message=b"CloseStream expected after Finalize")
            return
    if not await utterance.final_due():
        await ws.receive()
        return
    if utterance.foreign():
        # another stream's final, on that stream's own (longer) timeline
        await ws.send_str(_results(FOREIGN_TEXT, True, state.new_id("dg"), seconds + 30.0))
    await ws.send_str(_results(text, True, request_id, seconds))
    await ws.send_str(_metadata(request_id, seconds))
    await ws.close(code=1000)
