"""Liveness (#28 item 1): a run whose only endpoint accepts connections and never answers
stops within a bounded time, naming the endpoint and its last error, keeps what was written
and exits 5; a dead endpoint among live ones still hands its work to the others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from asyncbench.core import exit_codes
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.liveness import LivenessWatch, default_stall_timeout

from .faultkit import finish, numbered_dataset, results_file, run_args, server, start, whole_lines
from .loopback import Action


@pytest.fixture(scope="module")
def six_hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return numbered_dataset(tmp_path_factory.mktemp("live") / "esb", 600)


@pytest.fixture(scope="module")
def forty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return numbered_dataset(tmp_path_factory.mktemp("live40") / "esb", 40)


def test_default_stall_timeout_follows_the_timeout() -> None:
    assert default_stall_timeout(5) == 30  # the floor
    assert default_stall_timeout(120) == 240  # two request timeouts


async def test_a_dead_endpoint_stops_the_run_with_one_line_and_exit_5(
    six_hundred: Path, tmp_path: Path
) -> None:
    async with server(1, plan=lambda port, n, body: Action(hang=True)) as srv:
        args = run_args(
            six_hundred,
            srv.endpoints,
            tmp_path,
            "--timeout",
            1,
            "--max_retries",
            0,
            "--max_workers",
            50,
            "--stall_timeout",
            3,
        )
        t0 = time.monotonic()
        # before: 50 failed after 1 s, then one probe at a time, rests growing to 30 s: hours
        code, _out, err = await finish(await start(args), timeout=120)
        took = time.monotonic() - t0
    assert code == exit_codes.STALLED == 5, err
    lines = [line for line in err.splitlines() if line.strip()]
    url = f"http://{srv.endpoints}/asr/transcribe"
    stalled = [line for line in lines if line.startswith("error: stalled:")]
    assert len(stalled) == 1 and stalled == [lines[-1]], err
    line = stalled[0]
    assert line.startswith("error: stalled: no request succeeded for ")
    assert f"s and every endpoint is resting: {url} (timeout: no reply within 1 s); " in line
    assert line.endswith(
        " samples written; rerun the same command to resume once an endpoint answers"
    )
    # stopped in about the stall timeout, far from the hours it used to take
    assert took < 60, took
    # what was written stays: the first 50 timed out and were recorded as failed
    rows, _torn = whole_lines(results_file(six_hundred, tmp_path))
    assert len(rows) >= 50 and all(r["status"] == "failed" for r in rows)
    assert f"{len(rows)} samples written; rerun" in line


async def test_a_dead_endpoint_among_live_ones_hands_its_work_on(
    forty: Path, tmp_path: Path
) -> None:
    dead: set[int] = set()

    def plan(port: int, n: int, body: bytes) -> Action:
        if not dead:
            dead.add(port)  # the first port to be asked is the dead one
        return Action(hang=True) if port in dead else Action()

    async with server(2, plan=plan) as srv:
        args = run_args(
            forty,
            srv.endpoints,
            tmp_path,
            "--timeout",
            1,
            "--max_workers",
            8,
            "--stall_timeout",
            2,
        )
        code, _out, err = await finish(await start(args), timeout=120)
    assert code == 0, err
    assert "stalled" not in err
    rows, _ = whole_lines(results_file(forty, tmp_path))
    assert len(rows) == 40 and all(r["status"] == "ok" for r in rows)


async def test_the_watch_waits_while_any_endpoint_is_not_resting() -> None:
    """Slow is not dead: with one endpoint up (no failures), no stall however long it is
    quiet; once every endpoint has failed `fail_threshold` times, the watch fires."""
    pool = EndpointPool(["http://a", "http://b"], 1, fail_threshold=1, rest_s=60)
    fired: list[str] = []
    watch = LivenessWatch(pool, 0.2, fired.append, period=0.02)
    watch.start()
    a = await pool.acquire()
    pool.release(a, ok=False, latency=0.1, kind="timeout", error="no reply within 1 s")
    await asyncio.sleep(0.5)
    assert fired == []  # b is up
    b = await pool.acquire()
    pool.release(b, ok=False, latency=0.1, kind="connection", error="refused\r\n\x1b[2J")
    for _ in range(500):  # event-driven enough: the watch checks every 20 ms
        if fired:
            break
        await asyncio.sleep(0.02)
    await watch.stop()
    assert len(fired) == 1
    assert fired[0].startswith("stalled: no request succeeded for ")
    assert fired[0].endswith(
        "every endpoint is resting: http://a (no reply within 1 s); http://b (refused [2J)"
    )


async def test_a_batch_whose_endpoint_dies_exits_5_and_marks_the_split_stalled(
    forty: Path, tmp_path: Path
) -> None:
    async with server(1, plan=lambda port, n, body: Action(hang=True)) as srv:
        args = [
            "batch",
            "--model",
            "aldea/default",
            "--dataset_path",
            str(forty),
            "--datasets",
            "ami",
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            str(tmp_path / "b"),
            "--no_progress",
            "--max_workers",
            "4",
            "--timeout",
            "1",
            "--max_retries",
            "0",
            "--stall_timeout",
            "2",
        ]
        code, _out, err = await finish(await start(args), timeout=120)
    assert code == exit_codes.STALLED, err
    assert sum(line.startswith("error: stalled: ") for line in err.splitlines()) == 1
    row = next(line for line in err.splitlines() if line.startswith("aldea/default "))
    assert " stalled " in row
