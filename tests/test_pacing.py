"""Pacing end to end: `--rps` per endpoint, `ALDEA_RPS`, and a global `--max_rps`, measured by
the arrival times the server saw.

A token bucket lets through at most `capacity + rate × t` requests in any span of t seconds
(capacity = one second of rate): that bound is checked over every span of the server's
timestamps, with one request of slack for arrivals bunched by the network. The bounds are
functional checks, not performance claims: a broken or absent limiter fails them by far.
"""

from __future__ import annotations

from pathlib import Path

from .faultkit import dataset_fixture, finish, ledger, results_file, run_args, server, start
from .loopback import Seen
from .support import cli_env

SLACK = 1


esb = dataset_fixture("pacing", 40)


def check_paced(times: list[float], rate: float) -> None:
    """At most capacity + rate × t requests in every span [times[i], times[j]], and the whole
    batch took about as long as the rate says it must."""
    times = sorted(times)
    capacity = max(1.0, rate)
    for i in range(len(times)):
        for j in range(i, len(times)):
            span = times[j] - times[i]
            assert j - i + 1 <= capacity + rate * span + SLACK, (i, j, span)
    must_take = (len(times) - capacity) / rate
    assert times[-1] - times[0] >= 0.8 * must_take


def arrivals(seen: list[Seen], port: int | None = None) -> list[float]:
    return [s.at for s in seen if port is None or s.port == port]


async def run(esb: Path, tmp_path: Path, ports: int, *flags: str | int, **env: str) -> list[Seen]:
    async with server(ports) as srv:
        args = run_args(esb, srv.endpoints, tmp_path, "--max_workers", 40, *flags)
        code, _, err = await finish(await start(args, env=cli_env(**env)))
        assert code == 0, err
    path = results_file(esb, tmp_path)
    assert len(ledger(path)) == 40
    return srv.seen


async def test_rps_paces_each_endpoint(esb: Path, tmp_path: Path) -> None:
    seen = await run(esb, tmp_path, 2, "--rps", 8)
    ports = sorted({s.port for s in seen})
    assert len(ports) == 2
    for port in ports:
        times = arrivals(seen, port)
        assert len(times) >= 15  # both endpoints took a share
        check_paced(times, 8)
    # two endpoints at 8/s each: the whole run is faster than one bucket would allow
    total = arrivals(seen)
    assert max(total) - min(total) < (40 - 8) / 8


async def test_aldea_rps_from_the_environment(esb: Path, tmp_path: Path) -> None:
    seen = await run(esb, tmp_path, 1, ALDEA_RPS="12")
    check_paced(arrivals(seen), 12)


async def test_rps_flag_beats_aldea_rps(esb: Path, tmp_path: Path) -> None:
    seen = await run(esb, tmp_path, 1, "--rps", 100, ALDEA_RPS="2")
    times = arrivals(seen)
    assert max(times) - min(times) < 2.0  # at ALDEA_RPS=2 it would take 19 s


async def test_max_rps_caps_the_total_over_all_endpoints(esb: Path, tmp_path: Path) -> None:
    seen = await run(esb, tmp_path, 3, "--max_rps", 15)
    assert len({s.port for s in seen}) == 3
    check_paced(arrivals(seen), 15)
