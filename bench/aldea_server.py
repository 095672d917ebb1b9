"""A cheap Aldea-protocol server for the benchmark: many ports, a fixed latency, true answers.

    .venv/bin/python bench/aldea_server.py --ports 18800-18820 --latency 0.3

Each `POST` with a WAV body is answered `{"text": <the clip's watermark text>}` exactly
`latency` seconds after its body arrived, so a client that sends the right clip gets the
right transcript and a client that mixes clips up is caught by the benchmark's check.

Why not aiohttp (as `asyncbench mock` uses)? On a 2-core machine the server shares the CPU
with the client under test: at 1,000+ requests/s an aiohttp server would take a good part of
a core and become what is measured. This one is an `asyncio.Protocol` on uvloop that parses
only what the two clients send (HTTP/1.1, `Content-Length` bodies, keep-alive or not), and
costs a few tens of microseconds per request. It measures itself: `GET /_stats` on any port
returns arrivals, replies, time-weighted requests in flight and its own CPU time since the
last `POST /_reset` (whose optional JSON body `{"latency": s}` sets the next phase's latency),
so the benchmark can show it never was the bottleneck. `GET /_arrivals` returns every arrival
time of the phase (for the open-loop benchmark's inter-arrival statistics), and a reset body
`{"stall_after": a, "stall_s": d}` makes the server stall: no reply leaves between a and a+d
seconds after the phase's first arrival (replies due then all go at a+d), like a model server
stuck in a garbage collection or a reload. `ServerProcess` starts it as a child process and
talks to those paths.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from asyncbench.sources import watermark
from asyncbench.sources.audio import parse_wav
from bench.host import cpu_s

_MAX_HEADER = 64 * 1024


@dataclass(slots=True)
class Ledger:
    """Arrival and reply times of every request since the last reset (monotonic clock,
    which is system-wide on Linux, so the benchmark can line them up with its own)."""

    latency: float = 0.3  # seconds before each answer (a reset may change it)
    arrivals: list[float] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)
    bad: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    cpu_at_reset: float = field(default_factory=cpu_s)
    reset_at: float = field(default_factory=time.monotonic)
    stall_after: float | None = None  # seconds after the phase's first arrival
    stall_s: float = 0.0

    def reset(
        self,
        latency: float | None = None,
        stall_after: float | None = None,
        stall_s: float = 0.0,
    ) -> None:
        """Start a new phase (the benchmark resets between clients, when nothing is in flight)."""
        if latency is not None:
            self.latency = latency
        self.stall_after, self.stall_s = stall_after, stall_s
        self.arrivals, self.replies = [], []
        self.bad = self.connections = self.max_in_flight = 0
        self.cpu_at_reset, self.reset_at = cpu_s(), time.monotonic()

    def stats(self) -> dict[str, object]:
        return {
            "requests": len(self.arrivals),
            "replied": len(self.replies),
            "bad": self.bad,
            "connections": self.connections,
            "latency": self.latency,
            "max_in_flight": self.max_in_flight,
            "cpu_s": cpu_s() - self.cpu_at_reset,
            "since_reset_s": time.monotonic() - self.reset_at,
            **phase_figures(self.arrivals, self.replies),
        }


def phase_figures(arrivals: list[float], replies: list[float]) -> dict[str, float]:
    """Wall of the sending phase and requests in flight as the server saw them.

    `steady_in_flight` is the time-weighted mean between the first reply and the last
    arrival: before the first reply a client cannot have reached its limit yet, and after the
    last arrival it has no more work, so this window is where a client with `max_workers`
    slots should hold all of them busy.
    """
    if not arrivals or not replies:
        return {}
    first, last = min(arrivals), max(replies)
    out = {"first_arrival": first, "last_reply": last, "phase_s": last - first}
    lo, hi = min(replies), max(arrivals)
    if hi > lo:
        events = sorted([(t, 1) for t in arrivals] + [(t, -1) for t in replies])
        level, area, prev = 0, 0.0, lo
        for t, step in events:
            if t > lo:
                area += level * (min(t, hi) - prev)
                prev = min(t, hi)
            if t >= hi:
                break
            level += step
        out["steady_in_flight"] = area / (hi - lo)
        out["steady_s"] = hi - lo
        out["steady_arrivals_per_s"] = sum(1 for t in arrivals if lo <= t <= hi) / (hi - lo)
    return out


def answer(body: bytes) -> bytes | None:
    """`{"text": ...}` for a WAV that carries a watermark, else None."""
    info = parse_wav(body)
    if info is None or info.bits != 16:
        return None
    text = watermark.extract(memoryview(body)[info.data_offset : info.data_offset + info.data_len])
    return None if text is None else orjson.dumps({"text": text})


def _response(status: str, body: bytes, keep_alive: bool) -> bytes:
    conn = b"keep-alive" if keep_alive else b"close"
    return b"".join(
        (
            b"HTTP/1.1 ",
            status.encode(),
            b"\r\nContent-Type: application/json\r\nContent-Length: ",
            str(len(body)).encode(),
            b"\r\nConnection: ",
            conn,
            b"\r\n\r\n",
            body,
        )
    )


class AldeaProtocol(asyncio.Protocol):
    """One connection: parse a request, answer it after the latency, then the next one.

    Requests on one connection are answered in order; a client that pipelines simply waits.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.loop = asyncio.get_running_loop()
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ledger.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Take one whole request off the buffer, if there is one."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _MAX_HEADER:
                self._send("431 Request Header Fields Too Large", b"{}", False)
            return
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        method, path, *_ = [*head[0].split(" "), "", ""]
        length = 0
        keep_alive = not head[0].endswith("HTTP/1.0")
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                keep_alive = value.strip().lower() != "close"
            elif name == "transfer-encoding":
                self._send("411 Length Required", b'{"error": "send Content-Length"}', False)
                return
        if len(buf) < end + 4 + length:
            return
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        self._handle(method, path, body, keep_alive)

    def _handle(self, method: str, path: str, body: bytes, keep_alive: bool) -> None:
        ledger = self.ledger
        if path == "/_stats":
            self._send("200 OK", orjson.dumps(ledger.stats()), keep_alive)
            return
        if path == "/_reset" and method == "POST":
            settings = orjson.loads(body) if body.strip() else {}
            ledger.reset(
                settings.get("latency"), settings.get("stall_after"), settings.get("stall_s", 0.0)
            )
            self._send("200 OK", b"{}", keep_alive)
            return
        if path == "/_arrivals":
            self._send("200 OK", orjson.dumps(ledger.arrivals), keep_alive)
            return
        if path == "/_replies":  # reply times: with arrivals, in flight at any moment
            self._send("200 OK", orjson.dumps(ledger.replies), keep_alive)
            return
        if method != "POST":
            self._send("405 Method Not Allowed", b'{"error": "POST audio"}', keep_alive)
            return
        ledger.arrivals.append(time.monotonic())
        ledger.in_flight += 1
        ledger.max_in_flight = max(ledger.max_in_flight, ledger.in_flight)
        reply = answer(body)
        if reply is None:
            ledger.bad += 1
            status, reply = "400 Bad Request", b'{"error": "no watermarked 16-bit WAV"}'
        else:
            status = "200 OK"
        self.busy = True
        delay = ledger.latency
        if ledger.stall_after is not None:
            now = ledger.arrivals[-1]
            start = ledger.arrivals[0] + ledger.stall_after
            if start <= now + delay < start + ledger.stall_s:
                delay = start + ledger.stall_s - now  # stuck: answered when the stall ends
        self.loop.call_later(delay, self._reply, status, reply, keep_alive)

    def _reply(self, status: str, reply: bytes, keep_alive: bool) -> None:
        self.ledger.in_flight -= 1
        self.ledger.replies.append(time.monotonic())
        self._send(status, reply, keep_alive)

    def _send(self, status: str, body: bytes, keep_alive: bool) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_response(status, body, keep_alive))
        if not keep_alive:
            self.transport.close()
        elif self.buf:
            self._next()


