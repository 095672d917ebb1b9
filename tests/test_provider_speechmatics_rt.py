"""Speechmatics real-time: the real CLI against the mock's WebSocket, each session error kind,
the acknowledgement window, and the message order the mock enforces."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.speechmatics_rt import (
    CHUNK_BYTES,
    DEFAULT_URL,
    SpeechmaticsRTProvider,
    audio_format,
    session_error,
)
from asyncbench.servers.mock.state import MockConfig

from .loopback import served
from .provider_runs import (
    CliRuns,
    assert_all_correct,
    assert_failures_recorded,
    assert_key_rejected,
    assert_missing_key,
    assert_rate_limits_retried,
    cli_runs,
    env_with,
    key_runs,
    wav_clip,
)
from .support import MockServer

KEY = "sm-rt-key-99"
ENV = "SPEECHMATICS_API_KEY"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    return cli_runs(
        MockConfig(keys={"speechmatics-rt": KEY}),
        tmp_path_factory.mktemp("speechmatics_rt"),
        {
            "enhanced": ("speechmatics-rt/enhanced", env_with(**{ENV: KEY}), ()),
            **key_runs("speechmatics-rt/enhanced", ENV, "nope"),
        },
    )


def provider(
    url: str, streaming: StreamOptions | None = None, **attrs: float
) -> SpeechmaticsRTProvider:
    settings = ProviderSettings(
        model="enhanced", api_key=KEY, base_url=url, streaming=streaming or StreamOptions()
    )
    client = SpeechmaticsRTProvider(settings)
    for name, value in attrs.items():
        setattr(client, name, value)
    return client


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end(cli: CliRuns) -> None:
    assert_all_correct(cli.runs["enhanced"])
    assert cli.mock.counters["speechmatics-rt.errors"] == 0


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    assert_key_rejected(cli.runs["bad_key"], ENV)


def test_missing_key_names_the_variable(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)


# -- each error kind, through the engine ----------------------------------------------------


async def test_session_errors_are_recorded_with_the_reason(tmp_path: Path) -> None:
    await assert_failures_recorded(
        provider,
        tmp_path,
        kind="server_error",
        reason="job_error: injected failure",
        max_retries=0,
        per_attempt="speechmatics-rt.errors",
    )


async def test_concurrency_quota_is_retried(tmp_path: Path) -> None:
    """Too many sessions: the service sends Error quota_exceeded and closes; the docs say to
    retry after 5-10 s (shortened here), and the clip is tried again."""
    state = await assert_rate_limits_retried(
        lambda url: provider(url, retry_after=0.01), tmp_path, "speechmatics-rt"
    )
    assert state.counters["speechmatics-rt.errors"] == state.counters["speechmatics-rt.429"]


@pytest.mark.parametrize(
    ("etype", "cls", "kind"),
    [
        ("quota_exceeded", TransientError, "rate_limited"),
        ("internal_error", TransientError, "server_error"),
        ("not_authorised", PermanentError, "auth"),
        ("insufficient_funds", PermanentError, "quota"),
        ("data_error", PermanentError, "bad_audio"),
        ("invalid_config", PermanentError, "bad_request"),
    ],
)
def test_error_types_have_meaning(etype: str, cls: type, kind: str) -> None:
    err = session_error({"message": "Error", "type": etype, "reason": "why"}, retry_after=7.0)
    assert isinstance(err, cls) and err.kind == kind and err.message == f"{etype}: why"
    assert err.retry_after == (7.0 if cls is TransientError else None)


# -- the wire, against the mock's strictness ------------------------------------------------


async def test_no_realtime_streams_raw_faster_than_real_time() -> None:
    clip = wav_clip("Five seconds of audio, sent at once.", 5.0)
    async with MockServer(MockConfig(keys={"speechmatics-rt": KEY})) as mock:
        client = provider(mock.url, StreamOptions(realtime=False))
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter()
            text = await client.transcribe(session, client.base_url, clip)
            elapsed = time.perf_counter() - start
    assert text == "Five seconds of audio, sent at once."
    assert elapsed < 2.0
    assert client.base_url == f"{mock.url}/v2"
    assert mock.state.last_request["speechmatics-rt"]["Authorization"] == f"Bearer {KEY}"


def test_audio_format_strips_the_wav_header() -> None:
    clip = wav_clip("Header off.", 0.5)
    assert clip.data is not None
    fmt, stream = audio_format(clip.data)
    assert fmt == {"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}
    assert stream == clip.data[44:]
    assert audio_format(b"fLaC....") == ({"type": "file"}, b"fLaC....")
    assert SpeechmaticsRTProvider.default_base_url == DEFAULT_URL


async def test_unacknowledged_chunks_stay_within_the_window() -> None:
    """A server that acknowledges slowly: the client never has more than `max_unacked`
    chunks out without their AudioAdded, and still sends everything."""
    seen = {"chunks": 0, "most_unacked": 0, "last_seq_no": None}

    async def slow_acks(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # StartRecognition
        await ws.send_str('{"message": "RecognitionStarted"}')
        acked = 0

        async def ack_slowly() -> None:
            nonlocal acked
            while True:
                await asyncio.sleep(0.005)
                if acked < seen["chunks"]:
                    acked += 1
                    await ws.send_str(
                        orjson.dumps({"message": "AudioAdded", "seq_no": acked}).decode()
                    )

        acker = asyncio.create_task(ack_slowly())
        while (msg := await ws.receive()).type == WSMsgType.BINARY:
            seen["chunks"] += 1
            seen["most_unacked"] = max(seen["most_unacked"], seen["chunks"] - acked)
        seen["last_seq_no"] = orjson.loads(msg.data)["last_seq_no"]
        while acked < seen["chunks"]:
            await asyncio.sleep(0.005)
        acker.cancel()
        await ws.send_str('{"message": "AddTranscript", "metadata": {"transcript": "done "}}')
        await ws.send_str('{"message": "EndOfTranscript"}')
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v2", slow_acks)
    clip = wav_clip("Many chunks.", 2.0)  # 64,000 bytes of PCM: 16 chunks
    async with served(app) as base, aiohttp.ClientSession() as session:
        client = provider(base, StreamOptions(realtime=False), max_unacked=3)
        assert await client.transcribe(session, client.base_url, clip) == "done"
    chunks = -(-(len(clip.data or b"") - 44) // CHUNK_BYTES)
    assert seen["chunks"] == seen["last_seq_no"] == chunks == 16
    assert seen["most_unacked"] == 3


async def test_the_mock_enforces_the_message_order() -> None:
    start = {
        "message": "StartRecognition",
        "audio_format": {"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "transcription_config": {"language": "en"},
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/v2"
        # audio straight after StartRecognition, without waiting for RecognitionStarted
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_str(orjson.dumps(start).decode())
            await ws.send_bytes(b"\0" * 4096)
            error = orjson.loads((await ws.receive()).data)
            assert (await ws.receive()).type == WSMsgType.CLOSE
        assert error == {
            "message": "Error",
            "type": "protocol_error",
            "reason": "message received before RecognitionStarted",
        }
        # a wrong last_seq_no
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_str(orjson.dumps(start).decode())
            assert orjson.loads((await ws.receive()).data)["message"] == "RecognitionStarted"
            await ws.send_bytes(b"\0" * 4096)
            assert orjson.loads((await ws.receive()).data) == {"message": "AudioAdded", "seq_no": 1}
            await ws.send_str('{"message": "EndOfStream", "last_seq_no": 2}')
            error = orjson.loads((await ws.receive()).data)
        assert error["type"] == "protocol_error" and "last_seq_no 2 but 1" in error["reason"]
        # a last_seq_no below the chunks received is accepted (the SDK sends its own count)
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_str(orjson.dumps(start).decode())
            assert orjson.loads((await ws.receive()).data)["message"] == "RecognitionStarted"
            for _ in range(2):
                await ws.send_bytes(b"\0" * 4096)
            await ws.send_str('{"message": "EndOfStream", "last_seq_no": 1}')
            seen = []
            while (msg := await ws.receive()).type == WSMsgType.TEXT:
                seen.append(orjson.loads(msg.data)["message"])
        assert seen[-1] == "EndOfTranscript" and "Error" not in seen, seen
        # audio first of all, and a bad key at the upgrade
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_bytes(b"\0" * 10)
            assert orjson.loads((await ws.receive()).data)["type"] == "protocol_error"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(url, headers={"Authorization": KEY})
    assert info.value.status == 401
