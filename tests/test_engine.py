"""The engine against real loopback servers, without datasets or audio decoding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from asyncbench.core.endpoint_spec import parse_endpoints
from asyncbench.core.errors import PermanentError
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import Engine, EngineOptions, Job
from asyncbench.providers.aldea import AldeaProvider
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.sources.dataset import Sample

from .loopback import Action, LoopbackAldea, closed_port
from .provider_runs import engine_run


def samples(
    n: int, *, short: set[int] = frozenset(), broken: set[int] = frozenset()
) -> Iterator[list[Sample]]:
    batch = []
    for i in range(n):
        batch.append(
            Sample(
                id=f"s{i}", index=i, reference=f"ref {i}", duration=1.0, audio=f"audio-{i}".encode()
            )
        )
        batch[-1].meta["short"] = i in short
        batch[-1].meta["broken"] = i in broken
        if len(batch) == 7:
            yield batch
            batch = []
    if batch:
        yield batch


async def prepare(sample: Sample) -> Job:
    if sample.meta.get("short"):
        return Job(sample, 0.1, skip=True)
    if sample.meta.get("broken"):
        return Job(sample, 0.0, error=PermanentError("bad_audio", "cannot decode audio: garbage"))
    return Job(sample, 1.0, payload=AudioPayload(sample.audio, "audio/wav", "audio.wav", 1.0))


async def run_engine(
    srv_endpoints: str,
    path: Path,
    n: int,
    *,
    workers: int = 8,
    opts: dict | None = None,
    stop_after: float | None = None,
    source: Iterator[list[Sample]] | None = None,
    pool_kw: dict | None = None,
) -> Engine:
    urls = parse_endpoints(srv_endpoints, "/asr/transcribe")
    return await engine_run(
        AldeaProvider(ProviderSettings(model="default", endpoints=srv_endpoints)),
        EndpointPool(urls, max(1, -(-workers // len(urls))), **(pool_kw or {})),
        prepare,
        source or samples(n),
        path,
        EngineOptions(max_workers=workers, backoff_base=0.01, **(opts or {})),
        stop_after=stop_after,
    )


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def echo(body: bytes) -> str:
    return "echo " + body.decode()


async def test_every_sample_once_with_its_own_transcript(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    full = asyncio.Event()  # the first replies wait until 24 are in flight: no timing luck

    def plan(port: int, n: int, body: bytes) -> Action:
        if srv.in_flight + 1 >= 24:
            full.set()
        return Action(until=full.wait)

    async with LoopbackAldea(3, transcript=echo, latency=0.02, plan=plan) as srv:
        engine = await run_engine(srv.endpoints, path, 200, workers=24)
    rows = read(path)
    assert sorted(r["id"] for r in rows) == sorted(f"s{i}" for i in range(200))
    for r in rows:
        assert r["status"] == "ok" and r["pred_text"] == f"echo audio-{r['id'][1:]}"
        assert r["text"] == f"ref {r['id'][1:]}" and r["attempts"] == 1
    assert engine.stats.ok == 200 and engine.stats.failed == 0
    # 24 in flight, spread over 3 ports by least-in-flight (8 each: a port's share is what
    # its 8 slots complete, even in expectation; the bound is wide because on a loaded machine
    # one port's replies can be read later than another's, and one-sided picking fails it by far)
    assert srv.max_in_flight == 24
    assert all(abs(c - 200 / 3) <= 0.3 * 200 / 3 for c in srv.count.values()), srv.count


async def test_transient_errors_are_retried_honouring_retry_after(tmp_path: Path) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        if body == b"audio-0" and not getattr(plan, "done0", False):
            plan.done0 = True  # type: ignore[attr-defined]
            return Action(status=429, headers={"Retry-After": "1"})
        if body == b"audio-1" and getattr(plan, "fails1", 0) < 2:
            plan.fails1 = getattr(plan, "fails1", 0) + 1  # type: ignore[attr-defined]
            return Action(status=503)
        return Action()

    path = tmp_path / "r.jsonl"
    t0 = time.monotonic()
    async with LoopbackAldea(1, plan=plan) as srv:
        engine = await run_engine(srv.endpoints, path, 5)
    rows = {r["id"]: r for r in read(path)}
    assert rows["s0"]["status"] == "ok" and rows["s0"]["attempts"] == 2
    assert rows["s1"]["status"] == "ok" and rows["s1"]["attempts"] == 3
    assert time.monotonic() - t0 >= 1.0  # the server said 1 s
    assert engine.stats.retries == 3
    assert engine.stats.errors_by_kind == {"rate_limited": 1, "server_error": 2}


async def test_permanent_errors_are_not_retried(tmp_path: Path) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=400, body=b"unsupported audio") if body == b"audio-2" else Action()

    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, plan=plan) as srv:
        await run_engine(srv.endpoints, path, 4)
    row = {r["id"]: r for r in read(path)}["s2"]
    assert row["status"] == "failed" and row["attempts"] == 1 and row["pred_text"] == ""
    assert row["error_kind"] == "bad_request" and row["error"] == "HTTP 400: unsupported audio"
    assert sum(1 for s in srv.seen if s.body == b"audio-2") == 1


async def test_retries_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, plan=lambda p, n, b: Action(status=502)) as srv:
        engine = await run_engine(
            srv.endpoints, path, 2, opts={"max_retries": 2}, pool_kw={"rest_s": 0.01}
        )
    rows = read(path)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert {r["attempts"] for r in rows} == {3}
    assert len(srv.seen) == 6
    assert engine.stats.failed_by_kind == {"server_error": 2}


async def test_hung_requests_time_out_and_are_retried(tmp_path: Path) -> None:
    plan = lambda p, n, b: Action(hang=True) if n == 1 else Action()  # noqa: E731
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, plan=plan) as srv:
        await run_engine(srv.endpoints, path, 3, workers=1, opts={"timeout": 0.3})
    rows = read(path)
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 3
    assert sorted(r["attempts"] for r in rows) == [1, 1, 2]


async def test_connection_resets_and_torn_bodies_are_retried(tmp_path: Path) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        if n == 1:
            return Action(reset=True)
        if n == 2:
            return Action(body=b'{"text": "to')
        return Action()

    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, plan=plan) as srv:
        engine = await run_engine(srv.endpoints, path, 2, workers=1)
    assert [r["status"] for r in read(path)] == ["ok", "ok"]
    assert engine.stats.errors_by_kind.keys() == {"connection", "bad_response"}


async def test_dead_endpoint_work_moves_to_the_others(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(2, latency=0.01) as srv:
        endpoints = f"{srv.endpoints} 127.0.0.1:{closed_port()}"
        engine = await run_engine(endpoints, path, 120, workers=12, pool_kw={"rest_s": 5.0})
    rows = read(path)
    assert len(rows) == 120 and all(r["status"] == "ok" for r in rows)
    dead = engine.pool.endpoints[2]
    # rested after 3 failures (plus the few already in flight), never probed within 5 s
    assert dead.errors == dead.requests <= 3 + dead.capacity
    assert dead.rested_until > 0


async def test_short_and_broken_clips_are_recorded_without_requests(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1) as srv:
        await run_engine(srv.endpoints, path, 0, source=samples(5, short={1}, broken={3}))
    rows = {r["id"]: r for r in read(path)}
    assert rows["s1"]["status"] == "skipped_short" and rows["s1"]["pred_text"] == "."
    assert rows["s3"]["status"] == "failed" and rows["s3"]["error_kind"] == "bad_audio"
    assert rows["s3"]["error"] == "cannot decode audio: garbage"
    assert len(srv.seen) == 3


async def test_rejected_key_stops_the_run_and_records_nothing_for_it(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(
        1, plan=lambda p, n, b: Action(status=401, body=b"invalid key")
    ) as srv:
        engine = await run_engine(srv.endpoints, path, 500, workers=4)
    assert engine.fatal is not None and engine.fatal.kind == "auth"
    assert read(path) == []
    assert len(srv.seen) <= 8  # stopped at once, not 500 requests


async def test_stop_lets_requests_in_flight_finish_and_takes_no_new_work(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, latency=0.5) as srv:
        engine = await run_engine(srv.endpoints, path, 100, workers=10, stop_after=0.2)
    rows = read(path)
    assert len(rows) == 10 and all(r["status"] == "ok" for r in rows)  # the 10 in flight
    assert len(srv.seen) == 10
    assert engine.stats.interrupted == "SIGINT"


async def test_stop_after_grace_cancels_and_writes_nothing_half_done(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with LoopbackAldea(1, latency=5.0) as srv:
        t0 = time.monotonic()
        await run_engine(
            srv.endpoints, path, 100, workers=10, stop_after=0.2, opts={"grace_s": 0.3}
        )
        assert time.monotonic() - t0 < 2.0
    assert read(path) == []


@pytest.mark.parametrize("workers", [1, 50])
async def test_in_flight_never_exceeds_max_workers(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "r.jsonl"
    # latency long enough that every worker is in a request at once, even on a busy CI box
    async with LoopbackAldea(4, latency=0.2) as srv:
        await run_engine(srv.endpoints, path, 3 * workers, workers=workers)
    assert srv.max_in_flight == workers
    assert len(read(path)) == 3 * workers
