"""`asyncbench mock`: run the all-provider mock server until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer


def _parse_keys(specs: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for spec in specs:
        provider, sep, key = spec.partition("=")
        if not sep or not provider or not key:
            print(
                f"error: --key {spec!r} must be PROVIDER=KEY, e.g. openai=sk-test", file=sys.stderr
            )
            raise typer.Exit(2)
        keys[provider] = key
    return keys


def mock_command(
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 9000,
    host: Annotated[str, typer.Option("--host", help="Address to bind")] = "127.0.0.1",
    latency: Annotated[float, typer.Option("--latency", help="Seconds per transcription")] = 0.0,
    jitter: Annotated[float, typer.Option("--jitter", help="Extra random latency, seconds")] = 0.0,
    rate_429: Annotated[
        float, typer.Option("--rate_429", "--rate-429", help="Fraction of requests answered 429")
    ] = 0.0,
    rate_5xx: Annotated[
        float, typer.Option("--rate_5xx", "--rate-5xx", help="Fraction of requests answered 503")
    ] = 0.0,
    retry_after: Annotated[
        float, typer.Option("--retry_after", "--retry-after", help="Retry-After sent with 429s")
    ] = 1.0,
    rate_job_error: Annotated[
        float,
        typer.Option(
            "--rate_job_error",
            "--rate-job-error",
            help="Fraction of async jobs / real-time sessions that fail after being accepted",
        ),
    ] = 0.0,
    key: Annotated[
        list[str] | None,
        typer.Option("--key", help="PROVIDER=KEY (repeatable): the only key that provider accepts"),
    ] = None,
    viewer_root: Annotated[
        Path | None,
        typer.Option(
            "--viewer_root",
            "--viewer-root",
            help="Folder of hub-layout datasets the dataset viewer serves, at ROOT/<dataset id> "
            "(for HF_DATASETS_SERVER_URL=<mock> with --use_url); --key viewer=TOKEN gates them",
        ),
    ] = None,
    viewer_legacy_audio: Annotated[
        bool,
        typer.Option(
            "--viewer_legacy_audio",
            "--viewer-legacy-audio",
            help="Serve audio cells in the older [mp3, wav] shape",
        ),
    ] = False,
    viewer_url_ttl: Annotated[
        float,
        typer.Option(
            "--viewer_url_ttl", "--viewer-url-ttl", help="Seconds a signed audio URL stays valid"
        ),
    ] = 3600.0,
    strict_models: Annotated[
        bool,
        typer.Option(
            "--strict_models",
            "--strict-models",
            help="Refuse model names a provider does not document (OpenAI, Deepgram, "
            "ElevenLabs, AssemblyAI; Groq, Gladia, Aqua Voice always), as the real API does",
        ),
    ] = False,
) -> None:
    from aiohttp import web

    from asyncbench.servers.mock import PROTOCOLS, MockConfig, build_app

    for name, value in (
        ("--rate_429", rate_429),
        ("--rate_5xx", rate_5xx),
        ("--rate_job_error", rate_job_error),
    ):
        if not 0.0 <= value <= 1.0:
            print(f"error: {name} must be between 0 and 1 (got {value})", file=sys.stderr)
            raise typer.Exit(2)
    config = MockConfig(
        latency=latency,
        jitter=jitter,
        rate_429=rate_429,
        rate_5xx=rate_5xx,
        retry_after=retry_after,
        rate_job_error=rate_job_error,
        keys=_parse_keys(key or []),
        viewer_root=viewer_root,
        viewer_legacy_audio=viewer_legacy_audio,
        viewer_url_ttl=viewer_url_ttl,
        strict_models=strict_models,
    )
    if viewer_root is not None and not viewer_root.is_dir():
        print(f"error: --viewer_root {viewer_root} is not a folder", file=sys.stderr)
        raise typer.Exit(2)

    async def serve() -> None:
        runner = web.AppRunner(build_app(config), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            raise typer.Exit(2) from None
        print(f"mock serving {', '.join(PROTOCOLS)} on http://{host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await runner.cleanup()

    asyncio.run(serve())
