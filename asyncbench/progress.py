"""A progress line while the run goes: done/total, in flight, requests/s, errors.

On a terminal the line is redrawn in place; otherwise (nohup, CI logs) a plain line is
printed every few seconds so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TextIO

from asyncbench.endpoints import EndpointPool
from asyncbench.stats import RunStats


def progress_line(stats: RunStats, pool: EndpointPool) -> str:
    total = f"/{stats.total}" if stats.total is not None else ""
    wall = stats.wall_s
    rate = stats.done / wall if wall > 0 else 0.0
    parts = [
        f"{stats.done}{total} done",
        f"{pool.in_flight} in flight",
        f"{rate:.1f} samples/s",
        f"{stats.audio_s / wall if wall > 0 else 0.0:.1f} audio s/s",
    ]
    if stats.failed:
        parts.append(f"{stats.failed} failed")
    if stats.retries:
        parts.append(f"{stats.retries} retries")
    if stats.errors_by_kind:
        kinds = ", ".join(f"{k} {v}" for k, v in stats.errors_by_kind.most_common(3))
        parts.append(f"errors: {kinds}")
    if stats.total and rate > 0:
        left = max(0, stats.total - stats.done) / rate
        parts.append(f"ETA {int(left // 60)}m{int(left % 60):02d}s")
    return " | ".join(parts)


class Progress:
    def __init__(
        self,
        stats: RunStats,
        pool: EndpointPool,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.stats = stats
        self.pool = pool
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.interval = 0.5 if self.tty else 10.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="progress")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._draw()

    def _draw(self, final: bool = False) -> None:
        line = progress_line(self.stats, self.pool)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._draw(final=True)
