"""A real aiohttp server on 127.0.0.1 that speaks the Aldea protocol and misbehaves on demand.

Tests script it with a `plan`: a function of the request number (per port) returning what to
do (answer, fail with a status and headers, hang, reset the connection, send a torn body).
It records what it received and when, so tests can check headers and bodies as the wire saw
them, and rates and retry spacing as the server saw them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class Action:
    status: int = 200
    body: bytes | None = None  # None: {"text": transcript}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    reset: bool = False
    partial: bool = False  # 200 with the headers and half the body, then the connection drops
    echo: bool = False  # the body repeats the request line and headers (as some servers do)
    content_type: str | None = None  # with `body`: the reply's Content-Type
    stream_bytes: int = 0  # 200 streaming this many bytes (chunked), then hanging
    content_length: int | None = None  # with stream_bytes: the length announced
    # awaited (on the server's loop) before anything else: a test's condition to hold the
    # reply on, e.g. "until the client has queued the next split's requests"
    until: Callable[[], Awaitable[None]] | None = None


@dataclass
class Seen:
    port: int
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # arrival, monotonic clock
    path_qs: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A port where nothing listens (bound then released)."""
    return free_port()


async def serve(app: web.Application, ports: list[int]) -> web.AppRunner:
    """Serve `app` on 127.0.0.1 at each port; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    for port in ports:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """`async with served(app) as base:` serves `app` on a free port; `base` is its
    `http://127.0.0.1:PORT`."""
    port = free_port()
    runner = await serve(app, [port])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class LoopbackAldea:
    """`async with LoopbackAldea(n_ports=3, plan=...) as srv:` then use `srv.endpoints`."""

    def __init__(
        self,
        n_ports: int = 1,
        *,
        plan: Callable[[int, int, bytes], Action] | None = None,
        transcript: Callable[[bytes], str] = lambda body: "hello world",
        latency: float = 0.0,
    ) -> None:
        self.ports = [free_port() for _ in range(n_ports)]
        self.plan = plan
        self.transcript = transcript
        self.latency = latency
        self.seen: list[Seen] = []
        self.count: dict[int, int] = {p: 0 for p in self.ports}
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None

    @property
    def endpoints(self) -> str:
        return " ".join(f"127.0.0.1:{p}" for p in self.ports)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        body = await request.read()
        self.seen.append(
            Seen(port, request.path, dict(request.headers), body, path_qs=request.path_qs)
        )
        n = self.count[port] = self.count.get(port, 0) + 1
        action = self.plan(port, n, body) if self.plan else Action()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if action.until is not None:
                await action.until()
            if action.hang:
                await asyncio.sleep(3600)
            if action.delay or self.latency:
                await asyncio.sleep(action.delay or self.latency)
            if action.reset:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=500)
            if action.partial:
                return await self._partial(request, body)
            if action.stream_bytes:
                return await self._stream(request, action)
            if action.echo:
                headers = {str(k): v for k, v in request.headers.items()}  # istr keys: no JSON
                echoed = {"request": f"{request.method} {request.path_qs}", **headers}
                return web.Response(
                    status=action.status,
                    body=orjson.dumps({"error": {"message": "bad request", "echo": echoed}}),
                    content_type="application/json",
                )
            if action.status != 200 or action.body is not None:
                return web.Response(
                    status=action.status,
                    body=action.body or b"",
                    headers=action.headers,
                    content_type=action.content_type,
                )
            return web.json_response({"text": self.transcript(body)}, headers=action.headers)
        finally:
            self.in_flight -= 1

    async def _partial(self, request: web.Request, body: bytes) -> web.StreamResponse:
        whole = orjson.dumps({"text": self.transcript(body)})
        resp = web.StreamResponse(headers={"Content-Length": str(len(whole))})
        resp.content_type = "application/json"
        await resp.prepare(request)
        await resp.write(whole[: len(whole) // 2])
        assert request.transport is not None
        request.transport.abort()
        return resp

    async def _stream(self, request: web.Request, action: Action) -> web.StreamResponse:
        """A huge or endless body: `stream_bytes` of JSON-ish filler as fast as the client
        reads, then no more and no end (so a client that reads it all waits forever)."""
        headers = {"Content-Type": "application/json"}
        if action.content_length is not None:
            headers["Content-Length"] = str(action.content_length)
        resp = web.StreamResponse(headers=headers)
        if action.content_length is None:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b'{"text": "' + b"a" * (256 * 1024)
        sent = 0
        while sent < action.stream_bytes:
            await resp.write(chunk)
            sent += len(chunk)
        await asyncio.sleep(3600)
        return resp

    async def _page(self, request: web.Request) -> web.Response:
        """Any GET: a login page in plain text, what a POST turned into a GET by a followed
        302 would land on."""
        self.seen.append(Seen(0, request.path, dict(request.headers), b"", path_qs=request.path_qs))
        return web.Response(text="please sign in to continue", content_type="text/plain")

    async def __aenter__(self) -> LoopbackAldea:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/asr/transcribe", self._handle)
        app.router.add_post("/transcribe", self._handle)
        app.router.add_get("/{tail:.*}", self._page)
        self._runner = await serve(app, self.ports)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
