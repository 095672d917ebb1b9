"""How a run reaches the command's `Ledger`: directly in the driver, over a socket elsewhere.

`Money` is the one narrow interface every run uses, wherever it executes: `reserve` and
`settle` an attempt, `lookup` and `record` a job. `LocalMoney` calls the driver's ledger
in-process; `RemoteMoney` (a shard in a child process or a Ray task) sends the same four
calls as JSON lines to the `LedgerServer` the driver runs on a TCP port, with a random token
that only the driver's own tasks carry. A worker holds no copy of the budget or journal: when
the driver is gone, every `reserve` is refused, so an orphaned worker bills nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from asyncbench.core.attempt import SAMPLE_ID
from asyncbench.results.jobs import JobEntry
from asyncbench.runs.ledger import Ledger


class Money(Protocol):
    """What a run asks of the command's ledger."""

    async def reserve(self, model: str, seconds: float) -> bool: ...

    async def settle(self, model: str, seconds: float) -> None: ...

    async def lookup(
        self, results: str, key: str, model: str, urls: list[str], sample: str | None = None
    ) -> JobEntry | None: ...

    async def record(
        self,
        results: str,
        key: str,
        job: str,
        state: str,
        url: str,
        extra: dict[str, Any],
        model: str,
    ) -> str | None: ...


class LocalMoney:
    """The driver's own runs: the ledger itself (journal writes off the event loop)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def reserve(self, model: str, seconds: float) -> bool:
        return self.ledger.reserve(model, seconds)

    async def settle(self, model: str, seconds: float) -> None:
        self.ledger.settle(model, seconds)

    async def lookup(
        self, results: str, key: str, model: str, urls: list[str], sample: str | None = None
    ) -> JobEntry | None:
        return await asyncio.to_thread(self.ledger.lookup, results, key, model, urls, sample)

    async def record(
        self,
        results: str,
        key: str,
        job: str,
        state: str,
        url: str,
        extra: dict[str, Any],
        model: str,
    ) -> str | None:
        return await asyncio.to_thread(
            self.ledger.record, results, key, job, state, url, extra, model
        )


@dataclass(frozen=True, slots=True)
class LedgerAddress:
    """Where a worker finds the driver's ledger (picklable: it travels in the shard task)."""

    host: str
    port: int
    token: str


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        # a worker stopped mid-call (Ctrl-C, a full disk, a lost node) resets its connection:
        # that ends its calls, never a traceback from socketserver in the middle of the output
        with contextlib.suppress(ConnectionError):
            self._serve()

    def _serve(self) -> None:
        ledger = self.server.ledger
        for line in self.rfile:
            try:
                req = orjson.loads(line)
                if not secrets.compare_digest(str(req.get("t", "")), self.server.token):
                    return  # not one of ours: hang up
                op, a = req["op"], req["a"]
                if op == "reserve":
                    out: Any = ledger.reserve(a[0], float(a[1]))
                elif op == "settle":
                    ledger.settle(a[0], float(a[1]))
                    out = None
                elif op == "lookup":
                    entry = ledger.lookup(*a) if a[0] in self.server.results else None
                    out = None if entry is None else [entry.job, entry.url, entry.extra]
                elif op == "record":
                    out = ledger.record(*a) if a[0] in self.server.results else "unknown_file"
                else:
                    return
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                return
            self.wfile.write(orjson.dumps(out) + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    ledger: Ledger
    token: str
    results: set[str]


class LedgerServer:
    """The driver's ledger on a TCP port for its workers, until `close`. `results` are the
    results files whose journals workers may write (the runs this driver prepared)."""

    def __init__(self, ledger: Ledger, results: set[str], host: str = "127.0.0.1") -> None:
        self.server = _Server((host, 0), _Handler)
        self.server.ledger = ledger
        self.server.token = secrets.token_hex(16)
        self.server.results = set(results)
        self.address = LedgerAddress(host, self.server.server_address[1], self.server.token)
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="ledger", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RemoteMoney:
    """A worker's view of the driver's ledger: one connection, one call at a time."""

    def __init__(self, address: LedgerAddress) -> None:
        self.address = address
        self._lock = asyncio.Lock()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _call(self, op: str, *args: Any) -> Any:
        async with self._lock:
            if self._conn is None:
                self._conn = await asyncio.open_connection(self.address.host, self.address.port)
                sock = self._conn[1].get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader, writer = self._conn
            try:
                writer.write(orjson.dumps({"t": self.address.token, "op": op, "a": args}) + b"\n")
                await writer.drain()
                line = await reader.readline()
            except BaseException:  # cancelled mid-call: the reply would be read by the next
                writer.close()
                self._conn = None
                raise
            if not line:
                self._conn = None
                raise ConnectionError("the driver's ledger closed the connection")
            return orjson.loads(line)

    async def reserve(self, model: str, seconds: float) -> bool:
        try:
            return bool(await self._call("reserve", model, seconds))
        except (OSError, ConnectionError):
            return False  # no driver, no budget: nothing more is sent

    async def settle(self, model: str, seconds: float) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            await self._call("settle", model, seconds)

    async def lookup(
        self, results: str, key: str, model: str, urls: list[str], sample: str | None = None
    ) -> JobEntry | None:
        out = await self._call("lookup", results, key, model, urls, sample)
        if out is None:
            return None
        job, url, extra = out
        return JobEntry(key, job, "submitted", url, dict(extra))

    async def record(
        self,
        results: str,
        key: str,
        job: str,
        state: str,
        url: str,
        extra: dict[str, Any],
        model: str,
    ) -> str | None:
        return await self._call("record", results, key, job, state, url, extra, model)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._conn[1].wait_closed()
            self._conn = None


class RunJournal:
    """The job journal one provider client sees (`providers._jobs.Journal`): the run's
    results file and binding, every call through `Money` to the driver's ledger."""

    def __init__(self, money: Money, results: str, model: str, urls: list[str]) -> None:
        self.money = money
        self.results = results
        self.model = model
        self.urls = list(urls)
        self.resumed = 0

    async def lookup(self, key: str) -> JobEntry | None:
        sample = SAMPLE_ID.get()
        return await self.money.lookup(self.results, key, self.model, self.urls, sample)

    async def submitted(
        self, key: str, job: str, url: str, extra: dict[str, Any] | None = None
    ) -> str | None:
        bound = dict(extra or {})
        sample = SAMPLE_ID.get()
        if sample is not None:
            bound["_sample"] = sample
        return await self.money.record(self.results, key, job, "submitted", url, bound, self.model)

    async def finished(self, entry_key: str, job: str, *, failed: bool = False) -> str | None:
        state = "failed" if failed else "done"
        return await self.money.record(self.results, entry_key, job, state, "", {}, self.model)


class RunBudget:
    """One run's side of the budget: the engine's `admit` before an attempt and `settle`
    after it (sent on without waiting; `drain` waits for the last ones at the run's end)."""

    def __init__(self, money: Money, model: str) -> None:
        self.money = money
        self.model = model
        self.refused = False
        self._settling: set[asyncio.Task[None]] = set()

    async def admit(self, seconds: float) -> bool:
        ok = await self.money.reserve(self.model, seconds)
        if not ok:
            self.refused = True
        return ok

    def settle(self, seconds: float) -> None:
        task = asyncio.ensure_future(self.money.settle(self.model, seconds))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def drain(self) -> None:
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
