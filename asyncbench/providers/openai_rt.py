"""OpenAI realtime transcription: one WebSocket transcription session per clip, audio as
base64 `input_audio_buffer.append` events, one manual `commit`, the final in `completed`.

Wire facts (docs/STREAMING.md; OpenAI's "Realtime transcription" guide, the GA Realtime
client/server event reference and the `openai` SDK's `types/realtime`):

- `wss://api.openai.com/v1/realtime?intent=transcription` (no `model` in the URL: a model
  URL makes a conversation session), `Authorization: Bearer <key>` on the upgrade; override
  with `OPENAI_RT_URL` or `--base_url` (an http(s) URL becomes ws(s), a bare host gets
  `/v1/realtime`). The GA API needs no `OpenAI-Beta` header and none is sent.
- The server speaks first: `session.created` (the start handshake; a close before it is a
  per-sample `protocol` error). The client sends `session.update` with `session.type:
  "transcription"`, `audio.input.format {"type": "audio/pcm", "rate": 24000}`,
  `audio.input.transcription {"model", "language"}` and `turn_detection: null` (manual
  commit: the end of the clip is the end of the utterance, not the server's VAD guess), and
  starts the audio once `session.updated` confirms it.
- The API takes PCM16 mono at **24 kHz only**; audio prep makes 16 kHz, so each clip is
  resampled once with soxr (HQ, off the event loop) before pacing: chunk sizes and the pace
  are computed from the 24 kHz bytes.
- Deltas (`conversation.item.input_audio_transcription.delta`, text increments of one item)
  are partials; `...completed` (`transcript`) of the committed item is the final. After the
  last chunk the client sends `input_audio_buffer.commit`, so `final_after_end_s` runs from
  that commit to `completed`.
- `error` events carry `error {type, code, message, param}`: a bad key is the run's one auth
  error, `insufficient_quota` stops the run, `invalid_request_error` fails the sample
  (permanent), `input_audio_buffer_commit_empty` (under 100 ms of audio) is `audio_too_short`,
  anything else (`server_error`) and `...transcription.failed` are retried as a whole stream.

Unconfirmed: the default of 20 concurrent sessions (OpenAI publishes per-tier rate limits for
the transcription models, not a concurrent-session cap; 20 is this tool's `openai/` figure);
whether a rejected key is refused at the upgrade (HTTP 401) or as an `invalid_api_key` error
event (both are handled); the 100 ms minimum commit and its error code; the languages (the
batch API's list is assumed).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any, ClassVar

import aiohttp
import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.service_languages import OPENAI_LANGUAGES
from asyncbench.core.streaming import PacedAudio, Timeline
from asyncbench.providers._http import quota_error
from asyncbench.providers._stream import PCM, StreamingProvider, pcm_of, websocket_url
from asyncbench.providers._wire import transcript_string
from asyncbench.providers.base import AudioPayload, ProviderSettings, http_error
from asyncbench.sources.audio import wav_header

DEFAULT_URL = "wss://api.openai.com/v1/realtime"
#: the only PCM rate the realtime API takes
RATE = 24000
#: the models OpenAI's guide and the SDK's `AudioTranscription` list for transcription sessions
MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1")


def ws_url(base: str) -> str:
    """`http(s)://host` → `ws(s)://host/v1/realtime` (a URL with no path gets `/v1/realtime`;
    the query is the client's: `intent=transcription`)."""
    return websocket_url(base, "/v1/realtime", strip_slash=True)


def to_24k(pcm: PCM) -> bytes:
    """The clip's mono PCM16 resampled to 24 kHz (soxr HQ, one call per clip: the whole
    clip is known, so there is no stream edge to mind)."""
    import numpy as np
    import soxr

    if pcm.channels != 1:
        raise PermanentError("bad_audio", "OpenAI realtime takes mono audio")
    samples = np.frombuffer(pcm.data, dtype="<i2")
    out = soxr.resample(samples, pcm.rate, RATE, quality="HQ")
    return out.astype("<i2", copy=False).tobytes()


class OpenAIRTProvider(StreamingProvider):
    prefixes = ("openai-rt",)
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_RT_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 20  # unconfirmed: no published concurrent-session cap (docstring)
    chunk_ms_default: ClassVar[int | None] = 100  # the API names no size; 100 ms as the others
    languages = (("", OPENAI_LANGUAGES),)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = ws_url(self.base_url)
        self.headers = {"Authorization": f"Bearer {self.api_key}"}

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        """The clip at 24 kHz, then paced and streamed as every streaming provider is."""
        pcm = pcm_of(audio)
        if pcm.rate != RATE:
            # ~4 ms of CPU for a 15 s clip: off the loop, so other streams' chunks stay on time
            data = await asyncio.to_thread(to_24k, pcm)
            wav = wav_header(len(data), RATE) + data
            audio = AudioPayload(wav, "audio/wav", audio.filename, audio.duration)
        return await super().transcribe(session, url, audio)

    def session_update(self) -> str:
        """The GA `session.update` of a transcription session: 24 kHz PCM, the model and
        language, and no turn detection (the client commits at the end of the clip)."""
        transcription: dict[str, Any] = {"model": self.model}
        if self.settings.language:
            transcription["language"] = self.settings.language
        return orjson.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": RATE},
                            "transcription": transcription,
                            "turn_detection": None,
                        }
                    },
                },
            }
        ).decode()

    async def session(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pcm: PCM,
        audio: PacedAudio,
        timeline: Timeline,
    ) -> None:
        async with self.connect(session, f"{url}?intent=transcription", self.headers) as ws:
            try:
                first = await self.receive_json(ws, "realtime")
            except TransientError as exc:
                if exc.kind == "connection":
                    raise self.closed_before_start(ws, "session.created") from None
                raise
            if first.get("type") == "error":
                raise self.event_error(first)
            if first.get("type") != "session.created":
                raise TransientError("protocol", f"expected session.created, got {first}"[:300])
            await ws.send_str(self.session_update())
            while (data := await self.receive_json(ws, "realtime")).get("type") != (
                "session.updated"
            ):
                if data.get("type") == "error":
                    raise self.event_error(data)

            async def send() -> None:
                async for chunk in audio:
                    event = {
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(chunk).decode("ascii"),
                    }
                    await ws.send_str(orjson.dumps(event).decode())
                await ws.send_str('{"type": "input_audio_buffer.commit"}')

            sender = asyncio.create_task(send())
            try:
                await self._receive(ws, timeline)
            finally:
                if not sender.done():
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, timeline: Timeline) -> None:
        """Deltas as partials until the committed item's `completed` (the final).

        The final is bound to this session's own item: the `item_id` of its one
        `input_audio_buffer.committed`. A `completed` for any other item (or before the
        commit was acknowledged) is words from somewhere else: a `protocol` error, never
        scored. (It used to be taken whenever the commit had not been acknowledged yet.)"""
        committed: str | None = None
        running: dict[str, str] = {}  # item id -> the deltas so far
        while True:
            data = await self.receive_json(ws, "realtime")
            kind = data.get("type")
            if kind == "input_audio_buffer.committed":
                item_id = data.get("item_id")
                if not isinstance(item_id, str) or not item_id:
                    raise TransientError("protocol", f"committed without an item_id: {data}"[:300])
                if committed is not None and item_id != committed:
                    raise TransientError(
                        "protocol", f"a second commit ({item_id}) after {committed}"[:300]
                    )
                committed = item_id
            elif kind == "conversation.item.input_audio_transcription.delta":
                item = str(data.get("item_id"))
                delta = data.get("delta") or ""
                running[item] = running.get(item, "") + transcript_string(delta, "delta")
                if committed is None or item == committed:
                    timeline.partial(running[item])
            elif kind == "conversation.item.input_audio_transcription.completed":
                item = data.get("item_id")
                if committed is None or item != committed:
                    raise TransientError(
                        "protocol",
                        f"a final for item {str(item)[:60]!r}, not this session's "
                        f"{'(no commit acknowledged yet)' if committed is None else committed}",
                    )
                timeline.final(transcript_string(data.get("transcript"), "transcript"))
                return
            elif kind == "conversation.item.input_audio_transcription.failed":
                error = data.get("error") or {}
                raise TransientError("server_error", f"OpenAI transcription failed: {error}"[:300])
            elif kind == "error":
                raise self.event_error(data)

    def event_error(self, data: dict[str, Any]) -> ProviderError:
        """What an `error` event means (its `error.type` and `error.code`)."""
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code, etype = error.get("code") or "", error.get("type") or ""
        message = str(error.get("message") or data)[:300]
        if code == "invalid_api_key" or etype == "authentication_error":
            return http_error(401, message, {}, key_env=self.key_env)
        if code == "insufficient_quota":
            return quota_error(self.key_env, message, 429)
        if code == "rate_limit_exceeded" or etype == "rate_limit_error":
            return TransientError("rate_limited", f"OpenAI realtime: {message}")
        if code == "input_audio_buffer_commit_empty":
            return PermanentError("audio_too_short", message)
        if etype == "invalid_request_error":
            return PermanentError("bad_request", f"OpenAI realtime refused: {message}")
        return TransientError("server_error", f"OpenAI realtime error: {message}")
