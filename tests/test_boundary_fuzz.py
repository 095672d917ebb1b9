"""Errors are classified at the boundary (#28 item 2): every client, fed garbage bodies and
frames by a real loopback server, fails each request as a provider error of a server-side
kind (`bad_response`, `protocol`, ...), never as `internal` (an asyncbench bug) and never
with a bare Python exception."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter

import aiohttp
import orjson
import pytest
from aiohttp import web

from asyncbench.core.errors import ConfigError, ProviderError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers import REGISTRY, VARIANTS, resolve
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.sources import watermark
from asyncbench.sources.audio import wav_header

from .loopback import free_port, serve

#: a model each client accepts (a new provider needs its line here)
MODELS = {
    "aldea": "default",
    "assembly": "best",
    "assemblyai": "best",
    "revai": "machine",
    "speechmatics": "enhanced",
    "speechmatics-batch": "enhanced",
    "speechmatics-rt": "enhanced",
    "openai": "whisper-1",
    "openai-compatible": "whisper-large-v3",
    "groq": "whisper-large-v3",
    "elevenlabs": "scribe_v1",
    "deepgram": "nova-3",
    "soniox": "stt-async-preview",
    "gladia": "solaria-1",
    "microsoft": "fast",
    "zoom": "scribe_v2_pro",
    "modulate": "vfast",
    "reson8": "default",
    "smallestai": "pulse",
    "aquavoice": "avalon-v1-en",
    "deepgram-live": "nova-3",
    "assemblyai-rt": "universal-streaming",
    "elevenlabs-rt": "scribe_v2_realtime",
    "openai-rt": "gpt-4o-transcribe",
    "meta": "muse-voice-transcribe",
    "sprag": "symphony",
    "sophea": "asr-k1",
    "gemini": "gemini-3.5-transcribe",
}

#: what a plausible job record or stream event looks like, with every value of the wrong type
_IDS = {"id": "job-1", "job_id": "job-1", "jobId": "job-1", "request_id": "job-1"}
_DONE = {"status": "completed", "state": "done", "job": {"id": "job-1", "status": "done"}}
BODIES: list[bytes] = [
    b"",
    b"not json at all",
    b"{",
    b"\xff\xfe\x00\x01binary",
    b"<html><body>please sign in</body></html>",
    b"null",
    b"42",
    b'"just a string"',
    b"[]",
    b"{}",
    b"[" * 5000 + b"]" * 5000,
    b'{"text": 5}',
    b'{"text": null, "transcript": {"a": 1}}',
    b'{"results": {"channels": []}}',
    b'{"results": {"channels": [{"alternatives": [{}]}]}}',
    b'{"results": {"channels": [{"alternatives": [{"transcript": []}]}]}}',
    b'{"combinedPhrases": [{"text": 7}], "phrases": "x"}',
    orjson.dumps({**_IDS, **_DONE}),
    orjson.dumps({**_IDS, **_DONE, "text": [], "transcript": 3, "results": "x", "data": None}),
    orjson.dumps({**_IDS, "status": 404, "state": ["x"], "error": {"message": None}}),
    orjson.dumps({**_IDS, "status": "failed", "error": 5, "error_message": []}),
    orjson.dumps({**_IDS, "links": 5, "result_url": {}, "urls": None, "file_id": 3}),
    orjson.dumps({"id": None, "status": None, "monologues": [{"elements": [{"value": 1}]}]}),
    orjson.dumps({"results": [{"alternatives": None, "type": 7}], "tokens": "x"}),
]
#: first frames of each streaming protocol (by the end of its path), so a client gets past
#: its start handshake and meets the garbage where it parses results
STARTS = {
    "/speech-to-text/realtime": [{"message_type": "session_started", "session_id": "s"}],
    "/asr/realtime": [{"sessionId": "s"}],
    "/realtime": [
        {"type": "session.created", "session": {"id": "s"}},
        {"type": "session.updated", "session": {"id": "s"}},
    ],
    "/v3/ws": [{"type": "Begin", "id": "s", "expires_at": 1}],
    "/v2": [{"message": "RecognitionStarted", "id": "s"}],
    "/listen": [],
}
FRAMES: list[str | bytes] = [
    "not json",
    "[]",
    "null",
    '{"type": 5}',
    '{"type": "Results", "channel": 7, "is_final": true}',
    '{"type": "Results", "channel": {"alternatives": [{"transcript": 5}]}, "is_final": true}',
    '{"type": "conversation.item.input_audio_transcription.completed", "transcript": 5}',
    '{"type": "conversation.item.input_audio_transcription.completed", "item_id": []}',
    '{"type": "input_audio_buffer.committed", "item_id": {"a": 1}}',
    '{"type": "Turn", "end_of_turn": true, "transcript": [], "turn_is_formatted": true}',
    '{"message_type": "committed_transcript", "text": {}}',
    '{"message": "AddTranscript", "results": "x", "metadata": 5}',
    '{"message": "EndOfTranscript"}',
    '{"message": "Error", "reason": 5, "type": []}',
    b"\x00\x01binary frame",
    '{"type": "error", "error": "x"}',
    '{"type": "speechComplete", "turnId": {"a": 1}, "transcript": 5, "sessionId": []}',
    '{"type": "speechStart", "turnId": [], "sessionId": {"s": 1}}',
    '{"sessionId": ["x"]}',
]


class GarbageServer:
    """Answers every HTTP request with the next garbage body (status 200 or 201), and every
    WebSocket with the start frames, the next garbage frame, then silence or a close.

    One server per client, so what a client meets does not depend on how the clients' requests
    interleave: each frame comes twice, first followed by silence (the client's parser must
    meet it before anything else happens) and then by a close (the client must not turn the
    close into a bug either). A shared server once let a streaming client get, by the order of
    other clients' requests, only frames followed by a close, so its parser never met one."""

    def __init__(self, seed: int = 28) -> None:
        self.port = free_port()
        self.bodies = itertools.cycle(BODIES)
        self.turns = itertools.cycle([(f, close) for f in FRAMES for close in (False, True)])
        self.rng = random.Random(seed)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            garbage, close = next(self.turns)
            path = request.path.rstrip("/")
            starts = next((v for k, v in STARTS.items() if path.endswith(k)), [])
            for start in starts:
                await ws.send_str(orjson.dumps(start).decode())
            if isinstance(garbage, bytes):
                await ws.send_bytes(garbage)
            else:
                await ws.send_str(garbage)
            if close:
                await ws.close()
            else:  # say nothing more: the client's own deadline ends it
                await asyncio.sleep(1.5)
            return ws
        await request.read()
        kind = self.rng.choice(["application/json", "application/json", "text/plain", ""])
        return web.Response(
            status=self.rng.choice([200, 200, 201]),
            body=next(self.bodies),
            headers={"Content-Type": kind} if kind else {},
        )

    async def __aenter__(self) -> GarbageServer:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = await serve(app, [self.port])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def clip() -> AudioPayload:
    pcm = watermark.embed("fuzz", 0.4, seed=1)
    data = wav_header(len(pcm) * 2, 16000, 1) + pcm.tobytes()
    return AudioPayload(data, "audio/wav", "audio.wav", 0.4)


