"""Live progress while a run goes: what a person watching an hours-long paid run wants to see.

On a terminal, a small `rich` panel is redrawn a few times per second: done/total with a bar
and ETA, requests in flight against the limit, requests/s and audio seconds per second (over
the last few seconds and since the start), errors by kind, retries, and each endpoint's
requests in flight. When stderr is not a terminal (nohup, CI, `2> log`), one plain line is
printed every `interval` seconds instead, so a log stays readable with `tail -f` or `grep`.

The cost stays flat at any request rate: nothing here runs per request. A redraw only reads
the counters the engine already keeps (`RunStats`, the endpoint pool), and a redraw of the
panel, endpoint rows as plain formatted lines, takes about a millisecond of CPU: 0.3 % of a
core at three redraws a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from asyncbench.core.text import lines, one_line
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.stats import RunStats

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

#: seconds between plain lines when stderr is not a terminal (ASYNCBENCH_PROGRESS_S overrides)
PLAIN_INTERVAL_S = 10.0
#: seconds between redraws on a terminal (a redraw costs about 1 ms of CPU)
TTY_INTERVAL_S = 1 / 3
#: the window the "now" rates are measured over
WINDOW_S = 5.0
#: endpoint rows shown on a terminal before the rest are summed up in one line
MAX_ENDPOINT_ROWS = 8


@dataclass(slots=True)
class Snapshot:
    """The counters at one moment; rates are differences of two snapshots."""

    t: float
    done: int
    attempts: int
    audio_s: float


@dataclass(slots=True)
class Rates:
    requests_per_s: float  # attempts (retries included) over the window
    samples_per_s: float
    audio_per_s: float  # audio seconds transcribed per wall second: throughput RTFx
    avg_audio_per_s: float  # the same since the start


class RateMeter:
    """Rates over the last `window` seconds from snapshots taken at each redraw."""

    def __init__(self, stats: RunStats, window: float = WINDOW_S) -> None:
        self.stats = stats
        self.window = window
        self.snaps: deque[Snapshot] = deque()

    def sample(self, now: float | None = None) -> Rates:
        st = self.stats
        now = time.monotonic() if now is None else now
        snap = Snapshot(now, st.done, st.attempts, st.audio_s)
        self.snaps.append(snap)
        while len(self.snaps) > 2 and now - self.snaps[1].t >= self.window:
            self.snaps.popleft()
        first = self.snaps[0]
        if now - first.t <= 0:  # the first redraw: measure from the start instead
            first = Snapshot(st.started, 0, 0, 0.0)
        span = max(now - first.t, 1e-9)
        wall = max(now - st.started, 1e-9)
        return Rates(
            requests_per_s=(snap.attempts - first.attempts) / span,
            samples_per_s=(snap.done - first.done) / span,
            audio_per_s=(snap.audio_s - first.audio_s) / span,
            avg_audio_per_s=st.audio_s / wall,
        )


def format_duration(seconds: float) -> str:
    """`42s`, `3m07s`, `2h05m`: short enough for a status line."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def eta_s(stats: RunStats, samples_per_s: float) -> float | None:
    """Seconds left at the current rate, or None when unknown (no total, nothing done yet)."""
    if stats.total is None or samples_per_s <= 0:
        return None
    return max(0, stats.total - stats.done) / samples_per_s


