"""Liveness: a run whose endpoints have all stopped answering stops, instead of crawling.

The pool rests an endpoint that keeps failing and lets one probe through when the rest ends,
so a dead endpoint among live ones costs nothing. When every endpoint is dead, though, work is
only delayed, never failed: the one endpoint of a server that accepts connections and never
answers took about one request every 20-35 s (a probe's timeout plus a rest of up to 30 s),
3.8 hours for 600 clips at `--timeout 5`.

`LivenessWatch` checks the pool on its own timer: once no request has succeeded anywhere for
`stall_timeout` seconds and every endpoint is resting (or has its probe out), it calls
`on_stall` with one line naming each endpoint and its last error. The engine then stops at
once, keeps every line written, and the run exits `exit_codes.STALLED` (resumable). An
endpoint that is merely slow (requests out, no failures) is not resting, so a slow but live
server never trips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from asyncbench.engine.endpoints import EndpointPool
from asyncbench.results.errors_top import one_line

#: the default is this many request timeouts without any success...
TIMEOUTS = 2.0
#: ...but never less than this many seconds (a short --timeout must not stop a run that waits
#: out a few rests of a flapping endpoint)
FLOOR_S = 30.0


def default_stall_timeout(timeout: float) -> float:
    """`--stall_timeout` when not given: 2 x --timeout, at least 30 s."""
    return max(FLOOR_S, TIMEOUTS * timeout)


def describe_stall(pool: EndpointPool, quiet_s: float) -> str:
    """The one line a stalled run ends with: how long, and each endpoint's last error."""
    shown = "; ".join(
        f"{ep.label} ({one_line(ep.last_error or 'no reply yet', 120)})" for ep in pool.endpoints
    )
    return (
        f"stalled: no request succeeded for {quiet_s:.0f} s and every endpoint is resting: {shown}"
    )


class LivenessWatch:
    """Calls `on_stall(line)` once when the pool has been dead for `stall_timeout` seconds."""

    def __init__(
        self,
        pool: EndpointPool,
        stall_timeout: float,
        on_stall: Callable[[str], None],
        *,
        period: float | None = None,
    ) -> None:
        self.pool = pool
        self.stall_timeout = stall_timeout
        self.on_stall = on_stall
        self.period = period if period is not None else min(1.0, stall_timeout / 10)
        self.started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.started = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="liveness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def quiet_for(self, now: float) -> float:
        """Seconds since the last success anywhere (or since this run started)."""
        return now - max(self.started, self.pool.last_ok)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            now = time.monotonic()
            quiet = self.quiet_for(now)
            if quiet >= self.stall_timeout and self.pool.all_resting():
                self.on_stall(describe_stall(self.pool, quiet))
                return
