"""Deepgram live streaming: the real CLI (`run_eval.py` and `batch`) in real time against the
strict mock, partials and metrics per line, a rejected key, and the mock's strictness."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.streaming import StreamOptions
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.deepgram_live import DeepgramLiveProvider, ws_url
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import run_eval
from .provider_runs import (
    CONFIG,
    SPLIT,
    CliRun,
    assert_all_correct,
    assert_key_rejected,
    clips,
    env_with,
    run_engine,
    small_split,
)
from .support import MockServer, only_file, read_results, run_cli_async

KEY = "dg-live-key-7"
ENV = "DEEPGRAM_API_KEY"
MODEL = "deepgram-live/nova-3"
FAST = ("--realtime_factor", "4")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    root = tmp_path_factory.mktemp("deepgram_live")
    dataset = small_split(root / "esb")
    env = env_with(**{ENV: KEY})

    async def main() -> dict[str, CliRun]:
        config = MockConfig(keys={"deepgram-live": KEY}, stream_final_delay=0.1)
        async with MockServer(config) as mock:
            jobs = {
                "eval": run_eval(MODEL, dataset, root / "eval", mock.url, env, *FAST),
                "batch": run_cli_async(
                    "batch",
                    "--model",
                    MODEL,
                    "--dataset_path",
                    dataset,
                    "--datasets",
                    f"{CONFIG}:{SPLIT}",
                    "--results_dir",
                    root / "batch",
                    "--base_url",
                    mock.url,
                    "--no_progress",
                    *FAST,
                    env=env,
                ),
                "bad_key": run_eval(
                    MODEL, dataset, root / "bad_key", mock.url, env_with(**{ENV: "nope"}), *FAST
                ),
            }
            out = await asyncio.gather(*jobs.values())
        return {n: CliRun(*o, root / n) for n, o in zip(jobs, out, strict=True)}

    return asyncio.run(main())


def test_run_eval_streams_the_split(runs: dict[str, CliRun]) -> None:
    rows = assert_all_correct(runs["eval"])
    for row in rows:
        assert row["partials"] >= 1 and row["final_after_end_s"] >= 0.1, row
    assert "final_after_end_s" in runs["eval"].err


def test_batch_streams_the_split(runs: dict[str, CliRun]) -> None:
    run = runs["batch"]
    assert run.code == 0, run.err
    rows = read_results(only_file(run.results))
    assert rows and all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)


def test_rejected_key_is_one_error_line(runs: dict[str, CliRun]) -> None:
    assert_key_rejected(runs["bad_key"], ENV)


def test_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:9/") == "ws://127.0.0.1:9/v1/listen"
    assert ws_url("https://api.deepgram.com") == "wss://api.deepgram.com/v1/listen"
    assert ws_url("wss://x/v1/listen") == "wss://x/v1/listen"


@pytest.mark.parametrize(("fault", "kind"), [("drop", "connection"), ("no_final", "final_timeout")])
async def test_stream_faults_are_retried_whole(tmp_path: Path, fault: str, kind: str) -> None:
    async with MockServer(MockConfig(stream_fault=fault)) as mock:
        settings = ProviderSettings(
            model="nova-3",
            api_key=KEY,
            base_url=mock.url,
            streaming=StreamOptions(realtime_factor=4.0, final_timeout_s=0.3),
        )
        rows = await run_engine(DeepgramLiveProvider(settings), clips(1), tmp_path, max_retries=1)
    (row,) = rows.values()
    assert (row["status"], row["error_kind"], row["attempts"], row["pred_text"]) == (
        "failed",
        kind,
        2,
        "",
    ), row
    assert mock.state.counters["deepgram-live.requests"] == 2


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
