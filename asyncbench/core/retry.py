"""When to try again: exponential backoff with full jitter, floored by what the server asked.

A server's `Retry-After` is a promise about when capacity returns, so it is a lower bound on
the wait; jitter is added on top so that hundreds of workers told "2 seconds" do not return in
the same millisecond and trip the limit again.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_duration(value: str | None) -> float | None:
    """Seconds from a Go-style duration such as `1.2s`, `12ms` or `6m0s` (OpenAI/Groq
    `x-ratelimit-reset-*` headers), or from a bare number of seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: `Retry-After` first, else a rate-limit reset header."""
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is not None:
        return wait
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "x-ratelimit-reset"):
        wait = parse_duration(headers.get(name))
        if wait is not None:
            return wait
    return None


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number `attempt` (1-based).

    "Equal jitter": uniform in [d/2, d] with d = `base * 2**(attempt-1)` capped at `cap`, so a
    retry never comes back at once yet workers spread out; a server-given wait is honoured
    as a floor with up to 10% jitter above it (and is not capped: the server knows best).
    """
    r = rng.random() if rng is not None else random.random()
    expo = min(cap, base * (2 ** max(0, attempt - 1)))
    if retry_after is not None:
        return retry_after + r * max(0.05, 0.1 * retry_after)
    return expo * (0.5 + 0.5 * r)
