"""Speechmatics real-time: one WebSocket session per clip, audio sent faster than real time.

Wire facts (reference/PROTOCOLS.md §8): `wss://eu2.rt.speechmatics.com/v2` with
`Authorization: Bearer <key>` on the upgrade (override with `SPEECHMATICS_RT_URL` or
`--base_url`; a URL with no path gets `/v2`). The documented order is kept:

1. `StartRecognition` (16-bit mono PCM WAV goes as `raw` `pcm_s16le` at its own rate, with the
   header stripped; anything else as `type: file`, the whole encoded file);
2. wait for `RecognitionStarted` (audio before it is a protocol error);
3. binary `AddAudio` chunks of 4096 bytes, as fast as acknowledgements allow: at most
   `max_unacked` chunks without their `AudioAdded` (the SDK's 512), no real-time pacing;
4. `EndOfStream` with `last_seq_no` = the number of chunks sent;
5. collect `AddTranscript` `metadata.transcript` until `EndOfTranscript`.

An `Error` message ends the session with its `type` mapped to an error kind: the ones the docs
say to retry after 5-10 s (`quota_exceeded`, i.e. too many concurrent sessions, `job_error`,
`internal_error`) are retryable with that wait; a rejected key or an exhausted account stop
the run; the rest are permanent for the clip.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

import aiohttp
import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.service_languages import SPEECHMATICS_LANGUAGES
from asyncbench.providers._jobs import error_text, with_default_path
from asyncbench.providers._wire import redirect_target, transcript_string
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, http_error
from asyncbench.providers.speechmatics import transcription_config
from asyncbench.sources.audio import parse_wav

DEFAULT_URL = "wss://eu2.rt.speechmatics.com/v2"
CHUNK_BYTES = 4096
RETRY_AFTER_S = 5.0  # the docs' "client retry interval of at least 5-10 seconds"

_ERROR_TYPES: dict[str, tuple[type[ProviderError], str]] = {
    "quota_exceeded": (TransientError, "rate_limited"),
    "job_error": (TransientError, "server_error"),
    "internal_error": (TransientError, "server_error"),
    "buffer_error": (TransientError, "rate_limited"),
    "not_authorised": (PermanentError, "auth"),
    "insufficient_funds": (PermanentError, "quota"),
    "timelimit_exceeded": (PermanentError, "quota"),
    "data_error": (PermanentError, "bad_audio"),
}


def session_error(message: dict[str, Any], retry_after: float = RETRY_AFTER_S) -> ProviderError:
    """An `Error` message (`type`, `reason`) as a ProviderError of the matching kind; the
    retryable ones ask the engine to wait `retry_after` seconds first."""
    etype = str(message.get("type") or "unknown_error")
    reason = str(message.get("reason") or "no reason given")
    cls, kind = _ERROR_TYPES.get(etype, (PermanentError, "bad_request"))
    wait = retry_after if cls is TransientError else None
    return cls(kind, f"{etype}: {reason}", retry_after=wait)


def audio_format(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(`audio_format`, the bytes to stream): raw PCM without its header when the clip is
    16-bit mono PCM WAV (the format the docs recommend), else the whole file."""
    info = parse_wav(data)
    if info is not None and info.bits == 16 and info.channels == 1:
        pcm = data[info.data_offset : info.data_offset + info.data_len]
        return {"type": "raw", "encoding": "pcm_s16le", "sample_rate": info.rate}, pcm
    return {"type": "file"}, data


