"""Where the second-half 2026 features meet: `--stream`, the board's newer providers (meta,
gemini, sprag and its account pacer), `--revision` and the saturation figures, each through
`--processes 2`, `batch` and a resumed run, and hostile text in what they print.

Each feature was tested alone on its own branch; these tests run them together, with the real
CLI against the real mock on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncbench.engine.stats import RunStats
from asyncbench.reporting.saturation import Warmup, steady_throughput
from asyncbench.runs.shard_worker import provider_env
from asyncbench.runs.sharded import _merge

from .provider_runs import CONFIG, SPLIT, env_with, run_split, small_split
from .support import MockServer, run_cli_async

KEY = "sk-seams-0123456789"
STREAM_REFUSED = (
    "error: --stream is for openai/ and openai-compatible/ models (transcripts as server-sent "
    "events); groq/ does not stream them"
)


def batch_args(dataset: Path, results: Path, *extra: str) -> list[str | Path]:
    return [
        "batch",
        "--datasets",
        f"{CONFIG}:{SPLIT}",
        "--dataset_path",
        dataset,
        "--results_dir",
        results,
        "--max_workers",
        "4",
        "--no_progress",
        *extra,
    ]


def summary_of(results: Path, model_slug: str) -> dict:
    (path,) = results.glob(f"MODEL_{model_slug}_*.summary.json")
    return json.loads(path.read_text())


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


# -- the saturation figures merged from two event loops ------------------------------------


def shard_stats(started: float, lag_s: float, n: int) -> RunStats:
    """One shard's counters: n samples back over 10 s, its loop late by `lag_s` in all."""
    stats = RunStats(total=None, started=started)
    stats.done_at = [started + 10 * (k + 1) / n for k in range(n)]
    stats.loop_lags = [lag_s / 10] * 10
    stats.ended = started + 10
    return stats


def test_the_lag_free_throughput_of_two_processes_counts_each_loops_delay_once() -> None:
    """Two processes side by side, each loop 4 s late over a 10 s run: each could have done its
    samples in 6 s, so 200 samples lag-free is 200 / 6 per second. Summed over the loops the
    8 s of delay left 2 s of a 10 s run: 100/s, three times what the loops could have done."""
    merged = RunStats(total=None, started=0.0, loops=0)
    for _ in range(2):
        _merge(merged, shard_stats(0.0, 4.0, 100))
    merged.ended = 10.0
    figures = steady_throughput(merged, Warmup())
    assert merged.loops == 2
    assert figures["client_delay_s"] == pytest.approx(4.0)
    assert figures["hi_per_s"] == pytest.approx(200 / 6)
    # one process: its own delay, as before
    one = shard_stats(0.0, 4.0, 100)
    assert steady_throughput(one, Warmup())["hi_per_s"] == pytest.approx(100 / 6)


# -- a shard's environment on another machine (Ray) ----------------------------------------


def test_a_shard_gets_every_setting_of_the_newer_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ray worker does not inherit the driver's environment: without these a shard on
    another node ran sprag at the default 2400 requests a minute whatever the user set, and
    meta in its default mode."""
    settings = {
        "SPRAG_REQUESTS_PER_MINUTE": "600",
        "META_FILE_MODE": "PUSH_TO_TALK",
        "META_STREAM_MODE": "ENDPOINTING",
        "META_STREAMING_PACE": "0",
        "SOPHEA_API_URL": "http://127.0.0.1:9/v1/transcribe",
        "GEMINI_BASE_URL": "http://127.0.0.1:9",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UNRELATED_SECRET", "x")
    env = provider_env()
    assert {k: env.get(k) for k in settings} == settings
    assert "UNRELATED_SECRET" not in env


# -- the CLI against the mock ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_split(tmp_path_factory.mktemp("seams"))


async def test_batch_stream_refuses_a_model_that_cannot_stream_before_any_request(
    dataset: Path, tmp_path: Path
) -> None:
    env = env_with(OPENAI_API_KEY=KEY, GROQ_API_KEY=KEY)
    async with MockServer() as mock:
        code, _out, err = await run_cli_async(
            *batch_args(dataset, tmp_path / "r", "--stream", "--processes", "2"),
            "--model",
            "openai-compatible/whisper-large-v3",
            "--model",
            "groq/whisper-large-v3",
            "--base_url",
            mock.url + "/vllm/v1",
            env=env,
        )
        assert (code, last_line(err)) == (2, STREAM_REFUSED), err
        assert err.count("error:") == 1, err
        assert not any(k.endswith(".requests") and v for k, v in mock.state.counters.items())
    assert not list((tmp_path / "r").glob("*.jsonl"))


@pytest.mark.parametrize("command", ["run", "batch"])
async def test_a_model_name_with_control_characters_is_one_visible_line(
    dataset: Path, tmp_path: Path, command: str
) -> None:
    """A pasted escape sequence in --model reached the terminal raw (the start line, the
    batch's announce and table) and the results file's name."""
    model = "openai-compatible/wh\x1b[31mRED\x07"
    env = env_with(OPENAI_API_KEY=KEY)
    async with MockServer() as mock:
        if command == "run":
            code, out, err = await run_split(model, dataset, tmp_path, mock.url + "/vllm/v1", env)
        else:
            code, out, err = await run_cli_async(
                *batch_args(dataset, tmp_path, "--model", model, "--base_url", mock.url),
                env=env,
            )
    flag = "--model_name" if command == "run" else "--model"
    assert (code, err.strip()) == (
        2,
        f"error: {flag} 'openai-compatible/wh\\x1b[31mRED\\x07' has control characters; "
        "give the model name as the provider spells it",
    ), err
    assert "\x1b" not in out + err
    assert not list(tmp_path.glob("*.jsonl"))
