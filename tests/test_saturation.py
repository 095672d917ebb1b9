"""Saturation honesty: the client's own loop lag and the client-bound verdict, percentiles
with their validity, and the steady-state throughput beside the whole run's.

The verdict is checked on the real engine against a real loopback server, with the client's
loop made busy on purpose (a callback that holds it 40 ms of every 50 ms, what a client out
of CPU looks like). The statistics are deterministic functions, checked exactly.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.engine.stats import RunStats, needed_for_bound, percentile_bounds
from asyncbench.reporting.saturation import (
    Warmup,
    client_line,
    parse_warmup,
    saturation_lines,
    saturation_section,
    steady_throughput,
    validity_line,
)

from .inproc import Background, CappedAldea, cli, one_error_line
from .loopback import LoopbackAldea
from .test_engine import run_engine

# --------------------------------------------------------------------------- the verdict


def test_a_busy_client_loop_is_called_client_bound(tmp_path: Path) -> None:
    async def go(endpoints: str) -> RunStats:
        loop = asyncio.get_running_loop()
        holding = {"on": True}

        def block() -> None:  # the client's loop has no time left
            if holding["on"]:
                time.sleep(0.04)
                loop.call_later(0.01, block)

        loop.call_soon(block)
        engine = await run_engine(endpoints, tmp_path / "r.jsonl", 80, workers=2)
        holding["on"] = False
        return engine.stats

    # the server runs on a loop of its own: only the client's is held
    with Background(LoopbackAldea(latency=0.02)) as srv:
        stats = asyncio.run(go(srv.endpoints))
    assert stats.ok == 80
    section = saturation_section(stats)
    assert section["client_bound"] is True, (section, stats.wall_s, sorted(stats.latencies)[20])
    lag = section["loop_lag_ms"]
    assert lag["n"] >= 10 and lag["p99"] >= 10 and lag["max"] <= 1000 * stats.wall_s
    line = client_line(section)
    assert re.fullmatch(
        r"client-bound: loop lag p99 \d+ ms \(max \d+ ms\), loop thread on the CPU \d+ % of "
        r"the time; latency includes up to \d+ ms of client delay and fewer requests were in "
        r"flight than it seems; try --processes 2",
        line,
    ), line


def test_a_loop_with_no_idle_time_is_client_bound(tmp_path: Path) -> None:
    """A client whose loop computes without pause (short callbacks, so its ticks are barely
    late when the machine is quiet) is at its limit too: the loop thread's CPU share says so.
    On a busy machine the spinning thread gets less CPU but its ticks come later: the
    verdict holds either way."""

    async def go(endpoints: str) -> RunStats:
        loop = asyncio.get_running_loop()
        holding = {"on": True}

        def spin() -> None:  # 2 ms of CPU, then straight back in the queue
            end = time.perf_counter() + 0.002
            while time.perf_counter() < end:
                pass
            if holding["on"]:
                loop.call_soon(spin)

        loop.call_soon(spin)
        engine = await run_engine(endpoints, tmp_path / "r.jsonl", 60, workers=2)
        holding["on"] = False
        return engine.stats

    with Background(LoopbackAldea(latency=0.05)) as srv:
        stats = asyncio.run(go(srv.endpoints))
    assert stats.ok == 60
    section = saturation_section(stats)
    assert section["client_bound"] is True, section
    assert section["loop_busy"]["n"] >= 5


def test_verdict_needs_lag_large_in_itself_and_against_latency() -> None:
    def verdict(lags_ms: list[float], latency_s: float) -> bool:
        stats = RunStats(loop_lags=[x / 1000 for x in lags_ms], latencies=[latency_s] * 50)
        return bool(saturation_section(stats)["client_bound"])

    assert verdict([38.0] * 100, 0.055)  # the 0.02 s server seen as 55 ms
    assert not verdict([2.0] * 100, 0.055)  # a healthy loop
    assert not verdict([15.0] * 100, 5.0)  # 15 ms on 5 s requests: noise, not the bottleneck
    healthy = saturation_section(
        RunStats(loop_lags=[0.001] * 30, loop_busy=[0.3] * 30, latencies=[0.1] * 30)
    )
    assert client_line(healthy) == (
        "client: not the bottleneck (loop lag p50 1.0 ms, p99 1.0 ms, max 1.0 ms, loop thread "
        "on the CPU 30 % of the time; sends late by p99 n/a ms)"
    )
    # no late tick, but no idle time either for most of the run: at its limit
    busy = RunStats(loop_lags=[0.002] * 30, loop_busy=[0.97] * 20 + [0.2] * 10)
    assert saturation_section(busy)["client_bound"] is True
    half = RunStats(loop_lags=[0.002] * 30, loop_busy=[0.97] * 10 + [0.2] * 20)
    assert saturation_section(half)["client_bound"] is False
    assert client_line(saturation_section(RunStats())) == (
        "client: no loop-lag samples (the run was shorter than one tick of 0.1 s)"
    )


def test_run_summary_carries_the_client_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`client_bound` and `loop_lag_ms` {p50, p99, max} in .summary.json, for the report."""
    import json

    from .support import make_dataset

    esb = make_dataset(tmp_path / "esb", {("ami", "test"): 6}, fmt="wav", seconds=0.3)
    with Background(CappedAldea(capacity=2, service_s=0.05)) as srv:
        code, _, err = cli(
            capsys,
            "run",
            *("--model_name", "aldea/default", "--dataset", "ami", "--dataset_path", esb),
            *("--aldea_endpoints", srv.endpoints, "--results_dir", tmp_path / "results"),
            *("--no_progress", "--warmup", "2"),
        )
    assert code == 0, err
    summary = json.loads(next((tmp_path / "results").glob("*.summary.json")).read_text())
    assert isinstance(summary["client_bound"], bool)
    assert set(summary["loop_lag_ms"]) >= {"p50", "p99", "max"}
    assert summary["throughput"]["warmup"] == {"seconds": None, "requests": 2}
    assert summary["latency_validity"]["p99"]["needed"] == 368
    assert re.search(r"^client(-bound)?: ", err, re.MULTILINE)
    assert "p99 " in err and "is not a p99 from 6 requests (needs 368, 362 more)" in err
    assert re.search(
        r"^throughput: [\d.]+ ok samples/s over the whole run(, 95 % interval \[[\d.]+, [\d.]+\]"
        r"| \(no 95 % interval: that takes \d+ samples\)); ",
        err,
        re.MULTILINE,
    )
    interval = summary["throughput"]["whole_interval"]
    assert interval["n"] == 6 and set(interval) >= {"lo", "hi", "batches", "needed"}


