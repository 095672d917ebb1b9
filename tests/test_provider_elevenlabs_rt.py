"""ElevenLabs Scribe realtime: the real CLI (`run_eval.py` and `batch`) in real time against the
strict mock, partials and metrics per line, a rejected key, the stream faults, a close before
`session_started`, the official SDK against the mock, and the mock's strictness."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers._stream import PCM
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.elevenlabs_rt import ElevenLabsRTProvider, session_error, ws_url
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CliRun,
    assert_key_rejected,
    clip_list,
    clips,
    run_clips,
    run_engine,
    wav_clip,
)
from .stream_runs import assert_streamed, stream_cli_runs
from .support import MockServer

KEY = "xi-rt-key-5"
ENV = "ELEVENLABS_API_KEY"
MODEL = "elevenlabs-rt/scribe_v2_realtime"
MOCK = "elevenlabs-rt"
PATH = "/v1/speech-to-text/realtime"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    return stream_cli_runs(tmp_path_factory.mktemp("elevenlabs_rt"), MODEL, ENV, KEY)


def test_run_eval_and_batch_stream_the_split(runs: dict[str, CliRun]) -> None:
    assert_streamed(runs)


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    assert_key_rejected(runs["bad_key"], ENV)


def test_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:9/") == f"ws://127.0.0.1:9{PATH}"
    assert ws_url("https://api.elevenlabs.io") == f"wss://api.elevenlabs.io{PATH}"
    assert ws_url("wss://gw.example/el/v1/rt") == "wss://gw.example/el/v1/rt"


def provider(base_url: str, language: str = "en") -> ElevenLabsRTProvider:
    return ElevenLabsRTProvider(
        ProviderSettings(
            model="scribe_v2_realtime",
            api_key=KEY,
            base_url=base_url,
            language=language,
            streaming=StreamOptions(realtime_factor=4.0),
        )
    )


async def test_the_wire_query_and_a_forced_language(tmp_path: Path) -> None:
    """What the client puts on the upgrade, as the mock recorded it: the documented query
    (16 kHz PCM as it is, manual commit) and German forced as ISO 639-3, one commit per clip."""
    async with MockServer(MockConfig(keys={MOCK: KEY})) as mock:
        rows = await run_engine(provider(mock.url, "de"), clips(2), tmp_path)
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows.values()), rows
    query = mock.state.last_request[f"{MOCK} query"]
    assert query == {
        "model_id": "scribe_v2_realtime",
        "audio_format": "pcm_16000",
        "commit_strategy": "manual",
        "language_code": "deu",
    }
    assert mock.state.last_request[MOCK]["xi-api-key"] == KEY
    assert mock.state.counters[f"{MOCK}.commits"] == 2
    assert mock.state.counters[f"{MOCK}.input_error"] == 0


async def test_a_close_before_session_started_is_a_protocol_error(tmp_path: Path) -> None:
    from .loopback import served

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get(PATH, handler)
    async with served(app) as base:
        rows = await run_engine(provider(base), clips(2), tmp_path, max_retries=2)
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "protocol", 1)
        assert "before session_started" in row["error"]


async def test_an_auth_error_message_stops_the_run_as_a_rejected_key(tmp_path: Path) -> None:
    """A key refused inside the session (`auth_error` instead of `session_started`) is the
    same rejected key as a 401 on the upgrade: fatal, named by its variable, sent once."""
    from .loopback import served

    sessions = 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal sessions
        sessions += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"message_type": "auth_error", "error": "Invalid API key"}')
        await ws.close(code=1008)
        return ws

    app = web.Application()
    app.router.add_get(PATH, handler)
    async with served(app) as base:
        engine, rows = await run_clips(provider(base), clip_list(1), tmp_path / "r.jsonl")
    assert rows == []  # a stopped run records nothing about the sample
    assert engine.fatal is not None and engine.fatal.kind == "auth"
    assert "key rejected" in engine.fatal.message and ENV in engine.fatal.message
    assert sessions == 1


def test_error_messages_map_to_kinds() -> None:
    def mapped(kind: str) -> tuple[type, str, float | None]:
        err = session_error({"message_type": kind, "error": "why"}, ENV)
        assert err is not None and "why" in err.message
        return type(err), err.kind, err.retry_after

    assert mapped("quota_exceeded") == (PermanentError, "quota", None)
    assert mapped("rate_limited") == (TransientError, "rate_limited", 1.0)
    assert mapped("resource_exhausted") == (TransientError, "rate_limited", 1.0)
    assert mapped("transcriber_error") == (TransientError, "server_error", None)
    assert mapped("chunk_size_exceeded") == (PermanentError, "bad_request", None)
    assert mapped("unaccepted_terms")[:2] == (PermanentError, "auth")
    assert mapped("some_new_error") == (PermanentError, "bad_request", None)
    assert session_error({"message_type": "partial_transcript", "text": ""}, ENV) is None
    assert session_error({"message_type": "warning", "warning": "slow"}, ENV) is None


def test_audio_the_api_cannot_take_is_bad_audio() -> None:
    client = provider("http://127.0.0.1:9")
    with pytest.raises(PermanentError) as info:
        client.query(PCM(b"", 11025, 1))
    assert info.value.kind == "bad_audio" and "11025" in info.value.message
    with pytest.raises(PermanentError):
        client.query(PCM(b"", 16000, 2))


# ----------------------------------------------------------------- the SDK proves the mock


async def test_the_official_sdk_streams_through_the_mock() -> None:
    """`elevenlabs` 2.78.0's own realtime client (websockets underneath) against the mock:
    it builds the URL and header, waits for `session_started`, sends base64 chunks and a
    commit, and reads the partials, the committed transcript and its timestamps."""
    el = pytest.importorskip("elevenlabs.client")
    from elevenlabs.realtime import AudioFormat, CommitStrategy, RealtimeEvents

    text = "the official realtime client heard this"
    payload = wav_clip(text, 1.2)
    assert payload.data is not None
    pcm = payload.data[44:]
    loop = asyncio.get_running_loop()
    started: asyncio.Future[dict[str, Any]] = loop.create_future()
    committed: asyncio.Future[dict[str, Any]] = loop.create_future()
    timed: asyncio.Future[dict[str, Any]] = loop.create_future()
    partials: list[str] = []
    errors: list[Any] = []

    def once(fut: asyncio.Future[dict[str, Any]]) -> Any:
        return lambda data: fut.done() or fut.set_result(data)

    async with MockServer(MockConfig(keys={MOCK: KEY})) as mock:
        sdk = el.AsyncElevenLabs(api_key=KEY, base_url=mock.url)
        conn = await sdk.speech_to_text.realtime.connect(
            {
                "model_id": "scribe_v2_realtime",
                "audio_format": AudioFormat.PCM_16000,
                "sample_rate": 16000,
                "commit_strategy": CommitStrategy.MANUAL,
                "include_timestamps": True,
            }
        )
        conn.on(RealtimeEvents.SESSION_STARTED, once(started))
        conn.on(RealtimeEvents.PARTIAL_TRANSCRIPT, lambda d: partials.append(d["text"]))
        conn.on(RealtimeEvents.COMMITTED_TRANSCRIPT, once(committed))
        conn.on(RealtimeEvents.COMMITTED_TRANSCRIPT_WITH_TIMESTAMPS, once(timed))
        conn.on(RealtimeEvents.ERROR, errors.append)
        try:
            session = await asyncio.wait_for(started, 10)
            for i in range(0, len(pcm), 3200):
                chunk = base64.b64encode(pcm[i : i + 3200]).decode()
                await conn.send({"audio_base_64": chunk})
            await conn.commit()
            final = await asyncio.wait_for(committed, 10)
            with_times = await asyncio.wait_for(timed, 10)
        finally:
            await conn.close()
    assert session["config"]["audio_format"] == "pcm_16000" and session["session_id"]
    assert final["text"] == text
    assert [w["text"] for w in with_times["words"]] == text.split()
    assert partials
    assert errors == []
    assert mock.state.counters[f"{MOCK}.input_error"] == 0
    assert mock.state.last_request[f"{MOCK} query"]["include_timestamps"] == "true"


# ------------------------------------------------------------------- the mock's strictness


def chunk(audio: bytes, rate: int = 16000, **extra: Any) -> str:
    body = {
        "message_type": "input_audio_chunk",
        "audio_base_64": base64.b64encode(audio).decode(),
        "commit": False,
        "sample_rate": rate,
        **extra,
    }
    return orjson.dumps(body).decode()


async def test_the_mock_refuses_a_missing_key_header_and_a_bad_query() -> None:
    async with (
        MockServer(MockConfig(keys={MOCK: KEY})) as mock,
        aiohttp.ClientSession() as s,
    ):
        url = f"{mock.url}{PATH}?model_id=scribe_v2_realtime&audio_format=pcm_16000"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(url, headers={"Authorization": f"Bearer {KEY}"})
        assert info.value.status == 401
        for query in (
            "audio_format=pcm_16000",
            "model_id=m&audio_format=mp3_44100",
            "model_id=m&commit_strategy=auto",
            "model_id=m&language_code=xx",
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await s.ws_connect(f"{mock.url}{PATH}?{query}", headers={"xi-api-key": KEY})
            assert info.value.status == 400, query


async def refused(config: MockConfig, *messages: str, wait_start: bool = True) -> dict:
    """Send `messages` to a mock session; the error message it answers with."""
    async with MockServer(config) as mock, aiohttp.ClientSession() as s:
        url = f"{mock.url}{PATH}?model_id=scribe_v2_realtime&audio_format=pcm_16000"
        async with s.ws_connect(url, headers={"xi-api-key": KEY}) as ws:
            if wait_start:
                assert (await ws.receive_json(timeout=10))["message_type"] == "session_started"
            for message in messages:
                await ws.send_str(message)
            reply = await ws.receive_json(timeout=10)
            closing = await ws.receive(timeout=10)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    return reply


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (chunk(b"\x00\x01\x02"), "whole 16-bit samples"),
        (chunk(b"\x00\x01", rate=8000), "sample_rate must be 16000"),
        (chunk(b"\x00\x01") + "x", "expected an input_audio_chunk"),
        (
            '{"message_type": "input_audio_chunk", "audio_base_64": "@@", "commit": false, '
            '"sample_rate": 16000}',
            "not base64",
        ),
    ],
)
async def test_the_mock_refuses_bad_chunks(message: str, why: str) -> None:
    reply = await refused(MockConfig(), message)
    assert reply["message_type"] == "input_error" and why in reply["error"], reply


async def test_the_mock_refuses_previous_text_after_the_first_chunk() -> None:
    reply = await refused(
        MockConfig(), chunk(b"\x00\x01", previous_text="so"), chunk(b"\x00\x01", previous_text="x")
    )
    assert "previous_text" in reply["error"], reply


async def test_the_mock_refuses_audio_before_session_started() -> None:
    """The session starts `latency` seconds after the upgrade (1 s here, far more than a
    loopback send takes): audio sent at once is refused, and no session_started is sent."""
    reply = await refused(MockConfig(latency=1.0), chunk(b"\x00\x01"), wait_start=False)
    assert reply == {"message_type": "input_error", "error": "audio sent before session_started"}
