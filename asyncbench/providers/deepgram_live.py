"""Deepgram live streaming: one WebSocket per clip at `/v1/listen`, interim results on.

Wire facts (docs/STREAMING.md): `wss://api.deepgram.com/v1/listen` with the query
`model=<model>&language=<lang>&encoding=linear16&sample_rate=<rate>&channels=1&
interim_results=true` and `Authorization: Token <key>` on the upgrade (override with
`DEEPGRAM_LIVE_URL` or `--base_url`; an http(s) URL becomes ws(s)). Audio goes as binary
frames of raw PCM; `Results` messages carry `channel.alternatives[0].transcript` with
`is_final` false (interim: a partial, timed, never scored) or true (a final segment). After the
last chunk the client sends `{"type": "Finalize"}` (flush what is buffered) and then
`{"type": "CloseStream"}`; the service sends the last finals, a `Metadata` message and closes.
The transcript is complete at that `Metadata` (or a clean close after at least one final).

Bound to its own request: the service names the stream's request id in the `dg-request-id`
header of the upgrade's reply (Deepgram's changelog "Real-time debugging improvements": "the
request ID is stored in the HTTP header named dg-request-id", on every streaming request) and
in every message, as a required `metadata.request_id` in `Results` and `request_id` in
`Metadata` (the `deepgram-sdk` 5.x types `ListenV1ResultsMetadata` and `ListenV1Metadata`).
A `Results` or `Metadata` naming another request id is a `protocol` error, never scored.
Without the header, the first id a message names is the stream's; a message without one is
not refused (defensive). UNCONFIRMED that the header's id is the messages' id on the live
service (both are called "the request ID"; none says so in as many words; were they
different, every stream would fail as `protocol`, loudly, not be scored wrong).

Unconfirmed: the 50 concurrent streams of a pay-as-you-go account (the issue's figure, the
default here), and the exact close code on a refused stream (an `Error`-typed message, if the
service sends one, is mapped to `server_error` and retried).
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlencode

import aiohttp
import orjson

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
from asyncbench.providers.deepgram import DeepgramProvider

DEFAULT_URL = "wss://api.deepgram.com/v1/listen"


def ws_url(base: str) -> str:
    """`http(s)://host` → `ws(s)://host/v1/listen` (a URL with no path gets `/v1/listen`)."""
    return websocket_url(base, "/v1/listen", keep_query=True)


class DeepgramLiveProvider(StreamingProvider):
    prefixes = ("deepgram-live",)
    key_env = "DEEPGRAM_API_KEY"
    base_url_env = "DEEPGRAM_LIVE_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 50  # pay-as-you-go concurrent streams (unconfirmed; see docstring)
    chunk_ms_default: ClassVar[int | None] = 100
    # the pre-recorded tables (unconfirmed that streaming takes exactly the same languages)
    languages = DeepgramProvider.languages

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = ws_url(self.base_url)
        self.headers = {"Authorization": f"Token {self.api_key}"}

    def _query(self, pcm: PCM) -> str:
        return urlencode(
            {
                "model": self.model,
                "language": self.settings.language,
                "encoding": "linear16",
                "sample_rate": pcm.rate,
                "channels": pcm.channels,
                "interim_results": "true",
            }
        )

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        import asyncio
        import contextlib

        async with self.connect(session, f"{url}?{self._query(pcm)}", self.headers) as ws:
            own = self.upgrade_header(ws, "dg-request-id")

            async def send() -> None:
                async for chunk in audio:
                    await ws.send_bytes(chunk)
                await ws.send_str('{"type": "Finalize"}')
                await ws.send_str('{"type": "CloseStream"}')

            sender = asyncio.create_task(send())
            try:
                while True:
                    msg = await ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        if sender.done() and timeline.final_times and ws.close_code == 1000:
                            return  # a clean close after the finals
                        raise TransientError(
                            "connection",
                            f"stream closed before the final transcript (code {ws.close_code})",
                        )
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        await self._raise_frame(ws, msg)
                    try:
                        data = orjson.loads(msg.data) if msg.data else None
                    except orjson.JSONDecodeError:
                        data = None
                    if not isinstance(data, dict):
                        raise TransientError(
                            "bad_response", f"not a Deepgram message: {msg.data[:200]}"
                        )
                    kind = data.get("type")
                    if kind in ("Results", "Metadata"):
                        own = _bound(data, kind, own)
                    if kind == "Results":
                        alts = (data.get("channel") or {}).get("alternatives") or [{}]
                        text = transcript_string(alts[0].get("transcript"), "transcript")
                        if data.get("is_final") is True:
                            timeline.final(text)
                        else:
                            timeline.partial(text)
                    elif kind == "Metadata" and sender.done():
                        return
                    elif kind == "Error" or "err_code" in data:
                        reason = data.get("description") or data.get("err_msg") or data
                        raise TransientError("server_error", f"Deepgram error: {reason}")
            finally:
                if not sender.done():
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender

    async def _raise_frame(
        self, ws: aiohttp.ClientWebSocketResponse, msg: aiohttp.WSMessage
    ) -> None:
        if msg.type == aiohttp.WSMsgType.ERROR:
            exc = ws.exception() or msg.data
            if getattr(exc, "code", None) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                raise self.wire.too_large()
            raise TransientError("connection", f"WebSocket error: {exc}")
        raise TransientError("bad_response", f"unexpected {msg.type.name} frame from the server")


def _bound(data: dict[str, object], kind: str, own: str | None) -> str | None:
    """The stream's request id after `data` (a `Results` or `Metadata`): the first one named
    binds it; a message naming another one is a `protocol` error."""
    if kind == "Results":
        meta = data.get("metadata")
        named = meta.get("request_id") if isinstance(meta, dict) else None
    else:
        named = data.get("request_id")
    if named is None:
        return own
    if own is None:
        return str(named)
    if str(named) != own:
        what = "final" if data.get("is_final") is True else "partial"
        what = "Metadata" if kind == "Metadata" else what
        raise protocol_error(f"a {what} for request {shown(named)}, not this stream's {shown(own)}")
    return own