def parse_ports(spec: str) -> list[int]:
    """`18800-18820` or `18800,18801` (or both mixed)."""
    ports: list[int] = []
    for part in spec.replace(" ", ",").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        ports.extend(range(int(lo), int(hi or lo) + 1))
    return ports


async def serve(ports: list[int], latency: float, host: str = "127.0.0.1") -> None:
    loop = asyncio.get_running_loop()
    ledger = Ledger(latency)  # one for all ports: the benchmark reads totals
    servers = [
        await loop.create_server(
            lambda: AldeaProtocol(ledger), host, port, backlog=4096, reuse_address=True
        )
        for port in ports
    ]
    print(f"listening on {host} ports {ports[0]}-{ports[-1]} ({len(ports)})", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


class ServerProcess:
    """`with ServerProcess(ports, latency) as server:` — this server in a separate process."""

    def __init__(self, ports: list[int], latency: float, *, python: str = sys.executable) -> None:
        self.ports = ports
        self.latency = latency
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoints(self) -> str:
        """The `--aldea_endpoints` value both clients are given."""
        return " ".join(f"127.0.0.1:{p}" for p in self.ports)

    def __enter__(self) -> ServerProcess:
        spec = ",".join(map(str, self.ports))
        self.proc = subprocess.Popen(
            [self.python, str(Path(__file__).resolve()), "--ports", spec],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening"):
            try:
                rest = self.proc.communicate(timeout=10)[0].decode()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rest = self.proc.communicate()[0].decode()
            raise RuntimeError(f"benchmark server did not start: {line}{rest}")
        self.reset(self.latency)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _call(self, method: str, path: str, body: bytes = b"") -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[0], timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Connection": "close"})
            return orjson.loads(conn.getresponse().read())
        finally:
            conn.close()

    def reset(
        self, latency: float | None = None, stall_after: float | None = None, stall_s: float = 0.0
    ) -> None:
        """Start a new phase (and set its latency, and a stall if asked)."""
        settings: dict[str, float] = {} if latency is None else {"latency": latency}
        if stall_after is not None:
            settings |= {"stall_after": stall_after, "stall_s": stall_s}
        self._call("POST", "/_reset", orjson.dumps(settings) if settings else b"")

    def arrivals(self) -> list[float]:
        """Every arrival of the phase, monotonic seconds (system-wide, like the client's)."""
        return self._call("GET", "/_arrivals")  # type: ignore[no-any-return]

    def replies(self) -> list[float]:
        """Every reply of the phase, monotonic seconds."""
        return self._call("GET", "/_replies")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_stats")  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", default="18800-18820", help="e.g. 18800-18820 or 8800,8801")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before each answer")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.run(serve(parse_ports(args.ports), args.latency, args.host))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve(parse_ports(args.ports), args.latency, args.host))
    sys.exit(0)


if __name__ == "__main__":
    main()