async def _fuzz(name: str, url_base: str, session: aiohttp.ClientSession) -> Counter[str]:
    """Every garbage body or frame once through the client of model `name` (a prefix's
    model from MODELS, or a whole-name variant): the outcome kinds."""
    prefix = name.split("/", 1)[0]
    cls, model = resolve(name)
    try:
        client = cls(
            ProviderSettings(
                model=model,
                api_key="fuzz-key-0123456789",
                base_url=url_base,
                language="en",
                options={"poll_interval": "0.01"},
                streaming=StreamOptions(False, None, 1.0, 1.0),
            )
        )
    except ConfigError as exc:
        pytest.fail(f"{prefix}: {exc}")
    url = client.endpoint_urls()[0]
    audio = clip()
    seen: Counter[str] = Counter()
    rounds = 2 * len(FRAMES) if getattr(client, "streaming", False) else len(BODIES)
    for _ in range(rounds):
        try:
            text = await asyncio.wait_for(client.transcribe(session, url, audio), 4)
            seen[f"ok:{type(text).__name__}"] += 1
        except ProviderError as err:
            seen[err.kind] += 1
            if err.kind == "internal":
                seen[f"BUG internal: {err}"[:300]] += 1
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            seen[type(exc).__name__] += 1  # the engine's timeout / connection
        except Exception as exc:  # what the engine would record as internal
            seen[f"BUG {type(exc).__name__}: {exc}"[:300]] += 1
    return seen


