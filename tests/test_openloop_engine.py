"""The engine's open loop against loopback servers: the cap holds, samples that are not sent
take no place in the schedule, and a stop behaves as in a closed loop (requests in flight
finish within the grace, nothing new is sent, nothing half-done is written)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from asyncbench.engine.arrivals import make_spec

from .loopback import LoopbackAldea
from .test_engine import read, run_engine, samples


def open_opts(kind: str, rate: float, **kw: object) -> dict:
    return {"arrivals": make_spec(kind, rate=rate, seed=3), **kw}


async def test_the_cap_holds_and_binding_it_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(2, latency=0.2) as srv:
        engine = await run_engine(
            srv.endpoints, path, 30, workers=5, opts=open_opts("constant", 1000)
        )
    assert srv.max_in_flight == 5 and len(srv.seen) == 30
    # 30 due within 30 ms, 5 slots of 200 ms each: the dispatcher waits for slots (replies
    # come back in fives, so at least 5 times), and the sends after the first 5 go late
    assert engine.stats.slot_waits >= 5
    assert sum(late > 0.05 for late in engine.stats.lateness) >= 20
    rows = read(path)
    assert len(rows) == 30 and {r["status"] for r in rows} == {"ok"}


async def test_samples_not_sent_take_no_place_in_the_schedule(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1) as srv:
        await run_engine(
            srv.endpoints,
            path,
            20,
            source=samples(20, short={1, 2}, broken={3}),
            opts=open_opts("constant", 50),
        )
    rows = {r["id"]: r for r in read(path)}
    assert len(rows) == 20 and len(srv.seen) == 17
    for sid in ("s1", "s2", "s3"):
        assert "t_sent" not in rows[sid] and "t_intended" not in rows[sid]
    intended = sorted(r["t_intended"] for r in rows.values() if "t_intended" in r)
    assert [b - a for a, b in itertools.pairwise(intended)] == pytest.approx([0.02] * 16, abs=2e-6)


async def test_stop_lets_sent_requests_finish_and_sends_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, latency=0.5) as srv:
        engine = await run_engine(
            srv.endpoints, path, 200, workers=100, stop_after=0.5, opts=open_opts("constant", 50)
        )
        sent = len(srv.seen)
    rows = read(path)
    # at most 0.5 s of the schedule was sent; each sent request got its answer written
    assert 1 <= sent <= 26
    assert len(rows) == sent and all(r["status"] == "ok" for r in rows)
    assert engine.stats.interrupted == "SIGINT"


async def test_stop_after_grace_cancels_sent_requests(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, latency=5.0) as srv:
        t0 = time.monotonic()
        await run_engine(
            srv.endpoints,
            path,
            100,
            workers=50,
            stop_after=0.3,
            opts=open_opts("poisson", 100, grace_s=0.3),
        )
        assert time.monotonic() - t0 < 2.5
        assert srv.seen
    assert read(path) == []


async def test_stop_after_the_last_send_still_lets_requests_finish(tmp_path: Path) -> None:
    # every sample is sent at once and the dispatcher has nothing left to do when the stop
    # comes: the requests in flight must still get their grace (they once were cancelled
    # with the dispatcher, which awaited them, and nothing was written)
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, latency=1.0) as srv:
        engine = await run_engine(
            srv.endpoints, path, 5, workers=10, stop_after=0.5, opts=open_opts("constant", 1000)
        )
        assert len(srv.seen) == 5
    rows = read(path)
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)
    assert engine.stats.interrupted == "SIGINT"
