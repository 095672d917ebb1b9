"""Deepgram live streaming: the real CLI (`run_eval.py` and `batch`) in real time against the
strict mock, partials and metrics per line, a rejected key, and the mock's strictness."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from asyncbench.providers.deepgram_live import ws_url
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CliRun,
    assert_key_rejected,
    wav_clip,
)
from .stream_runs import assert_streamed, stream_cli_runs
from .support import MockServer

KEY = "dg-live-key-7"
ENV = "DEEPGRAM_API_KEY"
MODEL = "deepgram-live/nova-3"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    return stream_cli_runs(tmp_path_factory.mktemp("deepgram_live"), MODEL, ENV, KEY)


def test_run_eval_and_batch_stream_the_split(runs: dict[str, CliRun]) -> None:
    assert_streamed(runs)


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    assert_key_rejected(runs["bad_key"], ENV)


def test_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:9/") == "ws://127.0.0.1:9/v1/listen"
    assert ws_url("https://api.deepgram.com") == "wss://api.deepgram.com/v1/listen"
    assert ws_url("wss://x/v1/listen") == "wss://x/v1/listen"


async def test_the_mock_refuses_a_missing_interim_flag_and_a_bearer_key() -> None:
    async with (
        MockServer(MockConfig(keys={"deepgram-live": KEY})) as mock,
        aiohttp.ClientSession() as s,
    ):
        url = f"{mock.url}/v1/listen?encoding=linear16&sample_rate=16000"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(url, headers={"Authorization": f"Token {KEY}"})
        assert info.value.status == 400
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(
                url + "&interim_results=true", headers={"Authorization": f"Bearer {KEY}"}
            )
        assert info.value.status == 401


async def _mock_session(s: aiohttp.ClientSession, url: str) -> tuple[str, list[dict]]:
    """One stream of a 0.6 s clip straight over the socket: the upgrade's `dg-request-id`
    and every message the mock sent."""
    payload = wav_clip("Each stream its own id.", 0.6)
    assert payload.data is not None
    pcm = payload.data[44:]
    query = "model=nova-3&encoding=linear16&sample_rate=16000&channels=1&interim_results=true"
    async with s.ws_connect(f"{url}/v1/listen?{query}", headers={"Authorization": "Token k"}) as ws:
        header = ws._response.headers["dg-request-id"]  # type: ignore[union-attr]
        for at in range(0, len(pcm), 3200):
            await ws.send_bytes(pcm[at : at + 3200])
        await ws.send_str('{"type": "Finalize"}')
        await ws.send_str('{"type": "CloseStream"}')
        messages = [orjson.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
    return header, messages


async def test_the_mock_names_each_streams_own_request_id_in_the_sdks_types() -> None:
    """What deepgram-live binds on, as the mock speaks it: the upgrade's `dg-request-id` is
    the `request_id` of every `Results` and of `Metadata`, another stream has another one,
    and each message passes the official SDK's (validating) models."""
    types = pytest.importorskip("deepgram.listen.v1.types")
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        sessions = [await _mock_session(s, mock.url) for _ in range(2)]
    for header, messages in sessions:
        kinds = [m["type"] for m in messages]
        assert kinds[-2:] == ["Results", "Metadata"] and "Results" in kinds[:-2], kinds
        results = [types.ListenV1Results.model_validate(m) for m in messages[:-1]]
        metadata = types.ListenV1Metadata.model_validate(messages[-1])
        assert {r.metadata.request_id for r in results} == {metadata.request_id} == {header}
    assert sessions[0][0] != sessions[1][0]
