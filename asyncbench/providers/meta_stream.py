"""Meta Muse Voice realtime, `meta/muse-voice-transcribe-streaming`: one WebSocket per clip.

As the leaderboard's open PR #214 streams it (huggingface/open_asr_leaderboard@455b47de
api/providers/meta_provider.py; docs https://dev.meta.ai/docs/speech-to-text):
`wss://api.meta.ai/v1/asr/realtime` (the full URL may come from `META_REALTIME_ENDPOINT`);
the first frame is JSON `{"authorization": {"accessToken": "Bearer <key>"}, "audioEncoding":
"PCM_16KHZ" | "PCM_24KHZ", "model": "muse-voice-transcribe-1.0", "mode", "partialMode":
"CUMULATIVE", "emitAudioProgress": false, "languageBias": [<name>]}` (mode from
`META_STREAM_MODE`, default `ENDPOINTING`); then the clip as binary 80 ms PCM frames at
real-time pace (`--no_realtime`, or the board's `META_STREAMING_PACE=0`, sends them as fast as
the socket takes them); then 80 ms frames of silence, also paced, until the service says
`speechComplete` (at most 10 s of it: the endpointer must hear the speech stop, or the turn
never closes); then `{"type": "endStream"}`, and the client reads until the server closes.

Server messages: the handshake's acknowledgement (`{"sessionId"}`), `speechStart` and
`speechEnd` (a turn's bounds), `transcript` (a cumulative hypothesis: a partial, timed, never
scored; with `final` in PUSH_TO_TALK mode, a final), `speechComplete` (the turn's
post-processed text: a final) and `error` (`message`, `sessionId`). The streaming metrics are
the ones every streaming provider records (`first_partial_s`, `final_after_end_s`, ...): the
end of audio is the last frame of the clip, before the trailing silence.

Bound to its own session (#28 item 3; the PR reads no id, so these come from the two other
public clients, Pipecat's `MetaSTTService` and LiveKit's `livekit-plugins-meta`, both of
which wait for the handshake's acknowledgement, a message naming the session's `sessionId`,
and read `turnId` on `speechStart`/`speechEnd`/`speechComplete`; all UNCONFIRMED against
Meta's own reference). An untyped message naming a `sessionId` is the session's start: a
second one, or one after a turn event (whose words were then another session's), is a
`protocol` error; so is any message naming another `sessionId` (an `error` too: another
session's 401 is not this key's), a `speechComplete` for a turn this session did not open
(by `speechStart`, or a `transcript` naming it), a second final for a turn, and a turn event
(`speechStart`, a non-empty `transcript`, a final) once endStream is sent, a final has come
and every opened turn has its final: none is scored, the clip is streamed again. Checked
where present, never required: without an acknowledgement, ids or turnIds the stream is
taken as before (the first `sessionId` named is the session's).

Differences from the PR, on purpose: a stream that ends with partials but no final is a
`no_final` failure, retried (the PR scores the last partial); an `error` message that names
401/403 stops the run as a rejected key. UNCONFIRMED (open PR): the error message shape (read
as `{"type": "error", "code", "message"}`), the close codes, and the account's concurrent
session limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, ClassVar

import aiohttp
import orjson

from asyncbench.core.errors import ConfigError, PermanentError, TransientError
from asyncbench.core.streaming import PacedAudio, Timeline
from asyncbench.providers._stream import (
    PCM,
    StreamingProvider,
    protocol_error,
    shown,
    websocket_url,
)
from asyncbench.providers._wire import transcript_string
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.meta import api_model, env_value, language_bias

DEFAULT_URL = "wss://api.meta.ai/v1/asr/realtime"
ENDPOINT_ENV = "META_REALTIME_ENDPOINT"
MODE_ENV = "META_STREAM_MODE"
PACE_ENV = "META_STREAMING_PACE"
ENCODINGS = {16000: "PCM_16KHZ", 24000: "PCM_24KHZ"}
FRAME_MS = 80
MAX_TRAILING_SILENCE_S = 10.0
#: seconds to wait for the server's close once endStream is sent and the turn is complete
CLOSE_WAIT_S = 2.0
#: modes whose turn ends with `speechComplete` (a `final` transcript there is a hypothesis)
ENDPOINTED = frozenset({"ENDPOINTING", "DIARIZATION"})
#: the messages of a turn (Pipecat's and LiveKit's clients; `speaker` and `audioProgress` are
#: not checked: they carry no words)
TURN_EVENTS = frozenset({"speechStart", "transcript", "speechEnd", "speechComplete"})


def ws_url(base: str) -> str:
    """`http(s)://host` → `ws(s)://host/v1/asr/realtime` (a URL with a path keeps it)."""
    return websocket_url(base, "/v1/asr/realtime")


class MetaStreamProvider(StreamingProvider):
    prefixes = ("meta",)
    key_env = "META_API_KEY"
    base_url_env = "META_BASE_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 8
    chunk_ms_default: ClassVar[int | None] = FRAME_MS

    def __init__(self, settings: ProviderSettings) -> None:
        self.api_model = api_model(settings.model, ("muse-voice-transcribe-streaming",))
        super().__init__(settings)
        if settings.streaming.chunk_ms not in (None, FRAME_MS):
            raise ConfigError(f"meta/{settings.model} sends {FRAME_MS} ms frames; drop --chunk_ms")
        endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
        chosen = settings.base_url or os.environ.get(self.base_url_env or "", "").strip()
        self.base_url = ws_url(endpoint if endpoint and not chosen else self.base_url)
        if settings.streaming.realtime is None and env_value(PACE_ENV, "1") == "0":
            self.realtime = False  # the board's switch for unpaced streaming
        self.mode = env_value(MODE_ENV, "ENDPOINTING").upper()
        self.bias = language_bias(settings.language)

    def endpoint_urls(self) -> list[str]:
        return [self.base_url]

    def handshake(self, pcm: PCM) -> dict[str, Any]:
        encoding = ENCODINGS.get(pcm.rate)
        if encoding is None or pcm.channels != 1:
            raise PermanentError(
                "bad_audio",
                f"Meta realtime takes mono 16 or 24 kHz PCM (got {pcm.channels} channel(s) at "
                f"{pcm.rate} Hz)",
            )
        first: dict[str, Any] = {
            "authorization": {"accessToken": f"Bearer {self.api_key}"},
            "audioEncoding": encoding,
            "model": self.api_model,
            "mode": self.mode,
            "partialMode": "CUMULATIVE",
            "emitAudioProgress": False,
        }
        if self.bias:
            first["languageBias"] = self.bias
        return first

    def is_final(self, data: dict[str, Any]) -> bool:
        """`speechComplete`, or (in PUSH_TO_TALK) a `transcript` marked `final`."""
        kind = data.get("type")
        if kind == "speechComplete":
            return True
        return kind == "transcript" and data.get("final") is True and self.mode not in ENDPOINTED

    def error(self, data: dict[str, Any]) -> TransientError | PermanentError:
        """An `error` message: a refused key stops the run, anything else is retried."""
        message = str(data.get("message") or "no message")
        session = data.get("sessionId")
        detail = f"{message} (session {session})" if session else message
        if data.get("code") in (401, 403, "401", "403", "UNAUTHORIZED", "FORBIDDEN"):
            return PermanentError("auth", f"key rejected; check {self.key_env}: {detail}")
        return TransientError("server_error", f"Meta realtime error: {detail}")

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        first = self.handshake(pcm)
        frame = b"\x00" * (pcm.bytes_per_s * FRAME_MS // 1000)
        gap = FRAME_MS / 1000 / self.realtime_factor if self.realtime else 0.0
        complete = asyncio.Event()
        bound = Binding()

        async with self.connect(session, url) as ws:
            await ws.send_str(orjson.dumps(first).decode())

            async def send() -> None:
                async for chunk in audio:
                    await ws.send_bytes(chunk)
                # the endpointer must hear the speech stop before it completes the turn
                sent = 0.0
                while not complete.is_set() and sent < MAX_TRAILING_SILENCE_S:
                    await ws.send_bytes(frame)
                    sent += FRAME_MS / 1000
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(complete.wait(), gap or 0.001)
                await ws.send_str('{"type": "endStream"}')
                bound.ended = True

            sender = asyncio.create_task(send())
            try:
                while True:
                    if timeline.final_times:
                        # the turn is complete: once endStream is sent the close should follow;
                        # a server that keeps the socket open must not make it a timeout
                        try:
                            msg = await ws.receive(timeout=CLOSE_WAIT_S)
                        except TimeoutError:
                            if sender.done():
                                return
                            continue
                    else:
                        msg = await ws.receive()
                    if msg.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED,
                    ):
                        if sender.done() and not sender.cancelled() and sender.exception():
                            raise sender.exception()  # type: ignore[misc]
                        if sender.done() and timeline.final_times:
                            return  # the server closed after endStream and the finals
                        if sender.done():
                            raise TransientError(
                                "no_final",
                                f"the stream ended with {len(timeline.partial_times)} partials "
                                "and no speechComplete",
                            )
                        raise TransientError(
                            "connection",
                            f"stream closed before the final transcript (code {ws.close_code})",
                        )
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            continue
                        raise TransientError("connection", f"WebSocket error: {ws.exception()}")
                    try:
                        data = orjson.loads(msg.data)
                    except orjson.JSONDecodeError:
                        data = None
                    if not isinstance(data, dict):
                        raise TransientError(
                            "bad_response", f"not a Meta message: {msg.data[:200]}"
                        )
                    kind = data.get("type")
                    final = self.is_final(data)
                    bound.check(data, final)
                    if kind == "error":
                        raise self.error(data)
                    if final:
                        timeline.final(
                            transcript_string(data.get("transcript") or "", "transcript")
                        )
                        complete.set()
                    elif kind == "transcript":
                        timeline.partial(
                            transcript_string(data.get("transcript") or "", "transcript")
                        )
            finally:
                if not sender.done():
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender


class Binding:
    """What one session has heard so far, to tell its own messages from another session's
    (the rules are the module docstring's); `check` raises `protocol` on one not its own."""

    def __init__(self) -> None:
        #: the session's id: the acknowledgement's, else the first one a message names
        self.own: object = None
        self.started = False
        #: the first turn event heard before the acknowledgement
        self.early: str | None = None
        #: turns opened, and those with their final (by turnId, as text: 0 and "0" are one)
        self.opened: set[str] = set()
        self.done: set[str] = set()
        #: turns opened by a `speechStart` without a turnId and not yet final
        self.anonymous = 0
        self.finals = 0
        #: endStream has been sent (set by the sender)
        self.ended = False

    def where(self) -> str:
        return f" (session {shown(self.own)})" if self.own is not None else ""

    def complete(self) -> bool:
        """endStream sent, a final heard, and every opened turn final: only a close is due."""
        pending = self.anonymous or self.opened - self.done
        return self.ended and self.finals > 0 and not pending

    def check(self, data: dict[str, Any], final: bool) -> None:
        kind = data.get("type")
        named = data.get("sessionId")
        if kind is None and named is not None:
            self.start(named)
            return
        if named is not None:
            if self.own is None:
                self.own = named
            elif named != self.own:
                article = "an" if str(kind)[:1] in "aeiou" else "a"
                raise protocol_error(
                    f"{article} {str(kind)[:60]} of session {shown(named)}, not this stream's "
                    f"{shown(self.own)}"
                )
        if kind not in TURN_EVENTS:
            return
        if not self.started and self.early is None:
            self.early = str(kind)
        words = kind != "transcript" or bool(data.get("transcript"))
        if kind != "speechEnd" and words and self.complete():
            raise protocol_error(
                f"a {kind} after endStream and the session's last turn{self.where()}"
            )
        turn = None if data.get("turnId") is None else str(data.get("turnId"))[:60]
        if kind in ("speechStart", "transcript") and turn is not None:
            self.opened.add(turn)
        elif kind == "speechStart":
            self.anonymous += 1
        if not final:
            return
        self.finals += 1
        if turn is None:
            self.anonymous = max(0, self.anonymous - 1)
            return
        if turn in self.done:
            raise protocol_error(f"a second {kind} for turn {shown(turn)}{self.where()}")
        if not self.opened:
            # no opening event has named a turn: this service does not open turns by id
            # (UNCONFIRMED either way), so a final's turnId cannot be held against one
            self.anonymous = max(0, self.anonymous - 1)
        elif turn not in self.opened:
            who = f"session {shown(self.own)}" if self.own is not None else "this session"
            raise protocol_error(f"a {kind} for turn {shown(turn)}, which {who} did not open")
        self.done.add(turn)

    def start(self, named: object) -> None:
        """The acknowledgement of the handshake: the session's start, once and first."""
        if self.started:
            raise protocol_error(
                f"a second session start (session {shown(named)}) inside session {shown(self.own)}"
            )
        if self.early is not None:
            raise protocol_error(
                f"a {self.early} before the session started (session {shown(named)})"
            )
        if self.own is not None and named != self.own:
            raise protocol_error(
                f"the session start names {shown(named)}, but its messages {shown(self.own)}"
            )
        self.started = True
        self.own = named
