"""Meta Muse Voice realtime: the real CLI (`run_eval.py` and `batch`) streaming against the
strict mock with the streaming metrics per line, the handshake, 80 ms frames, the trailing
silence until `speechComplete` and `endStream`, a rejected key, and the mock's strictness.
The shared checks (missing key, stream faults retried whole) are in
test_provider_conformance.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers import resolve
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.meta_stream import MetaStreamProvider, ws_url
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import CliRun, assert_key_rejected, clips, run_engine
from .stream_runs import assert_streamed, stream_cli_runs
from .support import MockServer

KEY = "meta-rt-key-7"
ENV = "META_API_KEY"
MODEL = "meta/muse-voice-transcribe-streaming"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    return stream_cli_runs(tmp_path_factory.mktemp("meta_stream"), MODEL, ENV, KEY)


def provider(url: str, **streaming: object) -> MetaStreamProvider:
    options = StreamOptions(**{"realtime_factor": 4.0, **streaming})  # type: ignore[arg-type]
    settings = ProviderSettings(
        model="muse-voice-transcribe-streaming", api_key=KEY, base_url=url, streaming=options
    )
    return MetaStreamProvider(settings)


def test_run_eval_and_batch_stream_the_split(runs: dict[str, CliRun]) -> None:
    assert_streamed(runs)


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    line = assert_key_rejected(runs["bad_key"], ENV)
    assert line.endswith("Invalid OAuth access token")


async def test_handshake_frames_silence_and_end_of_stream(tmp_path: Path) -> None:
    async with MockServer(MockConfig(keys={"meta": KEY})) as mock:
        rows = await run_engine(provider(mock.url), clips(3), tmp_path)
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows.values()), rows
    assert all(r["partials"] >= 1 and r["final_after_end_s"] is not None for r in rows.values())
    assert mock.state.last_request["meta-stream handshake"] == {
        "audioEncoding": "PCM_16KHZ",
        "model": "muse-voice-transcribe-1.0",
        "mode": "ENDPOINTING",
        "partialMode": "CUMULATIVE",
        "emitAudioProgress": False,
        "languageBias": ["English"],
    }
    counters = mock.state.counters
    assert counters["meta-stream.silence_frames"] >= 2 * 3  # the endpointer heard the stop
    assert counters["meta-stream.end_streams"] == 3
    assert counters["meta-stream.frames_over_80ms"] == 0


async def test_without_trailing_silence_no_turn_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pitfall the PR's comment names: cut straight to endStream and speechComplete never
    comes; the attempt fails `no_final` (partials are never scored) and is retried."""
    monkeypatch.setattr("asyncbench.providers.meta_stream.MAX_TRAILING_SILENCE_S", 0.0)
    async with MockServer() as mock:
        rows = await run_engine(provider(mock.url), clips(1), tmp_path, max_retries=1)
    (row,) = rows.values()
    assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "no_final", 2), row
    assert row["error"].startswith("the stream ended with ")
    assert row["error"].endswith(" partials and no speechComplete") and not row["pred_text"]


async def test_the_mock_refuses_what_the_service_refuses() -> None:
    good = {
        "authorization": {"accessToken": f"Bearer {KEY}"},
        "audioEncoding": "PCM_16KHZ",
        "model": "muse-voice-transcribe-1.0",
        "mode": "ENDPOINTING",
        "partialMode": "CUMULATIVE",
        "emitAudioProgress": False,
    }

    async def first_reply(session: aiohttp.ClientSession, url: str, first: dict) -> dict:
        async with session.ws_connect(url) as ws:
            await ws.send_str(orjson.dumps(first).decode())
            msg = await ws.receive()
            return orjson.loads(msg.data)

    async with MockServer(MockConfig(keys={"meta": KEY})) as mock, aiohttp.ClientSession() as s:
        url = f"{mock.url}/v1/asr/realtime"
        wrong_key = await first_reply(s, url, {**good, "authorization": {"accessToken": KEY}})
        bad_mode = await first_reply(s, url, {**good, "mode": "FAST"})
        bad_rate = await first_reply(s, url, {**good, "audioEncoding": "PCM_8KHZ"})
        async with s.ws_connect(url) as ws:
            await ws.send_str(orjson.dumps(good).decode())
            ack = orjson.loads((await ws.receive()).data)
            await ws.send_bytes(b"\x01\x00" * 1281)  # one sample over 80 ms at 16 kHz
            closed = await ws.receive()
        other = await first_reply(s, url, good)
    assert wrong_key == {"type": "error", "code": 401, "message": "Invalid OAuth access token"}
    assert bad_mode["code"] == 400 and "mode must be one of" in bad_mode["message"]
    assert bad_rate["code"] == 400 and "PCM_16KHZ or PCM_24KHZ" in bad_rate["message"]
    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1008)
    # each accepted session is acknowledged with an id of its own
    assert list(ack) == list(other) == ["sessionId"] and ack != other, (ack, other)


def test_routing_urls_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve(MODEL)[0] is MetaStreamProvider
    assert ws_url("http://127.0.0.1:9") == "ws://127.0.0.1:9/v1/asr/realtime"
    assert ws_url("https://api.meta.ai") == "wss://api.meta.ai/v1/asr/realtime"
    monkeypatch.delenv("META_BASE_URL", raising=False)
    monkeypatch.setenv("META_REALTIME_ENDPOINT", "wss://edge.meta.ai/v1/asr/realtime")
    settings = ProviderSettings(model="muse-voice-transcribe-streaming", api_key=KEY)
    assert MetaStreamProvider(settings).endpoint_urls() == ["wss://edge.meta.ai/v1/asr/realtime"]
    monkeypatch.setenv("META_STREAMING_PACE", "0")
    assert MetaStreamProvider(settings).realtime is False
    with pytest.raises(ConfigError, match="sends 80 ms frames; drop --chunk_ms"):
        provider("http://127.0.0.1:9", chunk_ms=100)


async def test_a_server_that_stays_open_after_end_of_stream(tmp_path: Path) -> None:
    """The turn is complete and endStream sent, but the server never closes: the transcript
    stands (after CLOSE_WAIT_S), rather than failing the sample as a final_timeout."""
    from aiohttp import WSMsgType, web

    from .loopback import served

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the handshake
        silent = 0
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                silent = silent + 1 if not any(msg.data) else 0
                if silent == 2:
                    done = {"type": "speechComplete", "transcript": "Kept open."}
                    await ws.send_str(orjson.dumps(done).decode())
            elif msg.type == WSMsgType.TEXT and "endStream" in msg.data:
                await asyncio.sleep(30)  # never closes in the client's time
        return ws

    app = web.Application()
    app.router.add_get("/v1/asr/realtime", handler)
    async with served(app) as base:
        client = provider(base, final_timeout_s=8.0)
        rows = await run_engine(client, clips(1), tmp_path, max_retries=0)
    (row,) = rows.values()
    assert (row["status"], row["pred_text"], row["attempts"]) == ("ok", "Kept open.", 1), (
        row["error_kind"],
        row["error"],
    )
