"""Streaming through the commands users type: `run_eval.py` and `batch` against the
speechmatics-rt mock in real time (at 4x, to stay short), and the bad streaming flags as one
error line with exit 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from asyncbench.reporting.summary import summary_path
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import run_eval
from .provider_runs import CONFIG, SPLIT, CliRun, assert_all_correct, env_with, small_split
from .support import MockServer, only_file, read_results, run_cli_async

KEY = "sm-rt-cli-key"
MODEL = "speechmatics-rt/enhanced"
FAST = ("--realtime_factor", "4")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    root = tmp_path_factory.mktemp("streaming_cli")
    dataset = small_split(root / "esb")
    env = env_with(SPEECHMATICS_API_KEY=KEY)

    async def main() -> dict[str, CliRun]:
        config = MockConfig(keys={"speechmatics-rt": KEY}, stream_final_delay=0.1)
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
                "chunk_ms": run_eval(
                    MODEL, dataset, root / "chunk_ms", mock.url, env, "--chunk_ms", "5"
                ),
                "factor": run_eval(
                    MODEL, dataset, root / "factor", mock.url, env, "--realtime_factor", "0"
                ),
            }
            out = await asyncio.gather(*jobs.values())
        return {n: CliRun(*o, root / n) for n, o in zip(jobs, out, strict=True)}

    return asyncio.run(main())


def _check_streamed(run: CliRun, rows: list[dict]) -> None:
    for row in rows:
        assert row["partials"] >= 1 and row["final_after_end_s"] >= 0.1, row
    assert "final_after_end_s" in run.err and "chunk send lateness" in run.err, run.err
    summary = json.loads(summary_path(only_file(run.results)).read_text())
    assert summary["streaming"]["final_after_end_s"]["n"] == len(rows)


def test_run_eval_streams_a_split_in_real_time(runs: dict[str, CliRun]) -> None:
    run = runs["eval"]
    _check_streamed(run, assert_all_correct(run))


def test_batch_streams_a_split(runs: dict[str, CliRun]) -> None:
    run = runs["batch"]
    assert run.code == 0, run.err
    rows = read_results(only_file(run.results))
    assert rows and all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)
    for row in rows:
        assert row["partials"] >= 1 and row["final_after_end_s"] >= 0.1, row


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("chunk_ms", "error: --chunk_ms must be between 10 and 1000 (got 5)"),
        ("factor", "error: --realtime_factor must be a number above 0"),
    ],
)
def test_bad_streaming_flags_are_one_line(runs: dict[str, CliRun], name: str, needle: str) -> None:
    run = runs[name]
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(needle), run.err
    assert not list(Path(run.results).glob("*.jsonl"))


def test_the_report_shows_the_stream_latencies(runs: dict[str, CliRun], tmp_path: Path) -> None:
    """A new user's view: `asyncbench report` on the streamed run's folder has the latency
    table and the histogram of final_after_end_s."""
    import subprocess

    from .support import PYTHON, REPO, cli_env

    page = tmp_path / "r.html"
    proc = subprocess.run(
        [PYTHON, "-m", "asyncbench", "report", str(runs["eval"].results), "-o", str(page)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert "Streaming latency" in text and "final_after_end_s p50 ms" in text
    assert "alt='final_after_end_s histogram' src='data:image/png;base64," in text