def short_endpoint(url: str) -> str:
    """`http://127.0.0.1:8800/asr/transcribe` → `127.0.0.1:8800`: what tells endpoints apart
    (never the `user:password@` part)."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1] or url


def endpoint_spread(pool: EndpointPool) -> str:
    """Per-endpoint in flight on one line: each one when few, the range when many."""
    eps = pool.endpoints
    if len(eps) <= 8:
        return " ".join(f"{short_endpoint(ep.url)}={ep.in_flight}" for ep in eps)
    loads = [ep.in_flight for ep in eps]
    idle = sum(1 for n in loads if n == 0)
    return f"{min(loads)}-{max(loads)} over {len(eps)} endpoints ({idle} idle)"


def progress_line(stats: RunStats, pool: EndpointPool, rates: Rates, limit: int | None) -> str:
    """The plain line printed to logs."""
    # an unknown total is said to be unknown (`of ?`), never shown as a count that looks whole
    total = f"/{stats.total}" if stats.total is not None else " of ?"
    pct = f" ({100 * stats.done / stats.total:.0f}%)" if stats.total else ""
    flight = f"{pool.in_flight}/{limit}" if limit else f"{pool.in_flight}"
    parts = [
        f"{stats.done}{total} done{pct}",
        f"{flight} in flight",
        f"{rates.requests_per_s:.1f} req/s",
        f"{rates.audio_per_s:.1f} audio s/s",
        f"{format_duration(stats.audio_s)} audio done",  # long recordings: counted per part
    ]
    if stats.failed:
        parts.append(f"{stats.failed} failed")
    if stats.retries:
        parts.append(f"{stats.retries} retries")
    if stats.errors_by_kind:
        kinds = ", ".join(f"{k} {v}" for k, v in stats.errors_by_kind.most_common(4))
        parts.append(f"errors: {kinds}")
    if len(pool.endpoints) > 1:
        parts.append(f"per endpoint: {endpoint_spread(pool)}")
    left = eta_s(stats, rates.samples_per_s)
    if left is not None:
        parts.append(f"ETA {format_duration(left)}")
    parts.append(f"elapsed {format_duration(stats.wall_s)}")
    return " | ".join(parts)


def render_panel(
    stats: RunStats, pool: EndpointPool, rates: Rates, limit: int | None, title: str
) -> RenderableType:
    """The terminal view: a header, a bar, the rates, errors, and one row per endpoint."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    total = stats.total
    counts = Text(f"{stats.done}/{total}" if total is not None else f"{stats.done} of ? done")
    if total:
        counts.append(f"  {100 * stats.done / total:.1f}%")
    left = eta_s(stats, rates.samples_per_s)
    counts.append(f"  ETA {format_duration(left)}" if left is not None else "  ETA --")
    counts.append(f"  elapsed {format_duration(stats.wall_s)}", style="dim")
    top = Table.grid(padding=(0, 2))
    top.add_row(
        Text(title or "asyncbench", style="bold"),
        ProgressBar(total=max(total or 1, 1), completed=min(stats.done, total or 0), width=40)
        if total
        else Text(""),
        counts,
    )
    rows: list[Any] = [top]

    flight = f"{pool.in_flight}/{limit}" if limit else str(pool.in_flight)
    line = Text()
    line.append(f"in flight {flight}")
    line.append(f"  {rates.requests_per_s:.1f} req/s")
    line.append(f"  {rates.audio_per_s:.1f} audio s/s now", style="cyan")
    line.append(f" ({rates.avg_audio_per_s:.1f} avg)", style="dim")
    line.append(f"  {format_duration(stats.audio_s)} audio done")
    line.append(f"  ok {stats.ok}", style="green")
    line.append(f"  failed {stats.failed}", style="red" if stats.failed else "")
    line.append(f"  retries {stats.retries}", style="yellow" if stats.retries else "")
    if stats.skipped_short:
        line.append(f"  too short {stats.skipped_short}", style="dim")
    rows.append(line)
    if stats.errors_by_kind:
        kinds = ", ".join(f"{k} {v}" for k, v in stats.errors_by_kind.most_common(6))
        rows.append(Text(f"errors (attempts): {kinds}", style="red"))

    eps = pool.endpoints
    if len(eps) > 1 or any(ep.errors for ep in eps):
        # plain formatted lines, not a rich Table: a table layout costs milliseconds a redraw
        shown = (
            sorted(eps, key=lambda ep: -ep.in_flight)[:MAX_ENDPOINT_ROWS]
            if len(eps) > MAX_ENDPOINT_ROWS
            else eps
        )
        now = time.monotonic()
        names = [
            short_endpoint(ep.url) + (" (resting)" if ep.rested_until > now else "") for ep in shown
        ]
        width = max(len("endpoint"), *map(len, names))
        lines = [f"{'endpoint':<{width}}  in flight  requests  errors  mean s"]
        for name, ep in zip(names, shown, strict=True):
            flight = f"{ep.in_flight}/{ep.capacity}"
            lines.append(
                f"{name:<{width}}  {flight:>9}  {ep.requests:>8}  {ep.errors or '':>6}"
                f"  {ep.mean_latency:>6.2f}"
            )
        if len(shown) < len(eps):
            lines.append(f"... {len(eps) - len(shown)} more: {endpoint_spread(pool)}")
        table = Text("\n".join(lines[1:]))
        rows += [Text(lines[0], style="bold dim"), table]
    return Group(*rows)


def progress_interval(tty: bool) -> float:
    """Redraw period: a few times a second on a terminal; ASYNCBENCH_PROGRESS_S for logs."""
    if tty:
        return TTY_INTERVAL_S
    value = os.environ.get("ASYNCBENCH_PROGRESS_S", "")
    try:
        return max(0.05, float(value)) if value else PLAIN_INTERVAL_S
    except ValueError:
        return PLAIN_INTERVAL_S


class Progress:
    """Started as a task beside the engine; `stop()` draws the final state once."""

    def __init__(
        self,
        stats: RunStats,
        pool: EndpointPool,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        title: str = "",
        limit: int | None = None,
        interval: float | None = None,
        tty: bool | None = None,
    ) -> None:
        self.stats = stats
        self.pool = pool
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.title = one_line(title)  # a model name from outside: shown, never obeyed
        self.limit = limit
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if interval is not None else progress_interval(self.tty)
        self.meter = RateMeter(stats)
        self.draws = 0
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None

    def _console(self) -> Console:
        from rich.console import Console

        return Console(file=self.stream, force_terminal=True, highlight=False)

    def start(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            from rich.live import Live

            # auto_refresh=False: no rich thread; this task redraws on the event loop
            self._live = Live(
                console=self._console(), auto_refresh=False, transient=False, redirect_stderr=False
            )
            self._live.start()
        self._task = asyncio.create_task(self._loop(), name="progress")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.draw()

    def draw(self) -> None:
        rates = self.meter.sample()
        self.draws += 1
        if self._live is not None:
            panel = render_panel(self.stats, self.pool, rates, self.limit, self.title)
            self._live.update(panel, refresh=True)
            return
        self.stream.write(lines(progress_line(self.stats, self.pool, rates, self.limit)) + "\n")
        self.stream.flush()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.draw()
        if self._live is not None:
            self._live.stop()
