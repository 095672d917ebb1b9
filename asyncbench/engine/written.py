"""When a request was written: the start of a latency that holds none of the client's own wait.

A client short of CPU gets to each request late: after the engine decides to send, it still
has to take a connection, build the request and get a turn on the busy loop before a byte
leaves. Timed from the decision, all of that shows as the endpoint's latency. Timed from the
moment the request's headers were written to the socket, it does not.

The engine opens a fresh mark for every attempt (a context variable, so it follows the
attempt into whatever tasks the HTTP client starts for it), and the run's HTTP session
notes the first write of the attempt in it: its request class marks the moment aiohttp has
a connection and starts writing the request line and headers. (An aiohttp trace hook on
"headers sent" would say the same, but tracing costs 10-20 µs of CPU per request, a fifth
of aiohttp's own; this costs one function call.) Clients that write no HTTP request, or
sessions without the class, leave the mark empty, and the engine times from its own start
as before. For a request that needs several HTTP calls (an upload, then polls), the first
write starts the clock.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

_mark: ContextVar[list[float] | None] = ContextVar("asyncbench_written", default=None)


def open_mark() -> list[float]:
    """A fresh mark for this attempt (empty until its first request is written)."""
    mark: list[float] = []
    _mark.set(mark)
    return mark


def note_written() -> None:
    """The current attempt's request went out now (only its first write counts)."""
    mark = _mark.get()
    if mark is not None and not mark:
        mark.append(time.perf_counter())


_request_class: Any = None


def request_class() -> Any:
    """aiohttp's `ClientRequest`, noting when it starts to be written (`send` is called once
    the request has its connection, and writes the request line and headers at once)."""
    global _request_class
    if _request_class is None:
        import aiohttp

        class MarkedRequest(aiohttp.ClientRequest):
            async def send(self, conn: Any) -> Any:
                note_written()
                return await super().send(conn)

        _request_class = MarkedRequest
    return _request_class
