"""AssemblyAI Universal-Streaming (v3): one WebSocket per clip, `Begin`, `Turn`s, `Termination`.

Wire facts (docs/STREAMING.md, AssemblyAI's "Message Sequence" page):
`wss://streaming.assemblyai.com/v3/ws?sample_rate=<rate>&encoding=pcm_s16le` with the key in
the `Authorization` header (no scheme; the docs' other way, a temporary token as `?token=`,
is not built here). The server speaks first with `Begin`;
audio goes as binary raw PCM frames (the docs recommend about 50 ms, the default here);
`Turn` messages carry the running `transcript` of turn `turn_order`: `end_of_turn: false` is a
partial (timed, never scored), `end_of_turn: true` the final of that turn. The client ends with
`{"type": "Terminate"}`; the server sends the turns still in flight, then `Termination`, and
closes with 1000. A socket closed before `Begin` is a per-sample `protocol` error.

Bound to its own session: `Begin` carries the session `id`, and `Turn`s carry no id, so the
binding is the protocol's order (the SDK's `BeginEvent`/`TurnEvent` and the "Message
Sequence" page): one `Begin` per socket (a second one is another session's), turns numbered
from 0 up by one (`turn_order`), each turn's messages before its final and none after it
(but the formatted copy of a final that `format_turns` adds, skipped), and `Termination` only
after this client's `Terminate` (before it, the finals are a part of the clip, or another
session's). Anything else is a `protocol` error, never scored; a `Turn` without an integer
`turn_order` (the SDK requires one) is a `bad_response`.

Unconfirmed: the host name and the header (from the docs' sequence diagram: "connect (token,
speech_model, sample_rate, ...)"); the temporary-token path is not built; `format_turns` is
left off, so each turn has one final (with it on, a second, formatted final would follow).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar
from urllib.parse import urlencode

import aiohttp

from asyncbench.core.errors import TransientError
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

DEFAULT_URL = "wss://streaming.assemblyai.com/v3/ws"


def ws_url(base: str) -> str:
    """`http(s)://host` → `ws(s)://host/v3/ws` (a URL with no path gets `/v3/ws`)."""
    return websocket_url(base, "/v3/ws")


class AssemblyAIRTProvider(StreamingProvider):
    prefixes = ("assemblyai-rt",)
    key_env = "ASSEMBLYAI_API_KEY"
    base_url_env = "ASSEMBLYAI_RT_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 100  # unconfirmed: the account's concurrent-stream limit
    chunk_ms_default: ClassVar[int | None] = 50
    #: English, and the multilingual streaming model's six (unconfirmed list)
    languages = (
        ("universal-streaming-multilingual", frozenset({"en", "es", "de", "fr", "pt", "it"})),
        ("", frozenset({"en"})),
    )

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = ws_url(self.base_url)
        self.headers = {"Authorization": self.api_key or ""}

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        query = urlencode({"sample_rate": pcm.rate, "encoding": "pcm_s16le"})
        async with self.connect(session, f"{url}?{query}", self.headers) as ws:
            try:
                first = await self.receive_json(ws, "streaming")
            except TransientError as exc:
                if exc.kind == "connection":
                    raise self.closed_before_start(ws, "Begin") from None
                raise
            if first.get("type") != "Begin":
                raise TransientError("protocol", f"expected Begin, got {str(first)[:200]}")

            own = shown(first.get("id"))
            terminated = False

            async def send() -> None:
                nonlocal terminated
                async for chunk in audio:
                    await ws.send_bytes(chunk)
                terminated = True  # before the send: Termination cannot come before it
                await ws.send_str('{"type": "Terminate"}')

            sender = asyncio.create_task(send())
            turns = Turns(own)
            try:
                while True:
                    data = await self.receive_json(ws, "streaming")
                    kind = data.get("type")
                    if kind == "Turn":
                        turns.take(data, timeline)
                    elif kind == "Begin":
                        raise protocol_error(
                            f"a second Begin (session {shown(data.get('id'))}) inside session {own}"
                        )
                    elif kind == "Termination":
                        if not terminated:
                            raise protocol_error(
                                f"Termination before this client sent Terminate (session {own})"
                            )
                        return
                    elif kind == "Error" or "error" in data:
                        raise TransientError("server_error", f"AssemblyAI error: {data}"[:300])
            finally:
                if not sender.done():
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender


class Turns:
    """The turns of one session, in the protocol's order: `turn_order` 0, 1, 2, ...; partials
    of the open turn, then its final; a message out of that order is not this session's."""

    def __init__(self, session: str) -> None:
        self.session = session  # quoted, for error lines
        self.turn = 0
        self.closed = False  # the open turn had its final

    def take(self, data: dict[str, object], timeline: Timeline) -> None:
        order = data.get("turn_order")
        if not isinstance(order, int) or isinstance(order, bool):
            raise TransientError("bad_response", f"a Turn without a turn_order: {data}"[:300])
        text = transcript_string(data.get("transcript"), "Turn transcript")
        final = data.get("end_of_turn") is True
        if self.closed and order == self.turn + 1:
            self.turn, self.closed = order, False  # the next turn opens
        if order != self.turn:
            raise protocol_error(
                f"a Turn numbered {order} out of order "
                f"(session {self.session} is at turn {self.turn})"
            )
        if self.closed:
            if final and data.get("turn_is_formatted") is True:
                return  # format_turns' formatted copy of the final already taken
            raise protocol_error(f"turn {order} again after its final (session {self.session})")
        if final:
            self.closed = True
            timeline.final(text)
        else:
            timeline.partial(text)
