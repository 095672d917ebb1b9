"""Deepgram live streaming: the real CLI (`run_eval.py` and `batch`) in real time against the
strict mock, partials and metrics per line, a rejected key, and the mock's strictness."""

from __future__ import annotations

import aiohttp
import pytest

from asyncbench.providers.deepgram_live import ws_url
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CliRun,
    assert_key_rejected,
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
