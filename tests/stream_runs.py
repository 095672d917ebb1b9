"""What every streaming provider's tests share: the real CLI (`run_eval.py`, `batch` and a
rejected key) against the strict mock in one loop, and a fault injected by the mock that must
fail the attempt with its kind and be retried as a whole stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from asyncbench.core.streaming import StreamOptions
from asyncbench.providers.base import Provider, ProviderSettings
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import run_eval
from .provider_runs import (
    CONFIG,
    SPLIT,
    CliRun,
    assert_all_correct,
    clips,
    env_with,
    run_engine,
    small_split,
)
from .support import MockServer, only_file, read_results, run_cli_async

FAST = ("--realtime_factor", "4")


def stream_cli_runs(
    root: Path, model: str, env_name: str, key: str, *, robust: bool = False
) -> dict[str, CliRun]:
    """`eval`, `batch` and `bad_key` runs of `model` on one small split, side by side against
    one mock that finalises 100 ms after each end of audio (at 4x real time); `robust` clips
    for a provider whose audio is resampled on the way (watermark.embed)."""
    dataset = small_split(root / "esb", robust=robust)
    env = env_with(**{env_name: key})
    prefix = model.split("/", 1)[0]

    async def main() -> dict[str, CliRun]:
        config = MockConfig(keys={prefix: key}, stream_final_delay=0.1)
        async with MockServer(config) as mock:
            bad_env = env_with(**{env_name: "nope"})
            jobs = {
                "eval": run_eval(model, dataset, root / "eval", mock.url, env, *FAST),
                "batch": run_cli_async(
                    "batch",
                    "--model",
                    model,
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
                "bad_key": run_eval(model, dataset, root / "bad_key", mock.url, bad_env, *FAST),
            }
            out = await asyncio.gather(*jobs.values())
        return {n: CliRun(*o, root / n) for n, o in zip(jobs, out, strict=True)}

    return asyncio.run(main())


def assert_streamed(runs: dict[str, CliRun], *, min_final_s: float = 0.1) -> list[dict]:
    """`run_eval.py` and `batch` both transcribed every clip as a stream: each `run_eval`
    line has partials and a final no sooner than the mock's delay, the summary prints the
    streaming figures, and `batch` wrote every line right. Returns the `run_eval` lines."""
    rows = assert_all_correct(runs["eval"])
    for row in rows:
        assert row["partials"] >= 1 and row["final_after_end_s"] >= min_final_s, row
    assert "final_after_end_s" in runs["eval"].err
    batch = runs["batch"]
    assert batch.code == 0, batch.err
    lines = read_results(only_file(batch.results))
    assert lines and all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in lines)
    return rows


async def assert_fault_retried_whole(
    make: Callable[[ProviderSettings], Provider],
    model: str,
    key: str,
    counter: str,
    tmp_path: Path,
    fault: str,
    kind: str,
    *,
    robust: bool = False,
) -> None:
    """The mock's `stream_fault` fails both attempts of one clip with `kind`, nothing partial
    is kept as the prediction, and the mock saw two whole streams."""
    async with MockServer(MockConfig(stream_fault=fault)) as mock:
        settings = ProviderSettings(
            model=model,
            api_key=key,
            base_url=mock.url,
            streaming=StreamOptions(realtime_factor=4.0, final_timeout_s=0.3),
        )
        rows = await run_engine(make(settings), clips(1, robust=robust), tmp_path, max_retries=1)
    (row,) = rows.values()
    got = (row["status"], row["error_kind"], row["attempts"], row["pred_text"])
    assert got == ("failed", kind, 2, ""), row
    assert mock.state.counters[counter] == 2
