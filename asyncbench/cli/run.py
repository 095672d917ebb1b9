"""`asyncbench run` (and `run_eval.py`): the options of one run and their RunConfig.

A module of its own so `batch` and `sweep`, which derive their options from `run`'s, import
it without importing the app that registers them (that was the cli <-> batch <-> sweep cycle).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig

DEFAULT_DATASET_PATH = "hf-audio/esb-datasets-test-only-sorted"


def fail(message: str, code: int = 2) -> typer.Exit:
    """One line on stderr and an exit code: what every configuration problem looks like."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def run_command(
    model_name: Annotated[
        str, typer.Option("--model_name", "--model-name", help="PROVIDER/MODEL, e.g. aldea/default")
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", help="Dataset config, e.g. gigaspeech or librispeech")
    ],
    dataset_path: Annotated[
        str,
        typer.Option(
            "--dataset_path", "--dataset-path", help="Hub id or local folder with the hub layout"
        ),
    ] = DEFAULT_DATASET_PATH,
    split: Annotated[str, typer.Option("--split", help="Split, e.g. test or test.clean")] = "test",
    max_workers: Annotated[
        int, typer.Option("--max_workers", "--max-workers", help="Requests in flight")
    ] = 300,
    use_url: Annotated[
        bool,
        typer.Option(
            "--use_url",
            "--use-url",
            help="Use the dataset viewer's audio URLs instead of local copies",
        ),
    ] = False,
    viewer_url: Annotated[
        str | None,
        typer.Option(
            "--viewer_url",
            "--viewer-url",
            help="Dataset viewer for --use_url (else HF_DATASETS_SERVER_URL, else "
            "https://datasets-server.huggingface.co)",
        ),
    ] = None,
    max_samples: Annotated[
        int | None, typer.Option("--max_samples", "--max-samples", help="Only the first N samples")
    ] = None,
    aldea_endpoints: Annotated[
        str | None,
        typer.Option(
            "--aldea_endpoints",
            "--aldea-endpoints",
            help="Space/comma-separated host:port or URLs (else ALDEA_ENDPOINTS, ALDEA_API_URL)",
        ),
    ] = None,
    per_endpoint_concurrency: Annotated[
        int | None,
        typer.Option(
            "--per_endpoint_concurrency",
            "--per-endpoint-concurrency",
            help="Requests in flight per endpoint (default: max_workers spread evenly)",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds one request (for job APIs: submit, polls and transcript) may take "
            "before it is retried (default 120; 600 for job APIs, 300 for speechmatics-rt)",
        ),
    ] = None,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            "--poll_interval",
            "--poll-interval",
            help="First wait between job status requests, seconds; grows x1.25 to at most "
            "max(2, this) (default 0.5)",
        ),
    ] = None,
    max_retries: Annotated[
        int,
        typer.Option(
            "--max_retries", "--max-retries", help="Retries per sample for transient errors"
        ),
    ] = 5,
    no_retry_failed: Annotated[
        bool,
        typer.Option(
            "--no_retry_failed",
            "--no-retry-failed",
            help="On resume, keep failed samples instead of retrying them",
        ),
    ] = False,
    results_dir: Annotated[
        Path, typer.Option("--results_dir", "--results-dir", help="Where results files go")
    ] = Path("results"),
    api_key: Annotated[
        str | None,
        typer.Option("--api_key", "--api-key", help="API key (else the provider's env var)"),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base_url", "--base-url", help="Override the provider's base URL"),
    ] = None,
    rps: Annotated[
        float | None, typer.Option("--rps", help="Requests per second per endpoint (token bucket)")
    ] = None,
    max_rps: Annotated[
        float | None,
        typer.Option("--max_rps", "--max-rps", help="Requests per second over all endpoints"),
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds in-flight requests get to finish on Ctrl-C")
    ] = 10.0,
    no_progress: Annotated[
        bool, typer.Option("--no_progress", "--no-progress", help="No progress line")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="I/N: take only slice I (from 0) of N of the samples, by sample id, so N "
            "machines can split one split; results go to a .shard-I-of-N.jsonl file",
        ),
    ] = None,
    aldea_api: Annotated[
        str | None,
        typer.Option(
            "--aldea_api",
            "--aldea-api",
            help="aldea/ protocol: auto (default: the public API's /v1/listen at api.aldea.ai, "
            "the seed's /asr/transcribe elsewhere), listen or transcribe (on every endpoint)",
        ),
    ] = None,
) -> None:
    from asyncbench.runs.runner import run

    code = run(run_config(locals()))
    if code:
        raise typer.Exit(code)


def run_config(o: Mapping[str, Any]) -> RunConfig:
    """`asyncbench run`'s options → RunConfig (also for `sweep`, which takes the same)."""
    from asyncbench.core.shard import parse_shard
    from asyncbench.runs.runner import RunConfig

    return RunConfig(
        model_name=o["model_name"],
        dataset=o["dataset"],
        dataset_path=o["dataset_path"],
        split=o["split"],
        max_workers=o["max_workers"],
        use_url=o["use_url"],
        viewer_url=o["viewer_url"],
        max_samples=o["max_samples"],
        aldea_endpoints=o["aldea_endpoints"],
        per_endpoint_concurrency=o["per_endpoint_concurrency"],
        timeout=o["timeout"],
        poll_interval=o["poll_interval"],
        max_retries=o["max_retries"],
        retry_failed=not o["no_retry_failed"],
        results_dir=o["results_dir"],
        api_key=o["api_key"],
        base_url=o["base_url"],
        rps=o["rps"],
        max_rps=o["max_rps"],
        grace_s=o["grace"],
        progress=not o["no_progress"],
        shard=parse_shard(o["shard"]) if o["shard"] is not None else None,
        aldea_api=o.get("aldea_api"),
    )
