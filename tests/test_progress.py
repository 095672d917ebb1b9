"""Live progress: the rich panel on a terminal, plain lines in logs, rates over a window,
and a redraw cost that does not grow with the request rate."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import pytest

from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.stats import RunStats
from asyncbench.reporting.progress import (
    Progress,
    RateMeter,
    format_duration,
    progress_line,
    render_panel,
)

from .inproc import Background, cli, run_args
from .loopback import LoopbackAldea
from .support import make_dataset, transcript_of

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def busy_run(n_endpoints: int = 3) -> tuple[RunStats, EndpointPool]:
    """Counters as the engine leaves them 10 s into a run."""
    stats = RunStats(total=1000, started=time.monotonic() - 10)
    stats.done, stats.ok, stats.failed, stats.retries, stats.attempts = 120, 118, 2, 5, 127
    stats.audio_s = 600.0
    stats.errors_by_kind.update({"rate_limited": 4, "timeout": 3})
    pool = EndpointPool(
        [f"http://127.0.0.1:{8800 + i}/asr/transcribe" for i in range(n_endpoints)], 8
    )
    for i, ep in enumerate(pool.endpoints):
        ep.in_flight = i + 2
        ep.requests, ep.latency_sum = 40, 12.0
    return stats, pool


def panel_text(n_endpoints: int = 3) -> str:
    from rich.console import Console

    stats, pool = busy_run(n_endpoints)
    rates = RateMeter(stats).sample()
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, width=140).print(
        render_panel(stats, pool, rates, 24, "aldea/default ami/test")
    )
    return ANSI.sub("", buf.getvalue())


def test_terminal_panel_shows_what_a_watcher_needs() -> None:
    text = panel_text()
    assert "aldea/default ami/test" in text
    assert "120/1000" in text and "12.0%" in text and "ETA 1m13s" in text
    assert "in flight 9/24" in text  # 2 + 3 + 4 over the three endpoints
    assert re.search(r"[\d.]+ req/s", text) and "60.0 audio s/s now" in text
    assert "failed 2" in text and "retries 5" in text
    assert "errors (attempts): rate_limited 4, timeout 3" in text
    for port, flight in ((8800, 2), (8801, 3), (8802, 4)):
        assert re.search(rf"127\.0\.0\.1:{port}\s+{flight}/8\s+40", text)


def test_many_endpoints_are_summed_up() -> None:
    text = panel_text(21)
    assert "... 13 more: 2-22 over 21 endpoints (0 idle)" in text


def test_plain_line_for_logs() -> None:
    stats, pool = busy_run()
    line = progress_line(stats, pool, RateMeter(stats).sample(), 24)
    assert "\x1b" not in line and "\n" not in line
    assert line.startswith("120/1000 done (12%) | 9/24 in flight | ")
    assert "60.0 audio s/s" in line and "2 failed" in line and "5 retries" in line
    assert "errors: rate_limited 4, timeout 3" in line
    assert "per endpoint: 127.0.0.1:8800=2 127.0.0.1:8801=3 127.0.0.1:8802=4" in line
    assert "ETA 1m13s" in line


def test_rates_are_measured_over_a_window() -> None:
    stats = RunStats(total=None, started=100.0)
    meter = RateMeter(stats, window=5.0)
    stats.done, stats.attempts, stats.audio_s = 10, 10, 20.0
    first = meter.sample(now=102.0)
    assert first.samples_per_s == pytest.approx(5.0)  # since the start
    for k in range(1, 20):  # then 4 samples/s, 8 audio s/s, steadily
        stats.done += 1
        stats.attempts += 1
        stats.audio_s += 2.0
        rates = meter.sample(now=102.0 + k * 0.25)
    assert rates.samples_per_s == pytest.approx(4.0)
    assert rates.audio_per_s == pytest.approx(8.0)
    assert len(meter.snaps) <= 22


def test_durations() -> None:
    assert [format_duration(s) for s in (4.4, 187, 7500)] == ["4s", "3m07s", "2h05m"]


def test_redraw_cost_is_flat() -> None:
    """A redraw reads counters only, so its cost does not depend on the request rate (nothing
    is done per request): about 1 ms with 21 endpoints, 0.3 % of a core at 3 redraws/s."""
    from rich.console import Console

    stats, pool = busy_run(21)
    meter = RateMeter(stats)
    console = Console(file=io.StringIO(), force_terminal=True, width=140)
    t0 = time.process_time()
    for _ in range(200):
        stats.done += 50  # as if 200 requests finished between redraws
        console.print(render_panel(stats, pool, meter.sample(), 300, "x"))
    per_draw = (time.process_time() - t0) / 200
    assert per_draw < 0.005, f"{per_draw * 1000:.1f} ms per redraw"


async def test_plain_progress_prints_periodic_lines() -> None:
    stats, pool = busy_run()
    stream = io.StringIO()
    progress = Progress(stats, pool, stream=stream, interval=0.02, tty=False, limit=24)
    progress.start()
    await asyncio.sleep(0.15)
    stats.done = 1000
    await progress.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 4 and "\x1b" not in stream.getvalue()
    assert lines[-1].startswith("1000/1000 done (100%)")


async def test_terminal_progress_redraws_in_place() -> None:
    stats, pool = busy_run()
    stream = io.StringIO()
    progress = Progress(stats, pool, stream=stream, interval=0.02, tty=True, title="t", limit=24)
    progress.start()
    await asyncio.sleep(0.1)
    await progress.stop()
    assert progress.draws >= 3
    out = stream.getvalue()
    assert "\x1b[" in out  # cursor movement: the panel is redrawn, not appended
    assert "120/1000" in ANSI.sub("", out)


def test_a_run_logs_plain_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under nohup stderr is a file: the run prints plain lines every ASYNCBENCH_PROGRESS_S."""
    esb = make_dataset(tmp_path / "esb", {("ami", "test"): 24}, fmt="wav")
    monkeypatch.setenv("ASYNCBENCH_PROGRESS_S", "0.1")
    with Background(LoopbackAldea(2, transcript=transcript_of, latency=0.1)) as srv:
        args = run_args("aldea/default", esb, "ami", "test", srv.endpoints, tmp_path / "r")
        args.remove("--no_progress")
        code, _out, err = cli(capsys, "run", *args, "--max_workers", "4")
    assert code == 0, err
    lines = [line for line in err.splitlines() if " in flight | " in line]
    assert len(lines) >= 3, err
    assert "\x1b" not in err
    assert lines[-1].startswith("24/24 done (100%) | 0/4 in flight")
    assert "per endpoint: 127.0.0.1:" in lines[0]
