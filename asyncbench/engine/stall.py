"""Timeouts that do not count the time the client itself was not running.

A request's `--timeout` is the endpoint's allowance, measured on the event loop's clock. When
the whole process is stopped (SIGSTOP then SIGCONT, a job suspended with Ctrl-Z, a VM paused)
or the loop is held up by the client's own work, that clock keeps going while nothing could
be read: on resume every deadline has passed, and the timer would cancel requests whose
replies are already sitting in the socket, send them again and blame the endpoints (resting
them). uvloop even runs due timers before it polls the sockets.

`StallWatch` ticks on the loop every `period` seconds; a tick that comes late by more than
`threshold` marks the gap as a stall. `stall_aware_timeout` is `asyncio.timeout` whose
deadline moves back by the stalled time inside the request's window: after a pause the
request gets the rest of its allowance, the reply that arrived meanwhile is read, and a
timeout that still fires has really been `timeout` seconds of running time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from typing import Any


class StallWatch:
    """Records the event loop's stalls (gaps between ticks longer than `threshold`)."""

    def __init__(self, period: float = 0.1, threshold: float = 0.5, keep: int = 1024) -> None:
        self.period = period
        self.threshold = threshold
        self.stalls: deque[tuple[float, float]] = deque(maxlen=keep)  # (start, end), loop time
        self.last_tick: float | None = None
        self._task: asyncio.Task[None] | None = None
        #: how late every tick fired (seconds): the event loop's lag, sampled through the run
        #: at one float per tick (reporting/saturation.py turns it into the client-bound
        #: verdict); a tick is late when callbacks ahead of it kept the loop busy
        self.lags: list[float] = []
        #: the share of each tick's interval the loop's thread spent on the CPU: a loop with
        #: no idle time is at its limit even when each callback is short and no tick is late
        self.busy: list[float] = []
        self._sleep = period  # the sleep of the tick under way
        self._cpu = 0.0  # the loop thread's CPU time at the last tick

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_tick = loop.time()
        self._cpu = time.thread_time()
        self._task = loop.create_task(self._tick(), name="stall-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        # Sleeps of 0.5 to 1.5 periods (a fixed pseudo-random sequence, the same every run):
        # a watch with a fixed period can lock into the gaps of a load that is itself
        # periodic (a client busy 40 ms of every 50 ms was sampled only in its idle 10 ms)
        jitter = random.Random(0)
        while True:
            self._sleep = self.period * (0.5 + jitter.random())
            await asyncio.sleep(self._sleep)
            now, cpu = loop.time(), time.thread_time()
            if self.last_tick is not None and now > self.last_tick:
                self.busy.append(min(1.0, (cpu - self._cpu) / (now - self.last_tick)))
            self._cpu = cpu
            self._note(now)

    def _note(self, now: float) -> None:
        last = self.last_tick if self.last_tick is not None else now
        due = last + self._sleep
        self.lags.append(max(0.0, now - due))
        if now - due > self.threshold:
            self.stalls.append((due, now))
        self.last_tick = now

    def stalled(self, since: float, now: float) -> float:
        """Seconds of [since, now] the loop was stalled, including a stall still going on
        (the watch's own tick may not have run yet in the loop's first turn after a pause)."""
        total = 0.0
        for start, end in self.stalls:
            total += max(0.0, min(end, now) - max(start, since))
        if self.last_tick is not None:
            ongoing = now - self.last_tick - self._sleep
            if ongoing > self.threshold:
                total += max(0.0, now - max(self.last_tick + self._sleep, since))
        return total


class stall_aware_timeout:  # named like asyncio.timeout, which callers use it as
    """`asyncio.timeout(seconds)`, with the time `watch` saw the loop stalled not counted.

    `async with stall_aware_timeout(limit, watch): ...` wraps every attempt, so it is a plain
    class rather than a generator-based context manager: 13 µs of CPU per attempt became
    8 µs (the generator, its wrapper object and two resumptions were the rest).
    """

    __slots__ = ("_cm", "_handle", "_loop", "_seconds", "_start", "_watch")

    def __init__(self, seconds: float, watch: StallWatch | None) -> None:
        self._seconds = seconds
        self._watch = watch
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> None:
        if self._watch is None:
            self._cm = asyncio.timeout(self._seconds)
            await self._cm.__aenter__()
            return
        loop = self._loop = asyncio.get_running_loop()
        self._start = loop.time()
        self._cm = asyncio.timeout(None)
        await self._cm.__aenter__()
        self._handle = loop.call_at(self._start + self._seconds, self._check)

    def _check(self) -> None:
        assert self._watch is not None
        now = self._loop.time()
        stalled = self._watch.stalled(self._start, now)
        if now - self._start - stalled >= self._seconds - 1e-3:
            self._cm.reschedule(now)  # expired on running time: cancel the request
        else:
            self._handle = self._loop.call_at(self._start + self._seconds + stalled, self._check)

    async def __aexit__(self, *exc: Any) -> bool | None:
        if self._handle is not None:
            self._handle.cancel()
        return await self._cm.__aexit__(*exc)
