"""Crash safety: SIGKILL at random moments with hundreds of requests in flight, then resume;
Ctrl-C and SIGTERM with a grace period, and a second signal that stops at once.

The trials are chained on one growing results file (kill, restart, kill...), as a user whose
machine keeps dying would see it: each restart pre-scans what the last one left, repairs a torn
tail and goes on. After every kill the file must hold only whole, distinct, correct lines
(except a torn last one) and nothing finished before may be missing; after the last resume,
every sample of the split is there exactly once with its own transcript.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

from .faultkit import (
    dataset_fixture,
    finish,
    ledger,
    number_of,
    numbered_texts,
    results_file,
    run_args,
    sample_id,
    server,
    start,
    wait_until,
    whole_lines,
)
from .loopback import Action

N = 2400
WORKERS = 300
# answers take 0.5-2.5 s: lines are appended all the time while hundreds wait for theirs
LATENCY = (0.5, 2.5)
SEED = 20261126
KILL_TRIALS = 20  # kills while requests are in flight
STARTUP_TRIALS = 2  # kills at a random moment of start-up (imports, pre-scan, dataset open)


big = dataset_fixture("crash", N)
small = dataset_fixture("signals", 40)


def check_after_kill(path: Path, before: set[str], texts: list[str]) -> tuple[set[str], bool]:
    """Whole lines parse, no id twice, every prediction is the sample's own, nothing lost."""
    rows, tail = whole_lines(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicated line after a kill"
    for r in rows:
        i = int(r["id"].rsplit("-", 1)[1])
        assert r["status"] == "ok" and r["pred_text"] == r["text"] == texts[i], r
    assert before <= set(ids), f"finished lines lost: {sorted(before - set(ids))[:5]}"
    return set(ids), bool(tail)


async def test_sigkill_at_random_moments_then_resume_gives_every_sample_once(
    big: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    moments: list[tuple[str, float]] = [
        ("requests", rng.randint(300, 500)) for _ in range(KILL_TRIALS)
    ]
    for k in sorted(rng.sample(range(len(moments) + STARTUP_TRIALS), STARTUP_TRIALS)):
        moments.insert(k, ("start-up", rng.uniform(0.2, 2.5)))
    texts = numbered_texts(N)
    path = results_file(big, tmp_path)
    done: set[str] = set()
    in_flight_at_kill: list[int] = []
    torn_tails = 0
    fast = [False]

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(delay=0.05 if fast[0] else rng.uniform(*LATENCY))

    async with server(4, plan=plan) as srv:
        args = run_args(big, srv.endpoints, tmp_path, "--max_workers", WORKERS)
        for kind, when in moments:
            seen0 = len(srv.seen)
            proc = await start(args)
            if kind == "start-up":
                await asyncio.sleep(when)
            else:
                # never more requests than samples left, so the kill always comes mid-run
                target = seen0 + min(int(when), N - len(done) - 1)
                await wait_until(lambda t=target: len(srv.seen) >= t, proc, what="requests")
                in_flight_at_kill.append(srv.in_flight)
            proc.kill()
            code, _, err = await finish(proc)
            assert code == -signal.SIGKILL, err
            if kind == "requests" and done:
                assert f"resuming {path}: {len(done)} finished" in err
            done, torn = check_after_kill(path, done, texts)
            torn_tails += torn
        assert len(in_flight_at_kill) == KILL_TRIALS
        fast[0] = True  # the last run only has to finish
        code, _, err = await finish(await start(args))
    assert code == 0, err
    assert len(done) < N  # the final run had work left: every kill came mid-split
    rows = ledger(path)
    assert sorted(rows) == [sample_id(i) for i in range(N)]
    assert all(r["pred_text"] == texts[int(i.rsplit("-", 1)[1])] for i, r in rows.items())
    # hundreds of requests were in flight when the kills came
    print(f"in flight at kill: {in_flight_at_kill}; torn tails repaired: {torn_tails}")
    assert min(in_flight_at_kill) >= 100 and sorted(in_flight_at_kill)[KILL_TRIALS // 2] >= 200


def slow_odd(fast: list[bool]):  # type: ignore[no-untyped-def]
    """Even samples answer in 50 ms, odd ones take a minute (until `fast[0]` is set)."""

    def plan(port: int, n: int, body: bytes) -> Action:
        i = number_of(body)
        return Action(delay=0.05 if fast[0] or (i is not None and i % 2 == 0) else 60.0)

    return plan


async def test_grace_expiry_cancels_slow_requests_and_writes_nothing_half_done(
    small: Path, tmp_path: Path
) -> None:
    fast = [False]
    path = results_file(small, tmp_path)
    async with server(1, plan=slow_odd(fast)) as srv:
        args = run_args(small, srv.endpoints, tmp_path, "--max_workers", 10, "--grace", 1)
        proc = await start(args)
        # every worker ends up stuck on an odd sample
        await wait_until(lambda: srv.in_flight == 10 and len(srv.seen) >= 15, proc, what="stuck")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, _, err = await finish(proc)
        stopped_after = time.monotonic() - t0
        assert code == 130, err
        assert 0.9 <= stopped_after < 6.0  # waited the grace second, then cancelled
        raw = path.read_bytes()
        assert raw.endswith(b"\n")
        rows = ledger(path)
        assert rows and all(int(i[-5:]) % 2 == 0 and r["status"] == "ok" for i, r in rows.items())
        assert f"interrupted by SIGINT: {len(rows)} samples written" in err
        assert "Traceback" not in err
        fast[0] = True
        code, _, err = await finish(await start(args))
    assert code == 0, err
    assert sorted(ledger(path)) == [sample_id(i) for i in range(40)]


async def test_first_signal_finishes_requests_in_flight_and_takes_no_new_work(
    small: Path, tmp_path: Path
) -> None:
    path = results_file(small, tmp_path)
    # the replies wait for the signal: 12 stay in flight however slowly the client sends them
    # (with a fixed latency a reply could come back, and a 13th go out, before the signal)
    gate = asyncio.Event()
    async with server(2, plan=lambda port, n, body: Action(until=gate.wait)) as srv:
        args = run_args(small, srv.endpoints, tmp_path, "--max_workers", 12)
        proc = await start(args)
        await wait_until(lambda: srv.in_flight == 12, proc, what="12 in flight")
        proc.send_signal(signal.SIGTERM)
        # the client is idle (every request waits on the gate), so its loop runs the signal's
        # handler at once; a second leaves it ample room on a loaded machine
        await asyncio.sleep(1.0)
        gate.set()
        code, _, err = await finish(proc)
        assert code == 143, err
        assert len(srv.seen) == 12  # nothing new was sent after the signal
    rows = ledger(path)
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows.values())
    assert "interrupted by SIGTERM: 12 samples written; rerun the same command to resume" in err


async def test_second_signal_stops_at_once(small: Path, tmp_path: Path) -> None:
    path = results_file(small, tmp_path)
    async with server(1, latency=60.0) as srv:
        args = run_args(small, srv.endpoints, tmp_path, "--max_workers", 8, "--grace", 60)
        proc = await start(args)
        await wait_until(lambda: srv.in_flight == 8, proc, what="8 in flight")
        proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.5)
        assert proc.returncode is None  # the first signal waits for the requests in flight
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, _, err = await finish(proc)
        assert code == 130, err
        assert time.monotonic() - t0 < 3.0
    assert not path.exists()  # nothing answered, nothing written: not even an empty file
    assert "interrupted by SIGINT: 0 samples written" in err


def test_a_rewrite_killed_halfway_leaves_the_old_file_and_the_next_one_succeeds(
    tmp_path: Path,
) -> None:
    """The pre-scan rewrites through a temporary file and a rename: a kill in the middle leaves
    a stray half-written `.tmp` beside an intact file, which the next pre-scan overwrites."""
    from asyncbench.results.store import Result, prescan

    path = tmp_path / "r.jsonl"
    ok = Result("a", "ok", 1.0, 0.1, "ref a", "ref a").to_line()
    failed = Result("b", "failed", 1.0, 0.1, "ref b", "", error="HTTP 503").to_line()
    path.write_bytes(ok + failed)
    stray = path.with_name(path.name + ".tmp")
    stray.write_bytes(ok[:10])  # what a kill during the last rewrite left
    state = prescan(path)
    assert state.done_ids == {"a"} and state.failed_dropped == 1
    assert path.read_bytes() == ok and not stray.exists()
