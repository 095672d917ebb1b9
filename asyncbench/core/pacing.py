"""Request pacing for providers whose terms cap the request rate.

A token bucket lets short bursts through (capacity = one second of rate, at least 1) and
otherwise spaces requests evenly. Waiters are served in arrival order by one lock, so a
steady rate does not turn into a thundering herd when tokens come back.
"""

from __future__ import annotations

import asyncio
import time
import weakref


class TokenBucket:
    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self) -> None:
        async with self._lock:
            now = time.monotonic()
            self._refill(now)
            if self.tokens < 1.0:
                await asyncio.sleep((1.0 - self.tokens) / self.rate)
                self._refill(time.monotonic())
            self.tokens -= 1.0


class AccountPace:
    """One documented request-rate limit of one account, shared by every client of that account
    in the process: a batch runs many splits of a provider at once, each with its own client,
    and the service counts their requests together.

    The bucket behind it belongs to the running event loop (its lock does), so each loop gets
    its own: all runs of one batch share one loop and so one bucket.
    """

    def __init__(self, rate: float, capacity: float | None) -> None:
        self.rate = rate
        self.capacity = capacity
        self._buckets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TokenBucket] = (
            weakref.WeakKeyDictionary()
        )

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        bucket = self._buckets.get(loop)
        if bucket is None:
            bucket = self._buckets[loop] = TokenBucket(self.rate, self.capacity)
        await bucket.take()


_ACCOUNTS: dict[tuple[object, ...], AccountPace] = {}


def account_pace(scope: tuple[str, ...], rate: float, capacity: float | None = 1.0) -> AccountPace:
    """The one pacer of `scope` (provider, base URL, key digest, which limit) at this rate in
    this process; capacity 1 spaces requests evenly, so no one-second window holds a burst."""
    key = (*scope, rate, capacity)
    pace = _ACCOUNTS.get(key)
    if pace is None:
        pace = _ACCOUNTS[key] = AccountPace(rate, capacity)
    return pace