# --------------------------------------------------------------------------- percentiles


def binomial_cdf(k: int, n: int, q: float) -> float:
    return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize(("n", "pct"), [(40, 50), (40, 90), (200, 90), (500, 99), (1000, 99)])
def test_percentile_interval_covers_with_95_percent(n: int, pct: float) -> None:
    """The interval's ranks are the binomial's 2.5 % and 97.5 % points, exactly."""
    ordered = [float(i) for i in range(1, n + 1)]  # value = rank
    b = percentile_bounds(ordered, pct)
    q = pct / 100
    lo, hi = int(b["lo"]), int(b["hi"])  # type: ignore[arg-type]
    # P(x_(lo) <= quantile <= x_(hi)) = P(lo <= B <= hi - 1), B ~ Bin(n, q)
    coverage = binomial_cdf(hi - 1, n, q) - binomial_cdf(lo - 1, n, q)
    assert coverage >= 0.95
    # and no narrower pair of ranks on either side would do
    assert binomial_cdf(hi - 2, n, q) < 0.975 and binomial_cdf(lo, n, q) > 0.025
    assert b["needed"] is None


def test_a_p99_from_40_requests_is_not_a_p99() -> None:
    b = percentile_bounds([0.01 * i for i in range(40)], 99)
    assert b["hi"] is None and b["needed"] == 368 and b["n"] == 40
    assert needed_for_bound(0.99) == 368 and needed_for_bound(0.90) == 36
    # 0.99^367 > 2.5 %: with one request fewer, the largest value may still be below the p99
    assert 0.99**367 > 0.025 >= 0.99**368
    section = saturation_section(RunStats(latencies=[0.01 * i for i in range(40)]))
    line = validity_line(section)
    assert line is not None
    assert "p99 0.386 s is not a p99 from 40 requests (needs 368, 328 more)" in line
    assert line.startswith("latency 95 % intervals: p50 0.195 s [0.130, 0.260]; p90 0.351 s [")


# --------------------------------------------------------------------------- throughput


def test_steady_throughput_leaves_out_warmup_and_drain() -> None:
    # 0-2 s: a slow ramp (1 per second); 2-12 s: 10 per second; drain after 12 s: 1 more
    t0 = 1000.0
    done = [t0 + 0.5, t0 + 1.5] + [t0 + 2 + i / 10 for i in range(1, 101)] + [t0 + 13.0]
    stats = RunStats(started=t0, ended=t0 + 13.0, done_at=done, handed_out_at=[t0 + 12.0])
    whole = steady_throughput(stats, Warmup())
    assert whole["whole_per_s"] == pytest.approx(103 / 13)
    assert whole["steady_per_s"] == pytest.approx(102 / 12)  # drain left out, ramp kept
    by_time = steady_throughput(stats, Warmup(seconds=2.0))
    assert by_time["steady_per_s"] == pytest.approx(100 / 10) and by_time["steady_n"] == 100
    by_count = steady_throughput(stats, Warmup(requests=2))
    assert by_count["steady_per_s"] == pytest.approx(100 / 10.5)
    # the whole run's 95 % interval, by batch means (no closed loop given): 20 batches of 5
    # (the stats record no busy time, so nothing was in flight on average). The ramp-up and
    # drain are in the first and last batch; those between finish exactly 10 per second, so
    # nothing about this run is uncertain
    interval = whole["whole_interval"]
    assert (interval["batches"], interval["batch_size"], interval["n"]) == (20, 5, 103)
    assert interval["lo"] == pytest.approx(103 / 13) == interval["hi"]
    lines = saturation_lines(saturation_section(stats, Warmup(seconds=2.0)))
    assert lines[-1] == (
        "throughput: 7.92 ok samples/s over the whole run, 95 % interval [7.92, 7.92]; "
        "10.00/s steady (100 samples in 10.0 s, warmup 2 s and drain left out)"
    )
    # jitter between the ramp-up and the drain widens it
    done[44] += 0.05  # batch edges: the 5th completion of a batch
    done[64] -= 0.07
    interval = steady_throughput(stats, Warmup())["whole_interval"]
    assert interval["lo"] < 103 / 13 < interval["hi"]


