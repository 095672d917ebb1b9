"""Running the real CLI in the test process, against real servers on a background loop.

A subprocess per run costs seconds of imports; the tests of progress, summary, batch, sweep,
shard and report run many short runs, so they call `asyncbench.cli.app.main` here (the same entry
point the console script uses) while the loopback servers answer from a loop in a thread.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from .loopback import free_port, serve
from .support import transcript_of

T = TypeVar("T")


class Background:
    """`with Background(LoopbackAldea(2)) as srv:` — serve from a loop in a thread."""

    def __init__(self, server: AbstractAsyncContextManager[T]) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Any:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.server.__aenter__(), self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.__aexit__(None, None, None), self.loop)
        fut.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class CappedAldea:
    """An Aldea-protocol server that works on at most `capacity` requests at once, each for
    `service_s`: its throughput tops out at capacity / service_s requests per second, like a
    self-hosted model server with a fixed number of workers (what a sweep looks for)."""

    def __init__(self, capacity: int, service_s: float) -> None:
        self.capacity = capacity
        self.service_s = service_s
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        #: per request, in arrival order: whether it found every worker busy and queued
        self.queued: list[bool] = []

    @property
    def endpoints(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> CappedAldea:
        sem = asyncio.Semaphore(self.capacity)

        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            self.queued.append(sem.locked())
            async with sem:
                await asyncio.sleep(self.service_s)
            return web.json_response({"text": transcript_of(body)})

        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/asr/transcribe", handle)
        self._runner = await serve(app, [self.port])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """`asyncbench ARGS` in this process: (exit code, stdout, stderr)."""
    from asyncbench.cli.app import main

    capsys.readouterr()
    try:
        main([str(a) for a in args], prog="asyncbench")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    """The single `error: ...` line a bad input must produce (and nothing like a traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def run_args(
    model: str, dataset: Path, config: str, split: str, endpoints: str, results: Path
) -> list[str | Path]:
    return [
        "--model_name",
        model,
        "--dataset_path",
        dataset,
        "--dataset",
        config,
        "--split",
        split,
        "--aldea_endpoints",
        endpoints,
        "--results_dir",
        results,
        "--no_progress",
    ]
