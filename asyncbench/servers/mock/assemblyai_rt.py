"""AssemblyAI Universal-Streaming v3: a WebSocket at `/v3/ws` (keys: `assemblyai-rt`).

Strict: the key in `Authorization` with no scheme (else HTTP 401); `sample_rate` and
`encoding=pcm_s16le` in the query (else 400); the server speaks first (`Begin`); audio frames
are binary, whole 16-bit samples, at most 1000 ms each; the only text message taken is
`{"type": "Terminate"}`, after which nothing may come. Partial `Turn`s (`end_of_turn: false`)
as audio arrives, the final `Turn` `stream_final_delay` seconds after `Terminate`, then
`Termination` and a close 1000. `Begin` carries the session's own `id` (and `expires_at`);
the one turn is `turn_order` 0. Faults as in servers/mock/streaming.py (the error is an
`{"error": ...}` message and a close 1011; the foreign final is another session's `Begin`
and its final turn 0 just before this one's).
"""

from __future__ import annotations

import time

import orjson
from aiohttp import WSMsgType, web

from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import wav_header

NAME = "assemblyai-rt"


def _begin(state: MockState) -> str:
    begin = {"type": "Begin", "id": state.new_id("aai"), "expires_at": int(time.time()) + 3600}
    return orjson.dumps(begin).decode()


def _turn(text: str, end: bool) -> str:
    """A `Turn` with the fields the SDK's `TurnEvent` requires (`format_turns` is off)."""
    turn = {
        "type": "Turn",
        "turn_order": 0,
        "turn_is_formatted": False,
        "end_of_turn": end,
        "transcript": text,
        "end_of_turn_confidence": 0.9 if end else 0.1,
        "words": [],
    }
    return orjson.dumps(turn).decode()


def add_routes(app: web.Application, state: MockState) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        state.counters[f"{NAME}.requests"] += 1
        key = request.headers.get("Authorization", "")
        if " " in key.strip():
            key = ""  # a scheme ("Bearer ...") is not what the service takes
        denied = state.check_key(NAME, key or None)
        if denied is not None:
            return denied
        rate = request.query.get("sample_rate", "")
        if not rate.isdigit() or request.query.get("encoding") != "pcm_s16le":
            return web.json_response({"error": "sample_rate and encoding required"}, status=400)
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        await ws.prepare(request)
        await _serve(ws, state, int(rate))
        return ws

    app.router.add_get("/v3/ws", stream)


async def _serve(ws: web.WebSocketResponse, state: MockState, rate: int) -> None:
    await ws.send_str(_begin(state))
    utterance = Utterance(state)
    audio = bytearray()
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.BINARY:
            if len(msg.data) % 2 or len(msg.data) > 2 * rate:
                await ws.close(code=3005, message=b"audio frames: whole samples, 50-1000 ms")
                return
            audio += msg.data
            partial = utterance.add(msg.data)
            if partial:
                await ws.send_str(_turn(partial, False))
            fault = utterance.fault_now()
            if fault == "drop":
                await ws.close(code=1011)
                return
            if fault == "error":
                await ws.send_str('{"error": "injected mid-stream failure"}')
                await ws.close(code=1011)
                return
            continue
        if msg.type != WSMsgType.TEXT:
            return
        try:
            message = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "Terminate":
            await ws.close(code=3000, message=b"only Terminate is expected as text")
            return
        break
    utterance.end()
    text = await state.recognize(wav_header(len(audio), rate) + bytes(audio))
    if not await utterance.final_due():
        await ws.receive()
        return
    if utterance.foreign():
        await ws.send_str(_begin(state))
        await ws.send_str(_turn(FOREIGN_TEXT, True))
    await ws.send_str(_turn(text, True))
    seconds = len(audio) // (2 * rate)  # whole seconds, as the SDK's TerminationEvent has it
    await ws.send_str(
        orjson.dumps({"type": "Termination", "audio_duration_seconds": seconds}).decode()
    )
    await ws.close(code=1000)
