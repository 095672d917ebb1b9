"""A paused client (SIGSTOP/SIGCONT, Ctrl-Z, a VM paused) keeps the replies that arrived
while it was stopped, and never blames the endpoints for its own pause (issue 18, item 11).

The server stops the client itself, at the moment the request arrives, and answers at once:
the reply sits in the client's socket while the client is stopped for twice its --timeout.
Before the fix the timer fired first on resume: the request was timed out and sent again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from asyncbench.engine.stall import StallWatch, stall_aware_timeout

from .faultkit import (
    dataset_fixture,
    failed_by_kind,
    finish,
    ledger,
    number_of,
    numbered_texts,
    results_file,
    run_args,
    sample_id,
    server,
    start,
    wait_until,
)
from .loopback import Action, served

N = 3
esb = dataset_fixture("paused", N)


async def test_a_reply_that_arrived_during_a_pause_is_used(esb: Path, tmp_path: Path) -> None:
    pid: list[int] = []
    stopped_at: list[float] = []

    def plan(port: int, n: int, body: bytes) -> Action:
        if number_of(body) == 0 and not stopped_at:
            os.kill(pid[0], signal.SIGSTOP)  # the reply below reaches a stopped client
            stopped_at.append(time.monotonic())
        return Action()

    results = tmp_path / "results"
    async with server(1, plan=plan) as srv:
        proc = await start(
            run_args(esb, srv.endpoints, results, "--max_workers", "1", "--timeout", "2")
        )
        pid.append(proc.pid)
        try:
            await wait_until(lambda: bool(stopped_at), proc, timeout=120, what="the stop")
            await asyncio.sleep(4.0)  # twice --timeout: the deadline passes while stopped
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        code, _, err = await finish(proc)
        requests = [number_of(s.body) for s in srv.seen]
    assert code == 0, err
    assert sorted(requests) == list(range(N)), requests  # nothing sent twice
    rows = ledger(results_file(esb, results))
    texts = numbered_texts(N)
    for i in range(N):
        row = rows[sample_id(i)]
        assert row["status"] == "ok" and row["attempts"] == 1 and row["pred_text"] == texts[i]
    assert failed_by_kind(err) == {}
    assert "; 0 retries" in err, err


async def test_a_stalled_loop_does_not_eat_the_timeout() -> None:
    """In-process: the loop is blocked for longer than the timeout (time.sleep, the client's
    own fault) while the server answers in 0.1 s; the request still succeeds."""

    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.json_response({"text": "ok"})

    app = web.Application()
    app.router.add_post("/", answer)
    watch = StallWatch()
    watch.start()
    try:
        async with served(app) as base, aiohttp.ClientSession() as session:

            async def request() -> str:
                async with stall_aware_timeout(1.0, watch), session.post(base + "/") as resp:
                    return str((await resp.json())["text"])

            task = asyncio.create_task(request())
            await asyncio.sleep(0.05)  # the request is out
            time.sleep(2.5)  # the point: the loop stalls past the timeout
            assert await task == "ok"
            assert watch.stalled(0.0, asyncio.get_running_loop().time()) >= 2.0
    finally:
        await watch.stop()


async def test_a_slow_endpoint_still_times_out() -> None:
    """Without a stall the deadline is the usual one."""
    watch = StallWatch()
    watch.start()
    t0 = time.monotonic()
    try:
        try:
            async with stall_aware_timeout(0.3, watch):
                await asyncio.sleep(30)
        except TimeoutError:
            pass
        else:
            raise AssertionError("no timeout")
    finally:
        await watch.stop()
    assert time.monotonic() - t0 < 10
