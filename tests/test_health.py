"""Endpoint health with many endpoints, through the real CLI.

Nine endpoints: three fast, one slow, one refusing connections from the start, one that
accepts connections and never answers, one that turns to 503 on every call after its first 20
answers, one whose server is shut down after 20 answers, and one that answers 503 for its first
0.3 s and recovers. The run must complete with every sample once, the broken endpoints must be
rested after a few consecutive failures and probed again later, their share of the work must
go to the others, the slow one must get less, and the end-of-run table must say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from asyncbench.engine.endpoints import EndpointPool

from .faultkit import (
    by_sample,
    dataset_fixture,
    endpoint_table,
    finish,
    ledger,
    number_of,
    numbered_texts,
    results_file,
    run_args,
    sample_id,
    server,
    start,
    url,
)
from .loopback import Action, closed_port, free_port

N = 600
PER_ENDPOINT = 4
REST_S = 2.0  # the pool's first rest


esb = dataset_fixture("health", N)


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))
        s.listen(256)
        yield s.getsockname()[1]


def rest_gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times) if b - a >= REST_S * 0.9]


async def test_dead_and_slow_endpoints_while_the_run_completes(esb: Path, tmp_path: Path) -> None:
    def dies(port: int, n: int, body: bytes) -> Action:
        return Action(delay=0.08) if n <= 20 else Action(status=503, body=b"overloaded")

    warming: list[float] = []  # when its first request came

    def recovers(port: int, n: int, body: bytes) -> Action:
        warming.append(time.monotonic())
        if warming[-1] - warming[0] < 0.3:
            return Action(status=503, body=b"warming up")
        return Action(delay=0.08)

    doomed = server(1, latency=0.08)
    closing: list[asyncio.Task[None]] = []

    def shut_down_after_20(port: int, n: int, body: bytes) -> Action:
        if n == 20:
            closing.append(asyncio.create_task(close_soon()))
        return Action()

    async def close_soon() -> None:
        await asyncio.sleep(0.05)
        await doomed.__aexit__(None, None, None)

    doomed.plan = shut_down_after_20
    refused = closed_port()
    path = results_file(esb, tmp_path)
    with black_hole() as hole:
        async with (
            server(3, latency=0.08) as fast,
            server(1, latency=0.5) as slow,
            server(1, plan=dies) as dying,
            server(1, plan=recovers) as recovering,
        ):
            await doomed.__aenter__()
            endpoints = {
                "fast": fast.ports,
                "slow": slow.ports,
                "refused": [refused],
                "hole": [hole],
                "dies": dying.ports,
                "doomed": doomed.ports,
                "recovers": recovering.ports,
            }
            spec = " ".join(f"127.0.0.1:{p}" for ports in endpoints.values() for p in ports)
            args = run_args(
                esb,
                spec,
                tmp_path,
                "--max_workers",
                9 * PER_ENDPOINT,
                "--per_endpoint_concurrency",
                PER_ENDPOINT,
                "--timeout",
                2,
            )
            code, _, err = await finish(await start(args))
            await asyncio.gather(*closing)
    assert code == 0, err

    # the run completed: every sample once, with its own transcript
    rows = ledger(path)
    texts = numbered_texts(N)
    assert sorted(rows) == [sample_id(i) for i in range(N)]
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows.values())
    assert all(r["pred_text"] == texts[int(k[-5:])] for k, r in rows.items())
    assert (
        f"warning: endpoint not reachable now, will be retried: 127.0.0.1:{refused}: "
        "Connection refused" in err
    )

    table = endpoint_table(err)
    row = {name: [table[url(p)] for p in ports] for name, ports in endpoints.items()}
    assert len(table) == 9, err

    # what the servers saw is what the table says
    for name, srv in (("fast", fast), ("slow", slow), ("dies", dying), ("recovers", recovering)):
        for r, p in zip(row[name], srv.ports, strict=True):
            assert r.requests == srv.count[p], (name, r)

    # dead from the start: rested after 3 failures (4 were already on their way), then only
    # a probe now and then
    for name, kind in (("refused", "connection"), ("hole", "timeout")):
        (r,) = row[name]
        assert r.errors == r.requests and 3 <= r.requests <= PER_ENDPOINT + 4, (name, r)
        assert r.kinds == f"{kind} {r.requests}"

    # died mid-run: 20 answers, then a few failures (answers still on their way can reset the
    # count of consecutive failures, hence up to 3 per slot), a rest of 2 s that the failures
    # already in flight do not stretch, and a probe that fails
    (r,) = row["dies"]
    failures = [s.at for s in dying.seen[20:]]
    assert r.requests - r.errors == 20 and r.errors == len(failures)
    assert 3 <= len(failures) <= 3 * PER_ENDPOINT + 4, failures
    rests = rest_gaps(failures)
    assert rests and rests[0] < 2 * REST_S * 0.9, rests
    (r,) = row["doomed"]
    assert r.requests - r.errors >= 16 and 1 <= r.errors <= 3 * PER_ENDPOINT + 4, r

    # recovered: its first burst failed, it rested, a probe found it well, work came back
    (r,) = row["recovers"]
    assert 3 <= r.errors <= 3 * PER_ENDPOINT + 4 and r.requests - r.errors >= 20, r
    times = [s.at for s in recovering.seen]  # failures first, then the probe
    assert times[r.errors] - times[r.errors - 1] >= REST_S * 0.9

    # the slow endpoint got less work; the fast ones took what the dead ones could not
    fast_mean = sum(r.requests for r in row["fast"]) / 3
    (r,) = row["slow"]
    assert r.requests < 0.5 * fast_mean and r.mean_latency is not None and r.mean_latency >= 0.45
    assert all(f.mean_latency is not None and f.mean_latency < 0.45 for f in row["fast"])


# -- the pool rules the run above relies on, one by one ----------------------------------------


async def test_a_samples_retry_avoids_the_endpoints_that_failed_it_while_another_is_up() -> None:
    pool = EndpointPool(["dead", "good"], per_endpoint=2)
    dead, good = pool.endpoints
    assert await pool.acquire() is dead
    pool.release(dead, ok=False, latency=0.0, kind="connection")
    assert await pool.acquire() is good  # good now has 1 in flight, dead 0
    # least-in-flight alone would pick the dead endpoint again; this sample's retry does not
    assert await pool.acquire(avoid=[dead]) is good
    # both slots of "good" busy: the retry waits for one rather than going back to "dead"
    waiter = asyncio.create_task(pool.acquire(avoid=[dead]))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    pool.release(good, ok=True, latency=0.1)
    assert await asyncio.wait_for(waiter, 1) is good
    # a sample that failed everywhere may go anywhere
    assert await pool.acquire(avoid=[dead, good]) is dead


async def test_an_avoided_endpoint_is_used_when_every_other_one_rests() -> None:
    pool = EndpointPool(["a", "b"], per_endpoint=5, fail_threshold=1, rest_s=30)
    a, b = pool.endpoints
    assert await pool.acquire() is a
    assert await pool.acquire() is b
    pool.release(b, ok=False, latency=0.0, kind="server_error")  # b rests for 30 s
    assert await asyncio.wait_for(pool.acquire(avoid=[a]), 1) is a


async def test_failures_in_flight_do_not_stretch_a_rest_a_failed_probe_doubles_it() -> None:
    pool = EndpointPool(["e"], per_endpoint=5, fail_threshold=3, rest_s=0.2)
    (ep,) = pool.endpoints
    for _ in range(5):
        await pool.acquire()
    for _ in range(3):
        pool.release(ep, ok=False, latency=0.0, kind="connection")
    rested_until = ep.rested_until
    assert ep.rest_s == 0.2
    for _ in range(2):  # the other two were on their way: they fail too
        pool.release(ep, ok=False, latency=0.0, kind="connection")
    assert (ep.rest_s, ep.rested_until) == (0.2, rested_until)
    probe = await asyncio.wait_for(pool.acquire(), 1)  # after the rest: one probe
    assert probe is ep and ep.probing
    pool.release(ep, ok=False, latency=0.0, kind="connection")
    assert ep.rest_s == 0.4


async def test_a_request_sent_before_the_rest_does_not_end_the_probe() -> None:
    """Requests already on their way when an endpoint began to rest come back while its probe is
    out; they must not let a second probe through (a flag cleared by any release did)."""
    pool = EndpointPool(["e", "other"], per_endpoint=5, fail_threshold=3, rest_s=0.05)
    ep, other = pool.endpoints
    other.rested_until = float("inf")  # keep the pool's choice on `e` alone
    for _ in range(5):
        assert await pool.acquire() is ep
    for _ in range(3):
        pool.release(ep, ok=False, latency=0.0, kind="connection")
    held = asyncio.Event()
    done = asyncio.Event()

    async def probe() -> None:
        assert await pool.acquire() is ep
        assert pool.is_probe(ep)
        held.set()
        await done.wait()
        pool.release(ep, ok=False, latency=0.0, kind="connection")

    task = asyncio.create_task(probe())
    await asyncio.wait_for(held.wait(), 5)
    assert not pool.is_probe(ep)  # the probe is the other task's, not this one's
    pool.release(ep, ok=False, latency=0.0, kind="connection")  # one sent before the rest
    assert ep.probing
    second = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.2)  # well past the rest: still only the one probe out
    assert not second.done()
    done.set()
    await task
    assert not ep.probing
    second.cancel()


async def test_a_probe_is_free_only_while_another_endpoint_answers() -> None:
    pool = EndpointPool(["dead", "good"], per_endpoint=2, fail_threshold=1, rest_s=30)
    dead, good = pool.endpoints
    assert pool.others_up(dead) and pool.others_up(good)
    assert await pool.acquire() is dead
    pool.release(dead, ok=False, latency=0.0, kind="connection")
    assert pool.others_up(dead) and not pool.others_up(good)
    assert await pool.acquire() is good
    pool.release(good, ok=False, latency=0.0, kind="connection")
    assert not pool.others_up(dead)  # both failing: a probe now is an ordinary attempt


probe_esb = dataset_fixture("probe", 160)


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_resting_endpoints_probe_costs_its_sample_no_retry(
    probe_esb: Path, tmp_path: Path, processes: int
) -> None:
    """One endpoint reads every request and never answers, one answers in 0.2 s; no retries.

    Only the requests sent to the hung endpoint before it was known to fail may fail. Each
    later request it gets is a probe on its own schedule (its rest doubling), carried by a real
    sample (no extra request: every sample reached the servers exactly `attempts` times), and
    that sample goes on to the live endpoint with its retries intact. Each of 2 shards has its
    own pool, so its own first failures and its own probes."""
    n = 160
    hung = server(1, plan=lambda port, k, body: Action(hang=True))
    live = server(1, latency=0.2)
    path = results_file(probe_esb, tmp_path)
    async with hung, live:
        spec = f"{hung.endpoints} {live.endpoints}"
        args = run_args(
            probe_esb,
            spec,
            tmp_path,
            "--max_workers",
            2 * PER_ENDPOINT,
            "--per_endpoint_concurrency",
            PER_ENDPOINT,
            "--timeout",
            1,
            "--max_retries",
            0,
            "--max_failed_pct",
            50,
            "--processes",
            processes,
        )
        code, _, err = await finish(await start(args))
    assert code == 0, err
    rows = ledger(path)
    assert sorted(rows) == [sample_id(i) for i in range(n)]

    seen = {k: len(v) for k, v in by_sample(hung.seen + live.seen).items()}
    assert all(seen[int(k[-5:])] == r["attempts"] for k, r in rows.items()), err

    # every request the hung endpoint got either failed its sample before the endpoint was
    # known to fail (at most its slots plus the failures that rest it, per shard), or was a
    # probe whose sample then went to the live endpoint with its one attempt intact
    outcomes = [rows[sample_id(number_of(s.body) or 0)] for s in hung.seen]
    early = [r for r in outcomes if r["status"] != "ok"]
    probes = [r for r in outcomes if r["status"] == "ok"]
    assert probes and len(early) <= 2 * PER_ENDPOINT * processes, outcomes
    assert all(r["attempts"] == 1 and r["endpoint"] == url(hung.ports[0]) for r in early)
    live_url = url(live.ports[0])
    assert all((r["attempts"], r["endpoint"]) == (2, live_url) for r in probes), probes
    failed = sorted(k for k, r in rows.items() if r["status"] != "ok")
    assert failed == sorted(r["id"] for r in early)
    if processes == 1:  # one pool: each probe after a rest at least as long as the last
        rests = rest_gaps([s.at for s in hung.seen])
        assert len(rests) == len(probes) and all(b >= a * 0.9 for a, b in pairwise(rests))


async def test_resting_endpoints_are_probed_each_on_its_own_schedule() -> None:
    """Three endpoints fail together: when their rests end, each gets its own probe at once (not
    one probe for the whole pool), and an endpoint whose probe fails rests twice as long while
    the one whose probe succeeded takes work again."""
    pool = EndpointPool(["a", "b", "c"], per_endpoint=2, fail_threshold=1, rest_s=0.05)
    eps = pool.endpoints
    for ep in eps:
        assert await pool.acquire() is ep
        pool.release(ep, ok=False, latency=0.0, kind="connection")
    assert pool.all_resting()
    async with asyncio.timeout(5):  # not wait_for: the probes are this task's own
        probes = [await pool.acquire() for _ in eps]
    assert sorted(p.url for p in probes) == ["a", "b", "c"] and all(p.probing for p in eps)
    a, b, c = eps
    pool.release(a, ok=True, latency=0.1)
    pool.release(b, ok=False, latency=0.0, kind="connection")
    assert (a.rest_s, b.rest_s, c.rest_s) == (0.0, 0.1, 0.05) and c.probing and not b.probing
    assert await asyncio.wait_for(pool.acquire(), 1) is a  # b rests, c's probe is out
