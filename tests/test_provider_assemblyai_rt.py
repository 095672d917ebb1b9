"""AssemblyAI Universal-Streaming v3: the real CLI (`run_eval.py` and `batch`) in real time
against the strict mock, partials and metrics per line, a rejected key, a close before `Begin`,
and the mock's strictness."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from asyncbench.providers.assemblyai_rt import AssemblyAIRTProvider, ws_url
from asyncbench.providers.base import ProviderSettings
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CliRun,
    assert_key_rejected,
    clips,
    run_engine,
    wav_clip,
)
from .stream_runs import assert_streamed, stream_cli_runs
from .support import MockServer

KEY = "aai-rt-key-3"
ENV = "ASSEMBLYAI_API_KEY"
MODEL = "assemblyai-rt/nova-3"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    return stream_cli_runs(tmp_path_factory.mktemp("assemblyai_rt"), MODEL, ENV, KEY)


def test_run_eval_and_batch_stream_the_split(runs: dict[str, CliRun]) -> None:
    assert_streamed(runs)


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    assert_key_rejected(runs["bad_key"], ENV)


def test_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:9/") == "ws://127.0.0.1:9/v3/ws"
    assert ws_url("https://streaming.assemblyai.com") == "wss://streaming.assemblyai.com/v3/ws"


async def test_a_close_before_begin_is_a_protocol_error(tmp_path: Path) -> None:
    from aiohttp import web

    from .loopback import served

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v3/ws", handler)
    async with served(app) as base:
        settings = ProviderSettings(model="universal-streaming", api_key=KEY, base_url=base)
        rows = await run_engine(AssemblyAIRTProvider(settings), clips(2), tmp_path, max_retries=2)
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "protocol", 1)
        assert "before Begin" in row["error"]


async def test_the_mock_refuses_a_bearer_key_and_a_missing_encoding() -> None:
    config = MockConfig(keys={"assemblyai-rt": KEY})
    async with MockServer(config) as mock, aiohttp.ClientSession() as s:
        url = f"{mock.url}/v3/ws?sample_rate=16000"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(url, headers={"Authorization": KEY})
        assert info.value.status == 400
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(
                url + "&encoding=pcm_s16le", headers={"Authorization": f"Bearer {KEY}"}
            )
        assert info.value.status == 401


async def test_the_mock_speaks_the_sdks_events_with_one_begin_per_session() -> None:
    """What assemblyai-rt binds on, as the mock speaks it: one `Begin` per session with an id
    of its own, then turn 0's partials, its final and `Termination`, each passing the
    official SDK's models (`assemblyai.streaming.v3`)."""
    v3 = pytest.importorskip("assemblyai.streaming.v3")
    import orjson

    payload = wav_clip("One Begin per session.", 0.6)
    assert payload.data is not None
    pcm = payload.data[44:]
    models = {"Begin": v3.BeginEvent, "Turn": v3.TurnEvent, "Termination": v3.TerminationEvent}
    begins = []
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        url = f"{mock.url}/v3/ws?sample_rate=16000&encoding=pcm_s16le"
        for _ in range(2):
            async with s.ws_connect(url, headers={"Authorization": KEY}) as ws:
                for at in range(0, len(pcm), 1600):
                    await ws.send_bytes(pcm[at : at + 1600])
                await ws.send_str('{"type": "Terminate"}')
                sent = [orjson.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
            events = [models[m["type"]].model_validate(m) for m in sent]
            kinds = [e.type for e in events]
            assert kinds[0] == "Begin" and kinds[-1] == "Termination", kinds
            assert kinds.count("Begin") == 1 and "Turn" in kinds
            turns = [e for e in events if e.type == "Turn"]
            assert {t.turn_order for t in turns} == {0} and turns[-1].end_of_turn
            assert [t.end_of_turn for t in turns].count(True) == 1
            begins.append(events[0].id)
    assert begins[0] != begins[1]
