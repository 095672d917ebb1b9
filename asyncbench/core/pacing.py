"""Request pacing for providers whose terms cap the request rate.

A token bucket lets short bursts through (capacity = one second of rate, at least 1) and
otherwise spaces requests evenly. Waiters are served in arrival order by one lock, so a
steady rate does not turn into a thundering herd when tokens come back.
"""

from __future__ import annotations

import asyncio
import time


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