async def test_garbage_from_any_server_is_never_an_internal_error() -> None:
    missing = [p for p in REGISTRY if p not in MODELS]
    assert not missing, f"add a model for the new provider(s) {missing} to MODELS here"
    # every prefix's client, and every whole-name variant served by a client of its own
    names = [f"{p}/{MODELS[p]}" for p in REGISTRY] + list(VARIANTS)
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(GarbageServer()) for _ in names]
        session = await stack.enter_async_context(aiohttp.ClientSession())
        found = await asyncio.gather(
            *(_fuzz(n, srv.url, session) for n, srv in zip(names, servers, strict=True))
        )
    outcomes = dict(zip(names, found, strict=True))
    bugs = [f"{p}: {k}" for p, seen in outcomes.items() for k in seen if k.startswith("BUG")]
    assert bugs == [], "\n".join(bugs)
    # the garbage reached every client's parser: each saw bad_response at least once
    for prefix, seen in outcomes.items():
        assert seen["bad_response"] > 0, (prefix, seen)


async def test_a_non_json_text_frame_is_a_bad_response_naming_where() -> None:
    """The issue's case: deepgram-live read a non-JSON text frame as asyncbench's own bug."""
    async with GarbageServer() as srv, aiohttp.ClientSession() as session:
        srv.turns = itertools.cycle([("<html>not json</html>", True)])  # then a close
        cls, model = resolve("deepgram-live/nova-3")
        client = cls(
            ProviderSettings(
                model=model,
                api_key="fuzz-key-0123456789",
                base_url=srv.url,
                streaming=StreamOptions(False, None, 1.0, 1.0),
            )
        )
        url = client.endpoint_urls()[0]
        with pytest.raises(ProviderError) as info:
            await asyncio.wait_for(client.transcribe(session, url, clip()), 10)
    assert info.value.kind == "bad_response" and info.value.retryable
    assert str(info.value) == "not a Deepgram message: <html>not json</html>"


async def test_a_client_meeting_an_unexpected_shape_says_bad_response_and_where() -> None:
    """The boundary itself: any client (this one made up) that trips over a reply's shape."""
    from asyncbench.providers.base import Provider

    class Careless(Provider):
        key_required = False

        async def transcribe(self, session, url, audio):  # type: ignore[no-untyped-def]
            reply: dict[str, object] = {"result": None}
            return reply["results"]  # the server named it differently

    client = Careless(ProviderSettings(model="m"))
    with pytest.raises(ProviderError) as info:
        await client.transcribe(None, "http://x", clip())  # type: ignore[arg-type]
    assert info.value.kind == "bad_response" and info.value.retryable
    assert str(info.value).startswith("reply not understood (KeyError: 'results'; in ")
    assert str(info.value).endswith(
        "test_boundary_fuzz.py:" + str(_line_of('reply["results"]')) + ")"
    )


def _line_of(text: str) -> int:
    from pathlib import Path

    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line and "return" in line)