class SpeechmaticsRTProvider(Provider):
    prefixes = ("speechmatics-rt",)
    key_env = "SPEECHMATICS_API_KEY"
    base_url_env = "SPEECHMATICS_RT_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 15
    default_timeout = 300.0
    languages = (("", SPEECHMATICS_LANGUAGES),)
    # audio is streamed at its own pace: a session lasts as long as the recording
    timeout_per_audio_s = 1.5
    #: AddAudio chunks allowed in flight without their AudioAdded
    max_unacked: ClassVar[int] = 512
    #: seconds to wait before retrying a session the service ended with a retryable Error
    retry_after: float = RETRY_AFTER_S

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = with_default_path(self.base_url, "/v2")
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        self.transcription_config = transcription_config(settings, enable_partials=False)

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        if audio.data is None:
            raise PermanentError("internal", "speechmatics-rt streams audio bytes; none given")
        fmt, stream = audio_format(audio.data)
        try:
            # every message is capped like an HTTP reply (aiohttp: MESSAGE_TOO_BIG past it)
            async with session.ws_connect(
                url,
                headers=self.headers,
                autoping=True,
                max_msg_size=self.wire.max_reply_bytes,
            ) as ws:
                self._check_redirects(url, getattr(ws, "_response", None))
                return await self._recognise(ws, fmt, stream)
        except aiohttp.WSServerHandshakeError as exc:
            self._check_redirects(url, exc)
            raise http_error(
                exc.status,
                error_text(exc.message.encode()),
                exc.headers or {},
                key_env=self.key_env,
            ) from None

    def _check_redirects(self, url: str, resp: object) -> None:
        """aiohttp follows redirects on the upgrade request (it cannot be told not to): a
        session reached through one is refused by the same rule as every HTTP request
        (`redirect` unless --follow_redirects allows a 307/308 within the origin). aiohttp
        drops Authorization, our only credential here, on a hop to another origin."""
        for hop in getattr(resp, "history", None) or ():
            url = redirect_target(url, hop.status, hop.headers.get("Location"), self.wire)

    async def _recognise(
        self, ws: aiohttp.ClientWebSocketResponse, fmt: dict[str, Any], stream: bytes
    ) -> str:
        await ws.send_str(orjson.dumps(_start(fmt, self.transcription_config)).decode())
        while (await self._next(ws))["message"] != "RecognitionStarted":
            pass  # Info / Warning before the start
        chunks = [stream[i : i + CHUNK_BYTES] for i in range(0, len(stream), CHUNK_BYTES)]
        window = asyncio.Semaphore(self.max_unacked)

        async def send() -> None:
            for chunk in chunks:
                await window.acquire()
                await ws.send_bytes(chunk)
            await ws.send_str(
                orjson.dumps({"message": "EndOfStream", "last_seq_no": len(chunks)}).decode()
            )

        sender = asyncio.create_task(send())
        pieces: list[str] = []
        received = 0
        try:
            while True:
                message = await self._next(ws)
                kind = message["message"]
                if kind == "AudioAdded":
                    window.release()
                elif kind == "AddTranscript":
                    meta = message.get("metadata")
                    text = meta.get("transcript") if isinstance(meta, dict) else None
                    pieces.append(transcript_string(text, "AddTranscript metadata.transcript"))
                    received += len(pieces[-1])
                    if received > self.wire.max_reply_bytes:  # an endless stream of pieces
                        raise self.wire.too_large()
                elif kind == "EndOfTranscript":
                    break
            if sender.done():
                await sender  # a send that failed surfaces here
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
        return " ".join(" ".join(pieces).split())

    async def _next(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        """The next server message; an `Error`, a close or a non-JSON frame raises."""
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            try:
                data = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                raise TransientError("bad_response", f"not a session message: {msg.data[:200]}")
            if data["message"] == "Error":
                raise session_error(data, self.retry_after)
            return data
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            raise TransientError(
                "connection", f"session closed before EndOfTranscript (code {ws.close_code})"
            )
        if msg.type == aiohttp.WSMsgType.ERROR:
            exc = ws.exception() or msg.data
            if getattr(exc, "code", None) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                raise self.wire.too_large()
            raise TransientError("connection", f"WebSocket error: {exc}")
        raise TransientError("bad_response", f"unexpected {msg.type.name} frame from the server")


def _start(fmt: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"message": "StartRecognition", "audio_format": fmt, "transcription_config": config}
