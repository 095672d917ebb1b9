"""What every streaming (WebSocket) provider shares: the paced session, the final's deadline,
and the WebSocket rules of the wire layer.

A streaming provider subclasses `StreamingProvider` and writes one method,
`session(ws_session, url, fmt, audio, timeline)`: open the socket (`connect`), do its
start handshake, pull chunks from `audio` (`async for chunk in audio`), send its end-of-stream
message, and report each server message to `timeline` (`partial`/`final`) until the service
says the transcript is complete. `transcribe` (what the engine calls) wraps that:

- the clip's PCM is cut into `--chunk_ms` chunks (the provider's documented size by default)
  and paced in real time (`--realtime`, the default for streaming providers) or sent as fast
  as the session takes it (`--no_realtime`);
- a final that has not come `--final_timeout` seconds (10) after the end of audio fails the
  attempt as `final_timeout` (retryable: the sample is streamed again from the start);
- a stream that ends without any final is a `no_final` failure: partials are never scored;
- a message of another request, session or stream (its id is not this stream's), or a final
  out of the protocol's order, is a `protocol` error (`protocol_error`): retried as a whole
  stream, its words never scored. Each client binds on what its protocol gives it (its
  module docstring says what);
- the text returned is a `StreamedText` carrying the stream's metrics for the results line.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from asyncbench.core.errors import ProviderError, TransientError
from asyncbench.core.streaming import (
    DEFAULT_CHUNK_MS,
    PacedAudio,
    StreamedText,
    StreamOptions,
    Timeline,
    split_chunks,
)
from asyncbench.providers._jobs import error_text
from asyncbench.providers._wire import redirect_target
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, http_error
from asyncbench.sources.audio import parse_wav


def websocket_url(
    base: str, default_path: str, *, keep_query: bool = False, strip_slash: bool = False
) -> str:
    """`http(s)://host` → `ws(s)://host<default_path>`: a base URL given as http(s) (as the
    batch providers' are) speaks WebSocket, and one with no path gets the provider's; one with
    a path keeps it (e.g. behind a gateway), without a trailing "/" when `strip_slash`. The
    query is dropped (the client builds its own) unless `keep_query`."""
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if strip_slash:
        path = parts.path.rstrip("/") or default_path
    else:
        path = parts.path if parts.path not in ("", "/") else default_path
    return urlunsplit((scheme, parts.netloc, path, parts.query if keep_query else "", ""))


def protocol_error(message: str) -> TransientError:
    """The error for a message that is not this stream's: another request's, session's or
    utterance's (its id says so), or one the protocol's order does not allow here. Retryable
    (`protocol`): the clip is streamed again from the start on a new connection, and nothing
    of this attempt is scored."""
    return TransientError("protocol", message[:300])


def shown(value: object) -> str:
    """An id from the wire, quoted and cut for an error line."""
    return repr(str(value)[:60])


class PCM:
    """A clip's raw audio: 16-bit little-endian PCM, its rate and channels."""

    def __init__(self, data: bytes, rate: int, channels: int) -> None:
        self.data = data
        self.rate = rate
        self.channels = channels

    @property
    def bytes_per_s(self) -> int:
        return self.rate * self.channels * 2


def pcm_of(audio: AudioPayload) -> PCM:
    """The PCM of a 16-bit WAV payload (what audio prep makes); anything else is `bad_audio`."""
    from asyncbench.core.errors import PermanentError

    if audio.data is None:
        raise PermanentError("internal", "streaming providers stream audio bytes; none given")
    info = parse_wav(audio.data)
    if info is None or info.bits != 16:
        raise PermanentError("bad_audio", "streaming needs 16-bit PCM WAV audio")
    pcm = audio.data[info.data_offset : info.data_offset + info.data_len]
    return PCM(pcm, info.rate, info.channels)


class StreamingProvider(Provider):
    """A WebSocket provider timed by `asyncbench.core.streaming`."""

    #: the chunk the provider's documentation recommends, in ms (None: 100 ms)
    chunk_ms_default: ClassVar[int | None] = None
    #: a real-time session lasts as long as its audio
    timeout_per_audio_s: ClassVar[float] = 1.5
    default_timeout: ClassVar[float] = 300.0
    streaming: ClassVar[bool] = True

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        opts: StreamOptions = settings.streaming
        self.realtime = True if opts.realtime is None else opts.realtime
        self.chunk_ms = opts.chunk_ms or self.chunk_ms_default or DEFAULT_CHUNK_MS
        self.realtime_factor = opts.realtime_factor
        self.final_timeout_s = opts.final_timeout_s

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        pcm = pcm_of(audio)
        paced = PacedAudio(
            split_chunks(pcm.data, pcm.bytes_per_s, self.chunk_ms),
            pcm.bytes_per_s,
            realtime=self.realtime,
            factor=self.realtime_factor,
        )
        timeline = Timeline()
        talk = asyncio.ensure_future(self.session(session, url, pcm, paced, timeline))
        ended = asyncio.ensure_future(paced.ended.wait())
        try:
            await asyncio.wait({talk, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not talk.done():
                # the deadline for the final counts from the end of audio, not the stream start
                done, _ = await asyncio.wait({talk}, timeout=self.final_timeout_s)
                if not done:
                    raise TransientError(
                        "final_timeout",
                        f"no final transcript within {self.final_timeout_s:g} s of the end of "
                        "audio (--final_timeout)",
                    )
            talk.result()  # the session's own error, if any
        finally:
            for task in (talk, ended):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        if paced.t_end is None:
            raise TransientError("connection", "the session ended before all the audio was sent")
        if not timeline.final_times:
            raise TransientError(
                "no_final",
                f"the stream ended with {len(timeline.partial_times)} partials and no final",
            )
        return StreamedText(timeline.text(), timeline.metrics(paced))

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        """One streaming session; returns once the service has sent the complete transcript."""
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connect(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ):  # type: ignore[no-untyped-def]
        """The WebSocket, with every message capped like an HTTP reply (`max_msg_size` =
        `--max_reply_bytes`: aiohttp fails a bigger one with MESSAGE_TOO_BIG), a refused
        upgrade mapped like an HTTP error, and redirects by the wire layer's rule."""
        try:
            async with session.ws_connect(
                url, headers=headers, autoping=True, max_msg_size=self.wire.max_reply_bytes, **kw
            ) as ws:
                self.check_redirects(url, getattr(ws, "_response", None))
                yield ws
        except aiohttp.WSServerHandshakeError as exc:
            self.check_redirects(url, exc)
            raise http_error(
                exc.status,
                error_text((exc.message or "").encode()),
                exc.headers or {},
                key_env=self.key_env,
            ) from None

    def check_redirects(self, url: str, resp: object) -> None:
        """aiohttp follows redirects on the upgrade request (it cannot be told not to): a
        session reached through one is refused by the same rule as every HTTP request."""
        for hop in getattr(resp, "history", None) or ():
            url = redirect_target(url, hop.status, hop.headers.get("Location"), self.wire)

    async def receive_json(self, ws: aiohttp.ClientWebSocketResponse, what: str) -> dict[str, Any]:
        """The next JSON object from the server; a close, an error or a non-JSON frame raises
        (a stream dropped mid-utterance is `connection`, retried as a whole)."""
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            try:
                data = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                data = None
            if not isinstance(data, dict):
                raise TransientError("bad_response", f"not a {what} message: {msg.data[:200]}")
            return data
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            raise TransientError(
                "connection", f"stream closed before the final transcript (code {ws.close_code})"
            )
        if msg.type == aiohttp.WSMsgType.ERROR:
            exc = ws.exception() or msg.data
            if getattr(exc, "code", None) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                raise self.wire.too_large()
            raise TransientError("connection", f"WebSocket error: {exc}")
        raise TransientError("bad_response", f"unexpected {msg.type.name} frame from the server")

    @staticmethod
    def upgrade_header(ws: aiohttp.ClientWebSocketResponse, name: str) -> str | None:
        """A header of the server's 101 reply to the upgrade (None when absent or empty)."""
        response = getattr(ws, "_response", None)
        value = response.headers.get(name) if response is not None else None
        return value or None

    def closed_before_start(
        self, ws: aiohttp.ClientWebSocketResponse, expected: str
    ) -> ProviderError:
        """The server closed the socket before its start message: a protocol error."""
        from asyncbench.core.errors import PermanentError

        return PermanentError(
            "protocol", f"the server closed the stream before {expected} (code {ws.close_code})"
        )
