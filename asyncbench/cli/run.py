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

from asyncbench.core import exit_codes
from asyncbench.core.limits import DEFAULT_MAX_REPLY_BYTES

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
            "before it is retried (default 120; 600 for job APIs, 300 for speechmatics-rt); "
            "a floor: long audio gets --timeout_per_audio_s per second if that is more",
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
    revalidate: Annotated[
        bool,
        typer.Option(
            "--revalidate",
            help="Resume after the dataset changed: redo exactly the samples whose audio or "
            "reference digest differs from the one on their results line",
        ),
    ] = False,
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
    parent_dataset_path: Annotated[
        str | None,
        typer.Option(
            "--parent_dataset_path",
            "--parent-dataset-path",
            help="Chunked sets: hub id or folder whose `transcript` (matched on `id`) is each "
            "recording's reference (default for ArtificialAnalysis/Earnings22-Cleaned-AA-"
            "chunked: ArtificialAnalysis/Earnings22-Cleaned-AA)",
        ),
    ] = None,
    data_root: Annotated[
        str | None,
        typer.Option(
            "--data_root",
            "--data-root",
            envvar="ASYNCBENCH_DATA_ROOT",
            help="Read hub ids from local copies: OWNER/NAME is the folder DATA_ROOT/OWNER/NAME "
            "(results files keep the hub id's name)",
        ),
    ] = None,
    max_reply_bytes: Annotated[
        int,
        typer.Option(
            "--max_reply_bytes",
            "--max-reply-bytes",
            help="A reply (or WebSocket message) bigger than this fails the attempt as "
            "bad_response (default 16777216, 16 MiB)",
        ),
    ] = DEFAULT_MAX_REPLY_BYTES,
    follow_redirects: Annotated[
        bool,
        typer.Option(
            "--follow_redirects",
            "--follow-redirects",
            help="Follow 307/308 redirects within the same origin (default: a redirect is a "
            "permanent error of kind redirect)",
        ),
    ] = False,
    api_key_file: Annotated[
        str | None,
        typer.Option(
            "--api_key_file",
            "--api-key-file",
            help="Read the API key from this file, so it never shows in ps (else "
            "<PROVIDER>_API_KEY_FILE, e.g. OPENAI_API_KEY_FILE)",
        ),
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            help="Hub revision (commit, branch or tag) to read the dataset at, as the board "
            "pins its long-form sets (default: the hub's current one; batch: each suite "
            "entry's pinned one); recorded in the results sidecar",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="ISO 639-1 code forced on the provider (default: the config's own, "
            "fleurs_de → de, else en)",
        ),
    ] = None,
    chunking: Annotated[
        str,
        typer.Option(
            "--chunking",
            help="auto: a recording over the provider's size or duration limit is sent as FLAC "
            "when that fits, else cut at silences and sent in parts; off: it fails (over_limit)",
        ),
    ] = "auto",
    chunk_max_s: Annotated[
        float | None,
        typer.Option("--chunk_max_s", "--chunk-max-s", help="Longest part, seconds (default 600)"),
    ] = None,
    max_upload_mb: Annotated[
        float | None,
        typer.Option(
            "--max_upload_mb",
            "--max-upload-mb",
            help="Upload size limit in MB (MiB) instead of the provider's own (25 for openai/)",
        ),
    ] = None,
    timeout_per_audio_s: Annotated[
        float | None,
        typer.Option(
            "--timeout_per_audio_s",
            "--timeout-per-audio-s",
            help="Request timeout per second of audio, above the --timeout floor "
            "(default 0.25; 0.5 for job APIs)",
        ),
    ] = None,
    arrival: Annotated[
        str,
        typer.Option(
            "--arrival",
            help="closed (send when a reply comes back, the default), or an open loop that "
            "sends on a schedule whatever is outstanding: constant, poisson or gamma "
            "(needs --rate or --ramp; --max_workers stays the cap, late sends are counted)",
        ),
    ] = "closed",
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Open loop: requests/s over the whole run (all endpoints)"),
    ] = None,
    burstiness: Annotated[
        float | None,
        typer.Option(
            "--burstiness",
            help="--arrival gamma: shape of the gaps; 1 is Poisson, smaller is burstier",
        ),
    ] = None,
    ramp: Annotated[
        str | None,
        typer.Option(
            "--ramp",
            help="Open loop: START:END:SECONDS, the rate going linearly from START to END "
            "requests/s over SECONDS, then staying at END (instead of --rate)",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the open-loop schedule (reproducible runs)")
    ] = 0,
    warmup: Annotated[
        str | None,
        typer.Option(
            "--warmup",
            help="Leave the run's start out of the steady-state throughput printed beside the "
            "whole run's: 5s (seconds) or 200 (requests back ok); the drain is always left out",
        ),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option(
            "--slo",
            help='Per-request objective for goodput, repeatable: "latency<=2s" (from the '
            'intended start) or "rtfx>=10" (audio ÷ that latency)',
        ),
    ] = None,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail_if",
            "--fail-if",
            help='Gate, repeatable: exit 3 if it holds after the run, e.g. "wer>8", "p99>3s" '
            '(latency from the intended start), "coverage<99.5", "goodput<30" (requests/s '
            "meeting every --slo); also rtfx, throughput_rtfx, p50, p90, max, goodput_audio, "
            "achieved_rate, late_starts, failed",
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
    delete_jobs: Annotated[
        bool,
        typer.Option(
            "--delete_jobs",
            "--delete-jobs",
            help="Async-job providers: delete each finished job at the provider (AssemblyAI, "
            "Rev AI, Speechmatics, Gladia; Soniox always deletes its own)",
        ),
    ] = False,
    realtime: Annotated[
        bool | None,
        typer.Option(
            "--realtime/--no_realtime",
            "--realtime/--no-realtime",
            help="Streaming providers: send audio as a microphone would, chunk by chunk in "
            "real time (the default for them), or as fast as the session takes it",
        ),
    ] = None,
    chunk_ms: Annotated[
        int | None,
        typer.Option(
            "--chunk_ms",
            "--chunk-ms",
            help="Streaming: audio per chunk, 10-1000 ms (default 100, or the provider's "
            "documented size)",
        ),
    ] = None,
    realtime_factor: Annotated[
        float,
        typer.Option(
            "--realtime_factor",
            "--realtime-factor",
            help="Streaming: pace at F times real time (above 0; default 1)",
        ),
    ] = 1.0,
    final_timeout: Annotated[
        float,
        typer.Option(
            "--final_timeout",
            "--final-timeout",
            help="Streaming: seconds after the end of audio the final transcript may take "
            "before the sample fails as final_timeout (default 10)",
        ),
    ] = 10.0,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="openai/ and openai-compatible/: ask for the transcript as server-sent events "
            "(stream=true, as vLLM and OpenAI's gpt-4o models serve it); each line gains "
            "first_delta_s, the inter-delta gaps (p50/p99) and the usage counts",
        ),
    ] = False,
    budget_usd: Annotated[
        float | None,
        typer.Option(
            "--budget_usd",
            help="Refuse a run whose estimated cost is above this many USD, and stop it "
            "(resumable, exit 4) before the audio sent, retries included, would cost more",
        ),
    ] = None,
    prices: Annotated[
        str | None,
        typer.Option("--prices", help="Price table TOML (default asyncbench/data/prices.toml)"),
    ] = None,
    price_per_hour: Annotated[
        float | None,
        typer.Option("--price_per_hour", help="USD per audio hour, billed per second"),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            help="Split the run over N event-loop processes by the --shard id hash (one core "
            "each; this process writes the results file, --max_workers is shared among them)",
        ),
    ] = 1,
    max_failed_pct: Annotated[
        float,
        typer.Option(
            "--max_failed_pct",
            "--max-failed-pct",
            help="Percent of the split that may end failed or never written and still exit 0 "
            "(default 0: any such sample makes the run exit 3)",
        ),
    ] = 0.0,
    stall_timeout: Annotated[
        float | None,
        typer.Option(
            "--stall_timeout",
            "--stall-timeout",
            help="Stop (exit 5, resumable) when no request has succeeded for this many seconds "
            "and every endpoint is resting (default: 2 x --timeout, at least 30)",
        ),
    ] = None,
    prep_threads: Annotated[
        int | None,
        typer.Option(
            "--prep_threads",
            "--prep-threads",
            help="Threads that decode audio (default: one per core, 2 to 16; clips reach "
            "them 16 at a time)",
        ),
    ] = None,
) -> None:
    from asyncbench.core.gates import parse_gates
    from asyncbench.runs.sharded import run_processes

    gates = parse_gates(fail_if)  # a malformed gate stops here, before any request
    cfg = run_config(locals())
    code = run_processes(cfg)  # runner.run unless --processes N
    if code and code != exit_codes.SHORT:
        raise typer.Exit(code)
    if gates:  # still judged when samples failed: the gates' lines say which held
        from asyncbench.cli.gating import run_gates

        code = run_gates(cfg, gates) or code
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
        prep_threads=o.get("prep_threads"),
        progress=not o["no_progress"],
        shard=parse_shard(o["shard"]) if o["shard"] is not None else None,
        parent_dataset_path=o.get("parent_dataset_path"),
        data_root=o.get("data_root"),
        max_reply_bytes=o.get("max_reply_bytes", DEFAULT_MAX_REPLY_BYTES),
        follow_redirects=o.get("follow_redirects", False),
        api_key_file=o.get("api_key_file"),
        language=o.get("language"),
        revision=o.get("revision"),
        chunking=o.get("chunking", "auto"),
        chunk_max_s=o.get("chunk_max_s"),
        max_upload_mb=o.get("max_upload_mb"),
        timeout_per_audio_s=o.get("timeout_per_audio_s"),
        arrival=o["arrival"],
        rate=o["rate"],
        burstiness=o["burstiness"],
        ramp=o["ramp"],
        seed=o["seed"],
        slos=tuple(o["slo"] or ()),
        aldea_api=o.get("aldea_api"),
        delete_jobs=o.get("delete_jobs", False),
        realtime=o.get("realtime"),
        chunk_ms=o.get("chunk_ms"),
        realtime_factor=o.get("realtime_factor", 1.0),
        final_timeout=o.get("final_timeout", 10.0),
        stream=o.get("stream", False),
        budget_usd=o.get("budget_usd"),
        prices=o.get("prices"),
        price_per_hour=o.get("price_per_hour"),
        processes=o.get("processes", 1),
        warmup=o.get("warmup"),
        revalidate=o.get("revalidate", False),
        max_failed_pct=o.get("max_failed_pct"),
        stall_timeout=o.get("stall_timeout"),
    )