def test_a_short_run_says_how_many_samples_its_interval_takes() -> None:
    t0 = 50.0
    stats = RunStats(started=t0, ended=t0 + 1.0, done_at=[t0 + 0.1 * i for i in range(1, 9)])
    stats.busy_s = 3.0  # 3 requests in flight on average: batch means need 5 batches of 3
    lines = saturation_lines(saturation_section(stats))
    assert lines[-1] == (
        "throughput: 8.00 ok samples/s over the whole run (no 95 % interval: that takes 15 "
        "samples); 8.00/s steady (8 samples in 1.0 s, warmup none and drain left out)"
    )
    # a closed loop of 4 needs 3 rounds of requests per slot
    stats.latencies = [0.1] * 8
    line = saturation_lines(saturation_section(stats, slots=4))[-1]
    assert "(no 95 % interval: that takes 12 samples)" in line


@pytest.mark.parametrize(
    ("spec", "warmup"),
    [
        (None, Warmup()),
        ("5s", Warmup(seconds=5.0)),
        ("0.5s", Warmup(seconds=0.5)),
        ("200", Warmup(requests=200)),
        ("0", Warmup()),
    ],
)
def test_parse_warmup(spec: str | None, warmup: Warmup) -> None:
    assert parse_warmup(spec) == warmup


@pytest.mark.parametrize("spec", ["x", "5 m", "-3", "1e3", "5s\x1b[2J"])
def test_bad_warmup_is_one_line(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError):
        parse_warmup(spec)
    code, _, err = cli(
        capsys,
        "run",
        *("--model_name", "aldea/default", "--dataset", "ami", "--dataset_path", tmp_path),
        *("--aldea_endpoints", "127.0.0.1:9", "--warmup", spec),
    )
    assert code == 2
    assert one_error_line(err) == (
        f"error: --warmup {spec!r}: give seconds such as 5s, or a number of requests such as 200"
    )


# --------------------------------------------------------------------------- written


def test_latency_is_timed_from_when_the_request_was_written(tmp_path: Path) -> None:
    """The client waits 0.3 s of its own before each request goes out (a hook on request
    start, where a busy client loses its time): that wait is not the endpoint's latency."""
    import aiohttp
    import orjson

    from asyncbench.core.endpoint_spec import parse_endpoints
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.pipeline import Engine, EngineOptions
    from asyncbench.engine.written import request_class
    from asyncbench.providers.aldea import AldeaProvider
    from asyncbench.providers.base import ProviderSettings
    from asyncbench.results.store import ResultWriter

    from .test_engine import prepare, samples

    wait = 0.3

    async def slow_start(*_: object) -> None:
        await asyncio.sleep(wait)

    client_wait = aiohttp.TraceConfig()
    client_wait.on_request_start.append(slow_start)
    path = tmp_path / "r.jsonl"

    async def go(endpoints: str) -> None:
        provider = AldeaProvider(ProviderSettings(model="default", endpoints=endpoints))
        urls = parse_endpoints(endpoints, "/asr/transcribe")
        async with aiohttp.ClientSession(
            trace_configs=[client_wait], request_class=request_class()
        ) as session:

            async def transcribe(endpoint: str, payload: object) -> str:
                return await provider.transcribe(session, endpoint, payload)  # type: ignore[arg-type]

            engine = Engine(
                pool=EndpointPool(urls, 4),
                transcribe=transcribe,
                prepare=prepare,
                writer=ResultWriter(path),
                options=EngineOptions(max_workers=4),
                transport_errors=(aiohttp.ClientError, OSError),
            )
            await engine.run(samples(8))

    with Background(LoopbackAldea(latency=0.05)) as srv:
        asyncio.run(go(srv.endpoints))
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    for r in rows:
        # the attempt's whole span (send decision to answer) holds the 0.3 s wait; the
        # latency recorded does not (1 ms for the two clocks' difference)
        span = r["t_end"] - r["t_sent"]
        assert span >= wait and r["time"] <= span - wait + 0.001, r
        assert r["time"] >= 0.05  # the server's own latency is all still there
