import random
from email.utils import formatdate

import pytest

from asyncbench.core.retry import (
    backoff_delay,
    parse_duration,
    parse_retry_after,
    retry_after_from_headers,
)


def test_retry_after_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    date = formatdate(now + 12, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after(formatdate(now - 50, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("bad", [None, "", "soon", "Mon, 99 Foo 2020"])
def test_retry_after_garbage_is_ignored(bad: str | None) -> None:
    assert parse_retry_after(bad) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.2s", 1.2), ("12ms", 0.012), ("6m0s", 360.0), ("1h2m3s", 3723.0), ("3", 3.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_bad_durations() -> None:
    assert parse_duration("1.2x") is None
    assert parse_duration("s") is None


def test_headers_prefer_retry_after_then_reset() -> None:
    assert retry_after_from_headers({"Retry-After": "4", "x-ratelimit-reset-requests": "9s"}) == 4
    assert retry_after_from_headers({"x-ratelimit-reset-requests": "250ms"}) == 0.25
    assert retry_after_from_headers({}) is None


def test_backoff_grows_with_equal_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        d = min(30.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            delay = backoff_delay(attempt, rng=rng)
            assert d / 2 <= delay <= d


def test_server_wait_is_a_floor_with_a_little_jitter() -> None:
    rng = random.Random(2)
    delays = [backoff_delay(1, retry_after=3.0, rng=rng) for _ in range(100)]
    assert min(delays) >= 3.0
    assert max(delays) <= 3.3
    assert len(set(delays)) > 50  # workers do not come back in lockstep
