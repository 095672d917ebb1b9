"""The live view of a batch that runs everything at once: one row per provider budget.

A person watching `nohup bash run_api.sh` wants to know, per provider: how full its budget is
(in flight / limit), how fast it goes, whether it errs, which split it is on, and when it will
be done; and when the whole batch will be. On a terminal the rows are redrawn a few times a
second; otherwise (a log) one block of plain lines is printed every `interval` seconds.

The view reads snapshots that the scheduler builds (`Lane`), so it knows nothing of runs or
providers, and costs nothing per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from asyncbench.core.terminal import fit_lines
from asyncbench.core.text import one_line
from asyncbench.reporting.progress import format_duration, progress_interval

if TYPE_CHECKING:
    from rich.live import Live


@dataclass(frozen=True, slots=True)
class Lane:
    """One budget at one moment."""

    name: str
    in_flight: int
    limit: int
    attempts: int  # requests sent so far (retries included), over the budget's runs
    done: int  # samples finished
    left: int | None  # samples still to do (None: unknown for some run)
    errors: int  # failed attempts
    split: str  # the split it is on ("-" when finished)
    runs_done: int
    runs: int


@dataclass(slots=True)
class _Mark:
    t: float
    attempts: int
    done: int


def lane_line(lane: Lane, req_per_s: float, samples_per_s: float, width: int) -> str:
    eta = "-"
    if lane.runs_done == lane.runs:
        eta = "done"
    elif lane.left is not None and samples_per_s > 0:
        eta = format_duration(lane.left / samples_per_s)
    flight = f"{lane.in_flight}/{lane.limit}"
    return (
        f"{lane.name:<{width}}  {flight:>9}  {req_per_s:>7.1f}  {lane.errors:>6}  "
        f"{lane.runs_done:>2}/{lane.runs:<2} {lane.split:<26}  {eta:>7}"
    )


class _AboveTheView:
    """stdout or stderr while the live view is drawn: each finished line is printed above the
    view's rows (rich keeps them there), wrapped at words to the terminal's width."""

    def __init__(self, live: Live, stream: TextIO) -> None:
        self._live = live
        self._stream = stream
        self._held = ""

    def write(self, text: str) -> int:
        *done, self._held = (self._held + text).split("\n")
        if done:
            self._print(done)
        return len(text)

    def _print(self, lines: list[str]) -> None:
        from rich.text import Text

        width = self._live.console.width
        rows = [row for line in lines for row in fit_lines(line, width)]
        self._live.console.print(Text("\n".join(rows)), soft_wrap=True)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self._print([held])

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class BatchProgress:
    """`async with BatchProgress(snapshot):` beside the scheduler; draws the last state once
    more when it ends."""

    def __init__(
        self,
        snapshot: Callable[[], list[Lane]],
        *,
        stream: TextIO | None = None,
        interval: float | None = None,
        tty: bool | None = None,
        enabled: bool = True,
    ) -> None:
        self.snapshot = snapshot
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if interval is not None else progress_interval(self.tty)
        self.enabled = enabled
        self.started = time.monotonic()
        self.marks: dict[str, _Mark] = {}
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None
        self._saved: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)

    def render(self) -> list[str]:
        now = time.monotonic()
        lanes = self.snapshot()
        width = max([len("provider"), *(len(lane.name) for lane in lanes)])
        lines = [
            f"{'provider':<{width}}  {'in flight':>9}  {'req/s':>7}  {'errors':>6}  "
            f"{'runs':<5} {'split':<26}  {'ETA':>7}"
        ]
        etas: list[float] = []
        for lane in lanes:
            mark = self.marks.get(lane.name) or _Mark(self.started, 0, 0)
            span = max(now - mark.t, 1e-9)
            req = (lane.attempts - mark.attempts) / span
            samples = (lane.done - mark.done) / span
            self.marks[lane.name] = _Mark(now, lane.attempts, lane.done)
            lines.append(lane_line(lane, req, samples, width))
            if lane.runs_done < lane.runs and lane.left is not None and samples > 0:
                etas.append(lane.left / samples)
        all_done = all(lane.runs_done == lane.runs for lane in lanes)
        overall = (
            "done"
            if all_done
            else (format_duration(max(etas)) if etas and len(etas) == len(lanes) else "-")
        )
        runs = sum(lane.runs for lane in lanes)
        finished = sum(lane.runs_done for lane in lanes)
        lines.append(
            f"batch: {finished}/{runs} runs done, elapsed "
            f"{format_duration(now - self.started)}, ETA {overall}"
        )
        return lines

    def draw(self) -> None:
        lines = [one_line(line) for line in self.render()]  # names from outside, shown as text
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text("\n".join(lines)), refresh=True)
            return
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.draw()

    async def __aenter__(self) -> BatchProgress:
        if not self.enabled:
            return self
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._live = Live(console=console, auto_refresh=False, redirect_stderr=False)
            self._live.start()
            # what runs print while the view is up (each run's summary) goes above its rows,
            # whole lines wrapped to the width: written straight to the terminal it would
            # continue the view's last row (`ETA 7sthis run: ...`) and be drawn over
            self._saved = sys.stdout, sys.stderr
            if sys.stdout.isatty():
                sys.stdout = _AboveTheView(self._live, sys.stdout)  # type: ignore[assignment]
            sys.stderr = _AboveTheView(self._live, sys.stderr)  # type: ignore[assignment]
        self._task = asyncio.create_task(self._loop(), name="batch-progress")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.draw()
        if self._live is not None:
            for proxy in (sys.stdout, sys.stderr):
                proxy.flush()
            sys.stdout, sys.stderr = self._saved
            self._live.stop()
