import asyncio
import re
import time

import pytest

from asyncbench.core.endpoint_spec import normalize_endpoint, parse_endpoints, split_list
from asyncbench.core.errors import ConfigError
from asyncbench.engine.endpoints import EndpointPool

PATH = "/asr/transcribe"


def test_lists_split_on_spaces_commas_and_newlines() -> None:
    assert split_list(" a:1,b:2  c:3 ,\n d:4 ") == ["a:1", "b:2", "c:3", "d:4"]


@pytest.mark.parametrize(
    ("spec", "url"),
    [
        ("127.0.0.1:8800", "http://127.0.0.1:8800/asr/transcribe"),
        ("localhost:8801", "http://localhost:8801/asr/transcribe"),
        ("http://127.0.0.1:8802", "http://127.0.0.1:8802/asr/transcribe"),
        ("http://127.0.0.1:8803/", "http://127.0.0.1:8803/asr/transcribe"),
        ("https://api.aldea.ai/asr/transcribe", "https://api.aldea.ai/asr/transcribe"),
        ("https://api.aldea.ai/transcribe", "https://api.aldea.ai/transcribe"),
        ("stt-api-test.aldea.ai:8824", "http://stt-api-test.aldea.ai:8824/asr/transcribe"),
        ("http://[::1]:8800", "http://[::1]:8800/asr/transcribe"),
    ],
)
def test_endpoint_normalisation(spec: str, url: str) -> None:
    assert normalize_endpoint(spec, PATH) == url


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("127.0.0.1:88x0", "bad endpoint '127.0.0.1:88x0': the port is not a number 1-65535"),
        ("127.0.0.1:70000", "bad endpoint '127.0.0.1:70000': the port is not a number 1-65535"),
        ("ftp://host:21", "bad endpoint 'ftp://host:21': scheme 'ftp' is not http(s)"),
        ("http://:8800", "bad endpoint 'http://:8800': missing or invalid host"),
        ("bad_host!:8800", "bad endpoint 'bad_host!:8800': missing or invalid host"),
    ],
)
def test_bad_endpoint_specs_name_the_entry(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_endpoint(spec, PATH)
    assert str(info.value).startswith(message)
    assert "expected host:port or a URL" in str(info.value)


def test_a_bad_entry_in_a_long_list_is_named() -> None:
    with pytest.raises(ConfigError, match=re.escape("bad endpoint '127.0.0.1:88o1'")):
        parse_endpoints("127.0.0.1:8800 127.0.0.1:88o1 127.0.0.1:8802", PATH)


def test_empty_list_is_an_error() -> None:
    with pytest.raises(ConfigError, match="the endpoint list is empty"):
        parse_endpoints("  , ", PATH)


async def test_least_in_flight_with_round_robin_ties() -> None:
    pool = EndpointPool(["a", "b", "c"], per_endpoint=10)
    picks = [(await pool.acquire()).url for _ in range(6)]
    assert picks == ["a", "b", "c", "a", "b", "c"]
    # free two slots on "b": it is now least loaded and gets the next two
    b = pool.endpoints[1]
    pool.release(b, ok=True, latency=0.1)
    pool.release(b, ok=True, latency=0.1)
    assert [(await pool.acquire()).url for _ in range(2)] == ["b", "b"]


async def test_capacity_is_per_endpoint_and_waiters_wake_on_release() -> None:
    pool = EndpointPool(["a", "b"], per_endpoint=1)
    ea, eb = await pool.acquire(), await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    pool.release(eb, ok=True, latency=0.01)
    got = await asyncio.wait_for(waiter, 1)
    assert got is eb
    assert pool.in_flight == 2
    pool.release(ea, ok=True, latency=0.01)


async def test_failing_endpoint_is_rested_then_probed_and_restored() -> None:
    pool = EndpointPool(["bad", "good"], per_endpoint=5, fail_threshold=3, rest_s=0.2)
    bad = pool.endpoints[0]
    for _ in range(3):
        ep = await pool.acquire()
        while ep is not bad:  # force picks onto "bad" by holding "good"
            ep = await pool.acquire()
        pool.release(bad, ok=False, latency=0.01, kind="connection")
    for ep in pool.endpoints[1:]:
        while ep.in_flight:
            pool.release(ep, ok=True, latency=0.01)
    assert bad.rested_until > time.monotonic()
    # while resting, every pick goes to "good"
    assert {(await pool.acquire()).url for _ in range(4)} == {"good"}
    await asyncio.sleep(0.25)
    probe = await pool.acquire()
    assert probe is bad and bad.probing
    # only one probe at a time
    assert (await pool.acquire()).url == "good"
    pool.release(bad, ok=True, latency=0.01)
    assert bad.consecutive_failures == 0 and not bad.probing and bad.rested_until == 0


async def test_failures_without_health_meaning_never_rest_an_endpoint() -> None:
    pool = EndpointPool(["a"], per_endpoint=5, fail_threshold=2)
    for _ in range(5):
        ep = await pool.acquire()
        pool.release(ep, ok=False, latency=0.01, kind="bad_request", health=False)
    assert pool.endpoints[0].rested_until == 0
    assert pool.endpoints[0].errors == 5
    assert pool.endpoints[0].errors_by_kind == {"bad_request": 5}


async def test_when_all_endpoints_rest_callers_wait_instead_of_failing() -> None:
    pool = EndpointPool(["only"], per_endpoint=5, fail_threshold=1, rest_s=0.2)
    ep = await pool.acquire()
    pool.release(ep, ok=False, latency=0.01, kind="server_error")
    t0 = time.monotonic()
    again = await asyncio.wait_for(pool.acquire(), 2)
    assert again is ep
    assert time.monotonic() - t0 >= 0.15


async def test_rps_paces_requests_per_endpoint() -> None:
    pool = EndpointPool(["a"], per_endpoint=100, rps=20)
    t0 = time.monotonic()
    for _ in range(30):
        ep = await pool.acquire()
        pool.release(ep, ok=True, latency=0.0)
    # capacity 20 at once, then 10 more at 20/s -> about 0.5 s
    assert time.monotonic() - t0 >= 0.4
