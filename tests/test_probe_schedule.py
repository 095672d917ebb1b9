"""Resting endpoints are probed on their own schedule (#28 item 1): with one live endpoint and
two dead ones (one accepts and never answers, one refuses), no sample is sent to a dead
endpoint once it rests, however many times it is probed, and one that comes back is used
again. Real loopback servers and a real aiohttp client; every wait is event-driven."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from asyncbench.engine.endpoints import Endpoint, EndpointPool

TIMEOUT = 0.5  # each request's and probe's timeout (the dead one never answers)
THRESHOLD = 3
CAPACITY = 4


class Servers:
    """A live server and a hanging one (which answers once `back` is set)."""

    def __init__(self) -> None:
        self.back = asyncio.Event()
        self.hang_seen = 0
        self.hang_seen_changed = asyncio.Event()
        self.hold_live = asyncio.Event()  # set: the live server answers at once
        self.hold_live.set()

    async def live(self, request: web.Request) -> web.Response:
        await request.read()
        await self.hold_live.wait()
        return web.Response(text="ok")

    async def hang(self, request: web.Request) -> web.Response:
        await request.read()
        self.hang_seen += 1
        self.hang_seen_changed.set()
        await self.back.wait()
        return web.Response(text="ok")


@asynccontextmanager
async def serve(handler: object) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


def refused_url() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


#: the live server's URL: its held replies must not time out (it would rest, and with every
#: endpoint resting the next request after a rest is the probe again)
LIVE: list[str] = []


async def send(http: aiohttp.ClientSession, url: str) -> str | None:
    """One request: None when answered, else the error."""
    try:
        async with asyncio.timeout(60 if url in LIVE else TIMEOUT):
            async with http.post(url, data=b"audio") as reply:
                await reply.read()
                return None if reply.status == 200 else f"server_error: {reply.status}"
    except TimeoutError:
        return "timeout: no reply"
    except aiohttp.ClientError as exc:
        return f"connection: {type(exc).__name__}"


async def sample(pool: EndpointPool, http: aiohttp.ClientSession) -> Endpoint:
    """One sample, retried on other endpoints as the engine does: the endpoint that answered."""
    failed: list[Endpoint] = []
    while True:
        ep = await pool.acquire(avoid=failed)
        error = await send(http, ep.url)
        pool.release(ep, ok=error is None, latency=0.0, kind="timeout", error=error)
        if error is None:
            return ep
        failed.append(ep)


async def wait_for(condition: object, changed: asyncio.Event) -> None:
    async with asyncio.timeout(60):  # generous: the machine is busy
        while not condition():  # type: ignore[operator]
            changed.clear()
            await changed.wait()


async def test_dead_endpoints_get_no_samples_while_probed_and_come_back() -> None:
    srv = Servers()
    async with (
        serve(srv.live) as live,
        serve(srv.hang) as hanging,
        aiohttp.ClientSession() as http,
    ):
        refused = refused_url()
        LIVE[:] = [live]
        pool = EndpointPool(
            [live, hanging, refused],
            CAPACITY,
            fail_threshold=THRESHOLD,
            rest_s=0.02,
            max_rest_s=0.05,
        )
        pool.set_probe(lambda ep: send(http, ep.url))
        _live_ep, ep_hang, ep_refused = pool.endpoints
        # the first wave meets both dead endpoints; their samples move to the live one
        assert len(await asyncio.gather(*(sample(pool, http) for _ in range(40)))) == 40
        before = (ep_hang.requests, ep_refused.requests)
        # keep samples coming while the dead endpoints are probed again and again: the live
        # one holds its replies until the hanging one has been asked 10 more times
        srv.hold_live.clear()
        goal = srv.hang_seen + 10
        many = asyncio.gather(*(sample(pool, http) for _ in range(3 * CAPACITY)))
        await wait_for(lambda: srv.hang_seen >= goal, srv.hang_seen_changed)
        srv.hold_live.set()
        assert {ep.url for ep in await many} == {live}
        # every sample attempt on a dead endpoint came before it first rested: at most its
        # capacity plus the failures that rest it; its probes are no sample's
        for ep in (ep_hang, ep_refused):
            assert ep.requests <= CAPACITY + THRESHOLD, (ep.url, ep.requests)
        assert (ep_hang.requests, ep_refused.requests) == before
        assert ep_hang.probes >= 10 - CAPACITY and ep_refused.probes >= 1
        assert ep_hang.last_error == "timeout: no reply"
        assert ep_refused.last_error is not None and ep_refused.last_error.startswith(
            "connection: "
        )
        # the hanging endpoint comes back: its next probe answers and samples go to it again
        srv.back.set()
        ok_before = ep_hang.requests - ep_hang.errors
        async with asyncio.timeout(60):  # a probe every 50 ms at most: it comes back soon
            while ep_hang.requests - ep_hang.errors == ok_before:
                await asyncio.gather(*(sample(pool, http) for _ in range(2 * CAPACITY)))
        assert ep_hang.consecutive_failures == 0 and ep_hang.probe_task is None
        pool.set_probe(None)


async def test_without_a_probe_the_next_request_is_the_probe() -> None:
    """A bare pool (no probe given) keeps the old way:
    once the rest ends, one request is let through as the probe."""
    pool = EndpointPool(["http://a"], 2, fail_threshold=1, rest_s=0.01)
    ep = await pool.acquire()
    pool.release(ep, ok=False, latency=0.0, kind="timeout", error="timeout: x")
    assert ep.probe_task is None
    probe = await pool.acquire()  # waits out the rest, then goes through
    assert probe is ep and ep.probing
    pool.release(ep, ok=True, latency=0.0)
    assert ep.consecutive_failures == 0


async def test_a_run_sends_no_sample_to_a_resting_endpoint(tmp_path: Path) -> None:
    """The whole CLI: one live endpoint, one that accepts and never answers, one that resets
    every connection and one that refuses. The live one holds its last replies until the
    resetting one has been asked twice more than it can fail before resting, so the run lasts
    through probes; the endpoint table counts them as probes, and no more samples than before
    its rest went to any dead endpoint."""
    from asyncbench.reporting.summary import summary_path

    from .faultkit import finish, numbered_dataset, results_file, run_args, server, start
    from .loopback import Action, closed_port

    data = numbered_dataset(tmp_path / "esb", 40)
    workers, threshold = 8, 3
    capacity = workers // 4
    enough = asyncio.Event()
    counts: dict[int, int] = {}

    def plan(port: int, n: int, body: bytes) -> Action:
        counts[port] = n
        _live, hanging, resetting = srv.ports
        if port == hanging:
            return Action(hang=True)
        if port == resetting:
            if n >= capacity + threshold + 2:
                enough.set()
            return Action(reset=True)
        return Action(until=enough.wait) if n > 30 else Action()

    async with server(3, plan=plan) as srv:
        refused = f"127.0.0.1:{closed_port()}"
        args = run_args(
            data,
            f"{srv.endpoints} {refused}",
            tmp_path / "r",
            "--timeout",
            20,  # the live endpoint's held replies (the probes take 2 + 4 s) must not time out
            "--max_workers",
            workers,
            "--max_retries",
            10,
        )
        code, _out, err = await finish(await start(args), timeout=300)
    assert code == 0, err
    summary = json.loads(summary_path(results_file(data, tmp_path / "r")).read_text())
    rows = {row["url"].split("/")[2]: row for row in summary["endpoints"]}
    live, hanging, resetting = (f"127.0.0.1:{p}" for p in srv.ports)
    assert rows[live]["ok"] == 40
    for url in (hanging, resetting, refused):
        assert rows[url]["ok"] == 0
        assert rows[url]["requests"] <= capacity + threshold, (url, rows[url])
    assert rows[resetting]["probes"] >= 2  # before: each probe was a sample's request
    assert rows[resetting]["requests"] + rows[resetting]["probes"] == counts[srv.ports[2]]


async def test_a_probe_that_raises_keeps_probing() -> None:
    """A bug in the probe (an exception) counts as a failed probe, not the end of probing:
    the endpoint is not left out of the pool for the rest of the run."""
    calls: list[int] = []
    answered = asyncio.Event()

    async def probe(ep: Endpoint) -> str | None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("too many values to unpack")
        answered.set()
        return None

    pool = EndpointPool(["http://a", "http://b"], 1, fail_threshold=1, rest_s=0.01, max_rest_s=0.02)
    pool.set_probe(probe)
    ep = await pool.acquire()
    pool.release(ep, ok=False, latency=0.0, kind="timeout", error="timeout: x")
    assert ep.probe_task is not None  # b is up: a is probed on its own schedule
    async with asyncio.timeout(60):
        await answered.wait()
    await asyncio.sleep(0)
    assert len(calls) == 2 and ep.probes == 2 and ep.consecutive_failures == 0
    assert ep.probe_task is None
    pool.set_probe(None)
