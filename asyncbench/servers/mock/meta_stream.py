"""Meta Muse Voice realtime protocol: a WebSocket at `/v1/asr/realtime` (keys: `meta`, the same
account key as the file endpoint; counters `meta-stream.*`).

Strict about what the client must get right (open PR #214's client; the real rules are
UNCONFIRMED): the first frame is the JSON handshake, with the key in
`authorization.accessToken` as `Bearer <key>` (else an `error` message with code 401 and a
close 1008); `audioEncoding` PCM_16KHZ or PCM_24KHZ, the versioned model, a known `mode`,
`partialMode` CUMULATIVE and a valid `languageBias` (else an `error` with code 400). An
accepted handshake is acknowledged with `{"sessionId": <the session's own id>}` (as Pipecat's
and LiveKit's Meta clients read it; the service's exact shape is UNCONFIRMED), and an `error`
mid-stream names that `sessionId` too (the PR prints it). Then binary frames of whole 16-bit
samples, at most 80 ms each (a longer frame closes 1008). The turn is `turnId` 0: a
`speechStart` with the first frame, a `transcript` with the cumulative hypothesis every
`stream_partial_every` frames. The turn completes only after the endpointer hears the speech
stop: two all-zero frames after audio (`speechEnd`). Then, `stream_final_delay` later, a
final `transcript` and `speechComplete` with the text. `{"type": "endStream"}` ends the
stream: the mock closes 1000 (a client that sends it without trailing silence gets no
`speechComplete`), and nothing may follow it. Counters: `meta-stream.requests`,
`.silence_frames`, `.frames_over_80ms`. Mid-stream faults as in servers/mock/streaming.py (the
error is an `error` message; `foreign`: another session's acknowledgement, its own
`sessionId`, and its `speechComplete` of turn 0 come just before this turn's final).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import WSMsgType, web

from asyncbench.servers.mock.meta import check_config
from asyncbench.servers.mock.state import MockState
from asyncbench.servers.mock.streaming import FOREIGN_TEXT, Utterance
from asyncbench.sources.audio import wav_header

NAME = "meta-stream"
KEYS = "meta"  # one Meta key serves both transports
PATH = "/v1/asr/realtime"
RATES = {"PCM_16KHZ": 16000, "PCM_24KHZ": 24000}
FRAME_MS = 80
#: consecutive all-zero frames after speech that end the turn
SILENCE_FRAMES = 2
#: the one turn of a session (the service numbers them per session: UNCONFIRMED)
TURN = 0


def _json(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def _turn(kind: str, text: str, **fields: Any) -> str:
    """A message of the session's turn carrying its text."""
    return _json({"type": kind, "turnId": TURN, "transcript": text, **fields})


async def _refuse(ws: web.WebSocketResponse, code: int, message: str) -> None:
    await ws.send_str(_json({"type": "error", "code": code, "message": message}))
    await ws.close(code=1008, message=message.encode()[:120])


def _check_handshake(first: Any, state: MockState) -> tuple[int, str] | None:
    """(code, why) the handshake is refused, else None."""
    if not isinstance(first, dict):
        return 400, "the first frame must be the JSON handshake"
    token = (first.get("authorization") or {}).get("accessToken", "")
    scheme, _, key = str(token).partition(" ")
    if state.check_key(KEYS, key.strip() if scheme == "Bearer" else None) is not None:
        return 401, "Invalid OAuth access token"
    unknown = sorted(
        set(first)
        - {"authorization", "audioEncoding", "model", "mode", "partialMode",
           "emitAudioProgress", "languageBias"}
    )  # fmt: skip
    if unknown:
        return 400, f"unknown handshake field(s): {', '.join(unknown)}"
    encoding = first.get("audioEncoding")
    if encoding not in RATES:
        return 400, "audioEncoding must be PCM_16KHZ or PCM_24KHZ"
    why = check_config({**first, "audioEncoding": "WAV"}, "WAV")
    if why is None and first.get("partialMode") not in ("CUMULATIVE", "DELTA"):
        why = "partialMode must be CUMULATIVE or DELTA"
    return (400, why) if why else None


def add_routes(app: web.Application, state: MockState) -> None:
    async def realtime(request: web.Request) -> web.StreamResponse:
        state.counters[f"{NAME}.requests"] += 1
        ws = web.WebSocketResponse(max_msg_size=16 * 2**20)
        await ws.prepare(request)
        msg = await ws.receive()
        try:
            first = orjson.loads(msg.data) if msg.type == WSMsgType.TEXT else None
        except orjson.JSONDecodeError:
            first = None
        refused = _check_handshake(first, state)
        if refused is not None:
            await _refuse(ws, *refused)
            return ws
        assert isinstance(first, dict)
        state.last_request[f"{NAME} handshake"] = {
            k: v for k, v in first.items() if k != "authorization"
        }
        session = state.new_id("meta")
        await ws.send_str(_json({"sessionId": session}))
        await _serve(ws, state, RATES[first["audioEncoding"]], session)
        return ws

    app.router.add_get(PATH, realtime)


async def _serve(ws: web.WebSocketResponse, state: MockState, rate: int, session: str) -> None:
    utterance = Utterance(state)
    audio = bytearray()
    max_frame = rate * 2 * FRAME_MS // 1000
    silent = 0
    completed = False
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.BINARY:
            data = bytes(msg.data)
            if len(data) % 2 or len(data) > max_frame:
                state.counters[f"{NAME}.frames_over_80ms"] += len(data) > max_frame
                await ws.close(code=1008, message=b"frames are whole samples, at most 80 ms")
                return
            if completed:
                continue  # the turn is over; the client may still be sending silence
            if not audio:
                await ws.send_str(_json({"type": "speechStart", "turnId": TURN}))
            is_silence = audio and not any(data)
            silent = silent + 1 if is_silence else 0
            state.counters[f"{NAME}.silence_frames"] += bool(is_silence)
            audio += data
            partial = utterance.add(data)
            if partial:
                await ws.send_str(_turn("transcript", partial))
            fault = utterance.fault_now()
            if fault == "drop":
                await ws.close(code=1011)
                return
            if fault == "error":
                error = {"type": "error", "code": 500, "message": "injected", "sessionId": session}
                await ws.send_str(_json(error))
                await ws.close(code=1011)
                return
            if silent >= SILENCE_FRAMES:
                completed = True
                utterance.end()
                await ws.send_str(_json({"type": "speechEnd", "turnId": TURN}))
                if not await utterance.final_due():
                    continue  # the no_final fault: the turn never completes
                if utterance.foreign():
                    await ws.send_str(_json({"sessionId": state.new_id("meta")}))
                    await ws.send_str(_turn("speechComplete", FOREIGN_TEXT))
                text = await state.recognize(wav_header(len(audio), rate) + bytes(audio))
                await ws.send_str(_turn("transcript", text, final=True))
                await ws.send_str(_turn("speechComplete", text))
            continue
        if msg.type != WSMsgType.TEXT:
            return
        try:
            message = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "endStream":
            await ws.close(code=1008, message=b"only endStream may follow the handshake")
            return
        state.counters[f"{NAME}.end_streams"] += 1
        await ws.close(code=1000)
        return
