"""ElevenLabs Scribe realtime: one WebSocket per clip, `session_started`, base64 audio chunks,
one manual commit, `committed_transcript`.

Wire facts (docs/STREAMING.md; ElevenLabs' "Realtime speech to text" API reference and its
"Transcripts and commit strategies" page; the `elevenlabs` 2.78.0 SDK's `realtime/scribe.py`
and `realtime/connection.py`): `wss://api.elevenlabs.io/v1/speech-to-text/realtime?
model_id=<model>&audio_format=pcm_<rate>&commit_strategy=manual` (override with
`ELEVENLABS_RT_URL` or `--base_url`; an http(s) URL becomes ws(s), a URL with no path gets the
realtime path) with the key in the `xi-api-key` header (the other documented way, a
single-use token as `?token=`, is not built here). The server speaks first with
`session_started`; every client message is JSON text: `{"message_type": "input_audio_chunk",
"audio_base_64": ..., "commit": false, "sample_rate": <rate>}`, and after the last chunk the
SDK's commit, the same message with empty audio and `"commit": true`. The server sends
`partial_transcript` (`text`: a partial, timed, never scored) as audio arrives and
`committed_transcript` (`text`: the final of the segment) after a commit; the client then
closes with 1000. The end of audio is the end of the utterance because the commit is manual
(VAD would commit on silence inside the clip), so `final_after_end_s` runs from the commit
(sent at once after the last chunk) to that committed transcript.

Errors come as a message (`message_type` is the error's name, `error` its text) before the
server closes: `auth_error` and `unaccepted_terms` stop the run as a rejected key;
`quota_exceeded` (ElevenLabs' word for an empty balance, as in the batch API) stops it as
`quota`; `rate_limited`, `commit_throttled`, `queue_overflow` and `resource_exhausted` are
retried as `rate_limited`, `transcriber_error` and a bare `error` as `server_error`; the
rest (`input_error`, `invalid_request`, `chunk_size_exceeded`, `session_time_limit_exceeded`,
`insufficient_audio_activity`, and an unknown type with an `error` text) fail the clip for
good. A socket closed before `session_started` is a per-sample `protocol` error.

Bound to its own session: `session_started` carries the `session_id` (the API reference's
example; the transcripts in it carry only `text`). A second `session_started` on the socket is
another session's, and so is a message naming another `session_id`: a `protocol` error, never
scored. A transcript before `session_started` is one too ("expected session_started").
UNCONFIRMED whether any message but `session_started` names the session (none in the
reference): a `session_id` is checked where present, never required.

Unconfirmed: the default of 5 sessions in flight (ElevenLabs' concurrency is per plan; 5 is the
batch `elevenlabs/` default, the Creator plan's general limit, not a documented realtime
figure); the 100 ms chunk (no documented recommendation found; the docs only say processing
starts after the first 2 s and that a stream is committed on its own every 90 s, so a clip
over 90 s has more than one committed transcript); the close code on errors; whether a bad
key is refused at the upgrade (HTTP 401, as the mock does) or with an `auth_error` message
(both are handled); the language list (the batch API's).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp
import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.service_languages import ISO639_3
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
from asyncbench.providers.elevenlabs import ElevenLabsProvider

PATH = "/v1/speech-to-text/realtime"
DEFAULT_URL = f"wss://api.elevenlabs.io{PATH}"
#: the PCM rates of the documented `audio_format`s (`pcm_<rate>`; `ulaw_8000` is not sent)
PCM_RATES = frozenset({8000, 16000, 22050, 24000, 44100, 48000})
#: seconds before retrying a session the service refused for load (no documented figure)
RETRY_AFTER_S = 1.0

#: error `message_type` -> (error class, kind); an unknown type carrying an `error` text is
#: a permanent `bad_request` (as speechmatics-rt maps an unknown `Error`), any other is not an
#: error (`warning`, `committed_transcript_with_timestamps`, ... are skipped)
_ERRORS: dict[str, tuple[type[ProviderError], str]] = {
    "rate_limited": (TransientError, "rate_limited"),
    "commit_throttled": (TransientError, "rate_limited"),
    "queue_overflow": (TransientError, "rate_limited"),
    "resource_exhausted": (TransientError, "rate_limited"),
    "transcriber_error": (TransientError, "server_error"),
    "error": (TransientError, "server_error"),
    "input_error": (PermanentError, "bad_request"),
    "invalid_request": (PermanentError, "bad_request"),
    "chunk_size_exceeded": (PermanentError, "bad_request"),
    "session_time_limit_exceeded": (PermanentError, "too_large"),
    "insufficient_audio_activity": (PermanentError, "bad_audio"),
}
_AUTH = frozenset({"auth_error", "unaccepted_terms", "unaccepted_terms_error"})


def ws_url(base: str) -> str:
    """`http(s)://host` → `ws(s)://host/v1/speech-to-text/realtime` (a URL with no path gets
    the realtime path; one with a path keeps it, e.g. behind a gateway)."""
    return websocket_url(base, PATH)


def session_error(message: dict[str, Any], key_env: str | None) -> ProviderError | None:
    """The error an error message stands for, or None for a message that is not an error."""
    mtype = str(message.get("message_type") or "")
    known = mtype in _ERRORS or mtype in _AUTH or mtype == "quota_exceeded"
    if not known and not isinstance(message.get("error"), str):
        return None
    reason = f"{mtype}: {str(message.get('error') or 'no reason given')[:300]}"
    if mtype in _AUTH:
        return PermanentError("auth", f"key rejected; check {key_env}: {reason}")
    if mtype == "quota_exceeded":
        # as `_http.quota_error` words it, without an HTTP status (there is none mid-stream)
        return PermanentError(
            "quota",
            f"quota or credit exhausted for {key_env}: {reason} (add credit or use another key)",
        )
    cls, kind = _ERRORS.get(mtype, (PermanentError, "bad_request"))
    wait = RETRY_AFTER_S if kind == "rate_limited" else None
    return cls(kind, f"ElevenLabs realtime {reason}", retry_after=wait)


class ElevenLabsRTProvider(StreamingProvider):
    prefixes = ("elevenlabs-rt",)
    key_env = "ELEVENLABS_API_KEY"
    base_url_env = "ELEVENLABS_RT_URL"
    default_base_url = DEFAULT_URL
    default_concurrency = 5  # plan-based; the batch provider's figure (unconfirmed: docstring)
    chunk_ms_default: ClassVar[int | None] = 100
    # the batch API's table (unconfirmed that realtime takes exactly the same languages)
    languages = ElevenLabsProvider.languages

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = ws_url(self.base_url)
        self.headers = {"xi-api-key": self.api_key or ""}
        lang = settings.language
        # as the batch client: English is left to the service, others forced (ISO 639-3)
        self._language = {} if lang == "en" else {"language_code": ISO639_3[lang]}

    def query(self, pcm: PCM) -> str:
        if pcm.channels != 1 or pcm.rate not in PCM_RATES:
            raise PermanentError(
                "bad_audio",
                f"elevenlabs-rt streams mono PCM at {', '.join(map(str, sorted(PCM_RATES)))} Hz "
                f"(got {pcm.channels} channel(s) at {pcm.rate} Hz)",
            )
        return urlencode(
            {
                "model_id": self.model,
                "audio_format": f"pcm_{pcm.rate}",
                "commit_strategy": "manual",
                **self._language,
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
        query = self.query(pcm)
        async with self.connect(session, f"{url}?{query}", self.headers) as ws:
            try:
                first = await self.receive_json(ws, "realtime")
            except TransientError as exc:
                if exc.kind == "connection":
                    raise self.closed_before_start(ws, "session_started") from None
                raise
            error = session_error(first, self.key_env)
            if error is not None:
                raise error
            if first.get("message_type") != "session_started":
                raise TransientError(
                    "protocol", f"expected session_started, got {str(first)[:200]}"
                )

            own = first.get("session_id")
            committed = asyncio.Event()

            async def send() -> None:
                async for chunk in audio:
                    await ws.send_str(_chunk(base64.b64encode(chunk).decode(), pcm.rate, False))
                # set before the send: the committed transcript cannot come before the commit
                committed.set()
                await ws.send_str(_chunk("", pcm.rate, True))

            sender = asyncio.create_task(send())
            try:
                while True:
                    data = await self.receive_json(ws, "realtime")
                    kind = data.get("message_type")
                    own = _bound(data, own)
                    if kind == "partial_transcript":
                        timeline.partial(transcript_string(data.get("text"), "partial text"))
                    elif kind == "committed_transcript":
                        timeline.final(transcript_string(data.get("text"), "committed text"))
                        if committed.is_set():
                            break  # the commit's transcript: the clip is complete
                        if timeline.final_bytes > self.wire.max_reply_bytes:
                            raise self.wire.too_large()
                    elif (error := session_error(data, self.key_env)) is not None:
                        raise error
                if sender.done():
                    await sender  # a send that failed surfaces here
            finally:
                if not sender.done():
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender


def _bound(message: dict[str, Any], own: object) -> object:
    """The session's id after `message`: a second `session_started`, or a message naming
    another `session_id`, is not this session's (`protocol`); without an id of its own
    yet, the first one named binds it."""
    named = message.get("session_id")
    if message.get("message_type") == "session_started":
        raise protocol_error(
            f"a second session_started (session {shown(named)}) inside session {shown(own)}"
        )
    if named is None:
        return own
    if own is None:
        return named
    if named != own:
        kind = str(message.get("message_type"))[:60]
        raise protocol_error(f"a {kind} of session {shown(named)}, not this stream's {shown(own)}")
    return own


def _chunk(audio_b64: str, rate: int, commit: bool) -> str:
    """One `input_audio_chunk` message, as the SDK's `send` and `commit` build it."""
    return orjson.dumps(
        {
            "message_type": "input_audio_chunk",
            "audio_base_64": audio_b64,
            "commit": commit,
            "sample_rate": rate,
        }
    ).decode()
