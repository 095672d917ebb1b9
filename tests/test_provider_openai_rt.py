"""OpenAI realtime transcription: the real CLI (`run_eval.py` and `batch`) in real time against
the strict mock, the 16 -> 24 kHz resampling the API forces (the clips carry the rate-robust
watermark), the stream faults retried whole, a close before `session.created`, `error`
events, the mock's strictness, and the official SDK proving the mock."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson
import pytest
import soxr
from aiohttp import web

from asyncbench.core.errors import ProviderError, TransientError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers._stream import PCM
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.openai_rt import OpenAIRTProvider, to_24k, ws_url
from asyncbench.servers.mock.state import MockConfig
from asyncbench.sources import watermark

from .loopback import served
from .provider_runs import (
    CliRun,
    assert_key_rejected,
    clips,
    run_engine,
    wav_clip,
)
from .stream_runs import assert_streamed, stream_cli_runs
from .support import MockServer

KEY = "sk-rt-key-5"
ENV = "OPENAI_API_KEY"
MODEL = "openai-rt/gpt-4o-transcribe"
SESSION = {
    "type": "transcription",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
            "turn_detection": None,
        }
    },
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    return stream_cli_runs(tmp_path_factory.mktemp("openai_rt"), MODEL, ENV, KEY, robust=True)


def settings(base_url: str, **streaming: Any) -> ProviderSettings:
    options = StreamOptions(**{"realtime_factor": 4.0, **streaming})
    return ProviderSettings(
        model="gpt-4o-transcribe", api_key=KEY, base_url=base_url, streaming=options
    )


def test_run_eval_and_batch_stream_the_split(runs: dict[str, CliRun]) -> None:
    for row in assert_streamed(runs):
        # 100 ms chunks counted in seconds of audio: chunk sizes computed at 24 kHz
        assert row["chunks"] == math.ceil(round(row["duration"] / 0.1, 6)), row


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    assert_key_rejected(runs["bad_key"], ENV)


def test_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:9/") == "ws://127.0.0.1:9/v1/realtime"
    assert ws_url("https://api.openai.com") == "wss://api.openai.com/v1/realtime"
    assert ws_url("wss://x/v1/realtime?model=m") == "wss://x/v1/realtime"


def test_clips_are_resampled_to_24_khz_and_keep_their_text() -> None:
    pcm = watermark.embed("a clip at sixteen kilohertz", 1.0, robust=True)
    out = np.frombuffer(to_24k(PCM(pcm.tobytes(), 16000, 1)), dtype="<i2")
    assert len(out) == 24000
    assert watermark.extract(soxr.resample(out, 24000, 16000)) == "a clip at sixteen kilohertz"


async def test_a_client_that_gives_up_leaves_the_mock_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The final due after the client's --final_timeout: the client fails the clip as
    final_timeout and closes; the mock's late `completed` must not become a server error."""
    async with MockServer(MockConfig(stream_final_delay=0.6)) as mock:
        provider = OpenAIRTProvider(settings(mock.url, final_timeout_s=0.1))
        rows = await run_engine(provider, clips(2, robust=True), tmp_path, max_retries=0)
        await asyncio.sleep(0.8)  # past the mock's delay, while it still serves
    assert {(r["status"], r["error_kind"]) for r in rows.values()} == {("failed", "final_timeout")}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def _script_app(*events: dict[str, Any], close_first: bool = False) -> web.Application:
    """A server at /v1/realtime that closes at once, or sends `events` after any message."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if not close_first:
            await ws.send_str('{"type": "session.created", "session": {"type": "transcription"}}')
            await ws.receive()
            for event in events:
                await ws.send_str(orjson.dumps(event).decode())
            await ws.receive()
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", handler)
    return app


async def test_a_close_before_session_created_is_a_protocol_error(tmp_path: Path) -> None:
    async with served(_script_app(close_first=True)) as base:
        provider = OpenAIRTProvider(settings(base))
        rows = await run_engine(provider, clips(2, robust=True), tmp_path, max_retries=2)
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "protocol", 1)
        assert "before session.created" in row["error"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "invalid_request_error", "code": "invalid_api_key"}, "auth"),
        ({"type": "insufficient_quota", "code": "insufficient_quota"}, "quota"),
        ({"type": "invalid_request_error", "code": "rate_limit_exceeded"}, "rate_limited"),
        ({"type": "invalid_request_error", "code": "invalid_value"}, "bad_request"),
        ({"type": "server_error", "code": None}, "server_error"),
    ],
)
async def test_error_events_have_their_meaning(error: dict[str, Any], kind: str) -> None:
    event = {"type": "error", "event_id": "e1", "error": {**error, "message": "said the server"}}
    async with served(_script_app(event)) as base, aiohttp.ClientSession() as session:
        provider = OpenAIRTProvider(settings(base))
        with pytest.raises(ProviderError) as info:
            await provider.transcribe(session, provider.base_url, wav_clip("x", 0.5, robust=True))
    assert info.value.kind == kind
    assert "said the server" in str(info.value)
    assert isinstance(info.value, TransientError) == (kind in ("rate_limited", "server_error"))


async def test_a_clip_under_100_ms_is_audio_too_short(tmp_path: Path) -> None:
    async with MockServer(MockConfig(keys={"openai-rt": KEY})) as mock:
        provider = OpenAIRTProvider(settings(mock.url))
        rows = await run_engine(provider, {"s": wav_clip("hi", 0.05, robust=True)}, tmp_path)
    assert (rows["s"]["status"], rows["s"]["error_kind"]) == ("failed", "audio_too_short")
    assert "buffer too small" in rows["s"]["error"]
    assert mock.state.counters["openai-rt.requests"] == 1


async def _session(ws: aiohttp.ClientWebSocketResponse, session: Any) -> dict[str, Any]:
    """The reply to a `session.update` sent after `session.created`."""
    assert (await ws.receive_json())["type"] == "session.created"
    await ws.send_json({"type": "session.update", "event_id": "c1", "session": session})
    return await ws.receive_json()


async def test_the_mock_refuses_what_the_service_refuses() -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    config = MockConfig(keys={"openai-rt": KEY})
    async with MockServer(config) as mock, aiohttp.ClientSession() as s:
        url = f"{mock.url}/v1/realtime"
        for query, headers, status in (
            ("?intent=transcription", {"Authorization": "Bearer nope"}, 401),
            ("?intent=transcription", {"Authorization": KEY}, 401),
            ("", auth, 400),
            ("?intent=transcription&model=gpt-4o-transcribe", auth, 400),
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await s.ws_connect(url + query, headers=headers)
            assert info.value.status == status, query
        url += "?intent=transcription"
        async with s.ws_connect(url, headers=auth) as ws:  # audio before the configuration
            assert (await ws.receive_json())["type"] == "session.created"
            await ws.send_json({"type": "input_audio_buffer.append", "audio": "AAAA"})
            reply = await ws.receive_json()
            assert (reply["type"], reply["error"]["code"]) == ("error", "session_not_configured")
        async with s.ws_connect(url, headers=auth) as ws:  # a 16 kHz declaration
            rate16 = orjson.loads(orjson.dumps(SESSION))
            rate16["audio"]["input"]["format"]["rate"] = 16000
            reply = await _session(ws, rate16)
            assert reply["type"] == "error" and reply["error"]["event_id"] == "c1"
            assert reply["error"]["param"] == "session.audio.input.format.rate"
            assert reply["error"]["type"] == "invalid_request_error"
        async with s.ws_connect(url, headers=auth) as ws:  # odd-length and non-base64 audio
            assert (await _session(ws, SESSION))["type"] == "session.updated"
            for audio in (base64.b64encode(b"\x01\x02\x03").decode(), "not base64!"):
                await ws.send_json({"type": "input_audio_buffer.append", "audio": audio})
                reply = await ws.receive_json()
                assert (reply["type"], reply["error"]["param"]) == ("error", "audio")
            await ws.send_json({"type": "transcription_session.update", "session": SESSION})
            reply = await ws.receive_json()
            assert (reply["type"], reply["error"]["param"]) == ("error", "type")
    assert mock.state.counters["openai-rt.requests"] == 7


async def test_the_official_sdk_transcribes_through_the_mock() -> None:
    """openai 3.57.0's own realtime client (websockets) connects with intent=transcription,
    configures a 24 kHz session, appends base64 audio, commits and gets the transcript."""
    openai = pytest.importorskip("openai")
    pytest.importorskip("websockets")
    text = "the official client heard this"
    pcm = soxr.resample(watermark.embed(text, 1.2, robust=True), 16000, 24000).tobytes()
    seen: list[str] = []
    async with MockServer(MockConfig(keys={"openai-rt": "sk-sdk"})) as mock:
        sdk = openai.AsyncOpenAI(api_key="sk-sdk", base_url=f"{mock.url}/v1")
        manager = sdk.realtime.connect(extra_query={"intent": "transcription"})
        async with manager as conn:
            assert (await conn.recv()).type == "session.created"
            await conn.session.update(session=SESSION)  # type: ignore[arg-type]
            for i in range(0, len(pcm), 4800):
                chunk = base64.b64encode(pcm[i : i + 4800]).decode()
                await conn.input_audio_buffer.append(audio=chunk)
            await conn.input_audio_buffer.commit()
            async with asyncio.timeout(10):
                async for event in conn:
                    seen.append(event.type)
                    if event.type == "error":
                        pytest.fail(f"the mock refused the SDK: {event}")
                    if event.type == "conversation.item.input_audio_transcription.completed":
                        transcript = event.transcript
                        break
        await sdk.close()
    assert transcript == text
    assert seen[0] == "session.updated"
    assert "conversation.item.input_audio_transcription.delta" in seen
    assert "input_audio_buffer.committed" in seen
    headers = {k.lower(): v for k, v in mock.state.last_request["openai-rt"].items()}
    assert headers["authorization"] == "Bearer sk-sdk"
    assert "openai-beta" not in headers  # the GA API: no beta header
    assert mock.state.last_request["openai-rt query"] == {"intent": "transcription"}
