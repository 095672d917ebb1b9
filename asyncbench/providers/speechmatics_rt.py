"""Speechmatics real-time: one WebSocket session per clip, paced like a microphone.

Wire facts (reference/PROTOCOLS.md §8, docs/STREAMING.md): `wss://eu2.rt.speechmatics.com/v2`
with `Authorization: Bearer <key>` on the upgrade (override with `SPEECHMATICS_RT_URL` or
`--base_url`; a URL with no path gets `/v2`). The documented order is kept:

1. `StartRecognition` (16-bit mono PCM WAV goes as `raw` `pcm_s16le` at its own rate, with the
   header stripped) with `enable_partials: true`;
2. wait for `RecognitionStarted` (audio before it is a protocol error; a socket closed before
   it is a per-sample `protocol` error);
3. binary `AddAudio` chunks, paced in real time by default (`--chunk_ms`, default 128 ms: the
   SDK's 4096-byte chunk at 16 kHz; `--no_realtime`: as fast as acknowledgements allow), at
   most `max_unacked` chunks without their `AudioAdded` (the SDK's 512);
4. `EndOfStream` with `last_seq_no` = the number of chunks sent;
5. `AddPartialTranscript` (partials: timed, never scored) and `AddTranscript` (finals: the
   transcript) `metadata.transcript` until `EndOfTranscript`.

Bound to its own session (the RT API reference: `RecognitionStarted.id` is the session's GUID;
PROTOCOLS.md §8 for the order): transcripts carry no id, so the binding is the documented
order and the audio itself. A transcript (or `AudioAdded`, `EndOfTranscript`)
before `RecognitionStarted`, a second `RecognitionStarted`, an `EndOfTranscript` before this
client sent `EndOfStream`, or an `AddTranscript` whose `metadata.end_time` lies past the
audio sent so far (by more than `END_TIME_SLACK_S`) is not this session's: a `protocol`
error, never scored. UNCONFIRMED how far the service's times may run past the audio it got
(they are seconds of that audio); the slack is kept wide so that only another stream's
timeline trips it.

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
from asyncbench.core.streaming import PacedAudio, Timeline
from asyncbench.providers._jobs import with_default_path
from asyncbench.providers._stream import PCM, StreamingProvider, protocol_error, shown
from asyncbench.providers._wire import transcript_string
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.speechmatics import transcription_config
from asyncbench.sources.audio import parse_wav

DEFAULT_URL = "wss://eu2.rt.speechmatics.com/v2"
CHUNK_BYTES = 4096  # the SDK's chunk: 128 ms of 16 kHz pcm_s16le
RETRY_AFTER_S = 5.0  # the docs' "client retry interval of at least 5-10 seconds"
#: seconds an AddTranscript's end_time may lie past the audio sent before it is foreign
END_TIME_SLACK_S = 1.0
#: messages of a running session: before RecognitionStarted they are another session's
_SESSION_MESSAGES = frozenset(
    {"AudioAdded", "AddPartialTranscript", "AddTranscript", "EndOfTranscript"}
)

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


class SpeechmaticsRTProvider(StreamingProvider):
    prefixes = ("speechmatics-rt",)
    key_env = "SPEECHMATICS_API_KEY"
    base_url_env = "SPEECHMATICS_RT_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 15
    default_timeout = 300.0
    languages = (("", SPEECHMATICS_LANGUAGES),)
    chunk_ms_default = 128
    #: AddAudio chunks allowed in flight without their AudioAdded
    max_unacked: ClassVar[int] = 512
    #: seconds to wait before retrying a session the service ended with a retryable Error
    retry_after: float = RETRY_AFTER_S

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = with_default_path(self.base_url, "/v2")
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        self.transcription_config = transcription_config(settings, enable_partials=True)

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        if pcm.channels != 1:
            raise PermanentError("bad_audio", "speechmatics-rt streams mono audio")
        fmt = {"type": "raw", "encoding": "pcm_s16le", "sample_rate": pcm.rate}
        async with self.connect(session, url, self.headers) as ws:
            await ws.send_str(orjson.dumps(_start(fmt, self.transcription_config)).decode())
            while True:
                try:
                    message = await self._next(ws)
                except TransientError as exc:
                    if exc.kind == "connection":
                        raise self.closed_before_start(ws, "RecognitionStarted") from None
                    raise
                if message["message"] == "RecognitionStarted":
                    break  # Info / Warning may come before the start
                if message["message"] in _SESSION_MESSAGES:
                    raise protocol_error(f"{message['message']} before RecognitionStarted")
            await self._recognise(ws, audio, timeline, shown(message.get("id")), pcm.bytes_per_s)

    async def _recognise(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        audio: PacedAudio,
        timeline: Timeline,
        own: str,
        bytes_per_s: int,
    ) -> None:
        window = asyncio.Semaphore(self.max_unacked)
        sent_bytes = 0
        ended = False

        async def send() -> None:
            nonlocal sent_bytes, ended
            sent = 0
            async for chunk in audio:
                await window.acquire()
                sent_bytes += len(chunk)  # before the send: no reply can outrun its count
                await ws.send_bytes(chunk)
                sent += 1
            ended = True  # before the send: EndOfTranscript cannot come before it
            await ws.send_str(
                orjson.dumps({"message": "EndOfStream", "last_seq_no": sent}).decode()
            )

        sender = asyncio.create_task(send())
        try:
            while True:
                message = await self._next(ws)
                kind = message["message"]
                if kind == "AudioAdded":
                    window.release()
                elif kind in ("AddTranscript", "AddPartialTranscript"):
                    meta = message.get("metadata")
                    text = transcript_string(
                        meta.get("transcript") if isinstance(meta, dict) else None,
                        f"{kind} metadata.transcript",
                    )
                    if kind == "AddPartialTranscript":
                        timeline.partial(text)
                    else:
                        _within(meta, sent_bytes / bytes_per_s)
                        timeline.final(text)
                        if timeline.final_bytes > self.wire.max_reply_bytes:  # endless pieces
                            raise self.wire.too_large()
                elif kind == "EndOfTranscript":
                    if not ended:
                        raise protocol_error(
                            f"EndOfTranscript before this client sent EndOfStream (session {own})"
                        )
                    break
                elif kind == "RecognitionStarted":
                    raise protocol_error(
                        f"a second RecognitionStarted (session {shown(message.get('id'))}) "
                        f"inside session {own}"
                    )
            if sender.done():
                await sender  # a send that failed surfaces here
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    async def _next(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        """The next server message; an `Error`, a close or a non-JSON frame raises."""
        data = await self.receive_json(ws, "session")
        if not isinstance(data.get("message"), str):
            raise TransientError("bad_response", f"not a session message: {str(data)[:200]}")
        if data["message"] == "Error":
            raise session_error(data, self.retry_after)
        return data


def _within(meta: dict[str, Any], sent_s: float) -> None:
    """An AddTranscript's `metadata.end_time` lies within the audio sent (and the slack):
    past it, the words were heard on another stream's timeline (`protocol`). A missing or
    non-numeric time is not checked."""
    end = meta.get("end_time")
    if (
        isinstance(end, int | float)
        and not isinstance(end, bool)
        and end > sent_s + END_TIME_SLACK_S
    ):
        raise protocol_error(
            f"an AddTranscript ending at {end:.2f} s, past the {sent_s:.2f} s of audio "
            "this session sent"
        )


def _start(fmt: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"message": "StartRecognition", "audio_format": fmt, "transcription_config": config}
