"""Pacing end to end: `--rps` per endpoint, `ALDEA_RPS`, and a global `--max_rps`, through the
real CLI against a loopback server.

A token bucket lets through at most `capacity + rate × t` requests in any span of t seconds
(capacity = one second of rate). That bound is checked over every span of the times the
client's own results lines say each request left the limiter (`t_sent`: stamped right after
the bucket's take, with no await in between, so it is the bucket's decision and not a
scheduler's). The server's arrival times are not used for the bound: on a busy machine the
server's loop reads requests late and stamps several at once (CI once saw 17 arrivals in 48 ms
from a limiter that released them over 130 ms), which says nothing about the limiter. The
server still has to have seen exactly the requests the lines say. The bounds are functional
checks, not performance claims: a broken or absent limiter fails them by far.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .faultkit import dataset_fixture, finish, ledger, results_file, run_args, server, start, url
from .support import cli_env

SLACK = 1  # the stamp follows the take by microseconds (another thread may hold the GIL)


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


def releases(lines: list[dict], port: int | None = None) -> list[float]:
    """When each request left the limiter, by the client's clock (of one endpoint, if given)."""
    return [r["t_sent"] for r in lines if port is None or r["endpoint"] == url(port)]


async def run(
    esb: Path, tmp_path: Path, ports: int, *flags: str | int, **env: str
) -> tuple[list[dict], list[int]]:
    """The run's 40 lines (each sent once) and the server's ports."""
    async with server(ports) as srv:
        args = run_args(esb, srv.endpoints, tmp_path, "--max_workers", 40, *flags)
        code, _, err = await finish(await start(args, env=cli_env(**env)))
        assert code == 0, err
    lines = list(ledger(results_file(esb, tmp_path)).values())
    assert len(lines) == 40 and all(r["attempts"] == 1 for r in lines)
    # what the lines say was sent is what the server saw, endpoint by endpoint
    for port in srv.ports:
        assert sum(r["endpoint"] == url(port) for r in lines) == srv.count[port]
    return lines, srv.ports


async def test_rps_paces_each_endpoint(esb: Path, tmp_path: Path) -> None:
    lines, ports = await run(esb, tmp_path, 2, "--rps", 8)
    for port in ports:
        times = releases(lines, port)
        assert len(times) >= 15  # both endpoints took a share
        check_paced(times, 8)
    # two endpoints at 8/s each: more went in some span than one bucket of 8/s allows
    with pytest.raises(AssertionError):
        check_paced(releases(lines), 8)


async def test_aldea_rps_from_the_environment(esb: Path, tmp_path: Path) -> None:
    lines, _ = await run(esb, tmp_path, 1, ALDEA_RPS="12")
    check_paced(releases(lines), 12)


async def test_rps_flag_beats_aldea_rps(esb: Path, tmp_path: Path) -> None:
    lines, _ = await run(esb, tmp_path, 1, "--rps", 100, ALDEA_RPS="2")
    check_paced(releases(lines), 100)
    with pytest.raises(AssertionError):  # at ALDEA_RPS=2 the 40 would have taken 19 s
        check_paced(releases(lines), 2)


async def test_max_rps_caps_the_total_over_all_endpoints(esb: Path, tmp_path: Path) -> None:
    lines, ports = await run(esb, tmp_path, 3, "--max_rps", 15)
    assert all(releases(lines, port) for port in ports)  # every endpoint took a share
    check_paced(releases(lines), 15)
