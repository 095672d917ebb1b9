"""Endpoint lists and the pool that shares requests among them.

Each endpoint has its own concurrency limit (a semaphore in spirit, a counter in code so the
pool can choose), optional pacing, and health: an endpoint that keeps failing is rested and
probed again later, so its share of the work moves to the others instead of failing samples.
Selection is least-in-flight with round-robin among ties, which also sends less work to a slow
endpoint because it holds more requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from asyncbench.core.errors import ConfigError
from asyncbench.core.pacing import TokenBucket
from asyncbench.core.redact import redact_url


@dataclass(slots=True)
class Endpoint:
    """One URL with its limit, pacing, health and counters."""

    url: str
    capacity: int
    bucket: TokenBucket | None = None
    in_flight: int = 0
    # health
    consecutive_failures: int = 0
    rested_until: float = 0.0
    rest_s: float = 0.0
    #: the task whose request is this resting endpoint's one probe (None: no probe out). A
    #: task, not a flag, so that requests sent before the rest, returning while the probe is
    #: out, cannot end the probe and let a second one through
    probe_task: asyncio.Task[object] | None = None
    # figures for the end-of-run table
    requests: int = 0
    errors: int = 0
    latency_sum: float = 0.0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    #: the last failure's message (redacted by the caller): what a stalled run names
    last_error: str | None = None
    #: the URL as shown in results, summaries and messages: key-shaped query values masked
    #: (worked out once: every result line carries it)
    label: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.label = redact_url(self.url)

    @property
    def probing(self) -> bool:
        return self.probe_task is not None

    @property
    def mean_latency(self) -> float:
        ok = self.requests - self.errors
        return self.latency_sum / ok if ok else 0.0


class EndpointPool:
    """Hands out endpoint slots: `async with pool.slot() as ep: ...`.

    Health rules: after `fail_threshold` consecutive failures of the retryable kind
    (connection refused, 5xx, timeouts), an endpoint rests for `rest_s` seconds (doubling on
    each further failed probe, up to `max_rest_s`); afterwards one probe request is let through
    and a success brings it back. Each endpoint keeps its own schedule: several resting
    endpoints are probed at once, each when its own rest ends.

    The probe is a real sample's request, never an extra one: a separate health request would
    be billed on a paid API and would make a server see a sample more often than its line's
    `attempts` says. What makes it safe for that sample is the caller's side: a probe that
    fails while another endpoint is up costs the sample none of its retries (`is_probe`,
    `others_up`; engine/pipeline.py). When every endpoint is resting, callers wait for the
    first to wake, and the liveness watch (engine/liveness.py) stops a pool that stays dead.
    """

    def __init__(
        self,
        urls: Iterable[str],
        per_endpoint: int,
        *,
        rps: float | None = None,
        max_rps: float | None = None,
        fail_threshold: int = 3,
        rest_s: float = 2.0,
        max_rest_s: float = 30.0,
    ) -> None:
        self.endpoints = [
            Endpoint(url, per_endpoint, TokenBucket(rps) if rps else None) for url in urls
        ]
        if not self.endpoints:
            raise ConfigError("no endpoints to send requests to")
        self.global_bucket = TokenBucket(max_rps) if max_rps else None
        self.fail_threshold = fail_threshold
        self.base_rest_s = rest_s
        self.max_rest_s = max_rest_s
        self._rr = 0
        # (priority, arrival, future): a freed slot goes to the lowest priority number, then
        # to the longest waiter, so runs sharing a pool are served in the batch's order
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        #: monotonic time of the last success on any endpoint (liveness, engine/liveness.py)
        self.last_ok = 0.0

    @property
    def in_flight(self) -> int:
        return sum(ep.in_flight for ep in self.endpoints)

    def all_resting(self) -> bool:
        """Every endpoint has failed `fail_threshold` times in a row (resting, or its one probe
        out): nothing is answering anywhere."""
        return all(ep.consecutive_failures >= self.fail_threshold for ep in self.endpoints)

    def _choose(self, now: float, skip: frozenset[int] = frozenset()) -> Endpoint | None:
        """Least in flight among usable endpoints; ties go round-robin from the last pick."""
        best: Endpoint | None = None
        best_i = 0
        n = len(self.endpoints)
        for k in range(n):
            i = (self._rr + k) % n
            ep = self.endpoints[i]
            if ep.in_flight >= ep.capacity or ep.probing or ep.rested_until > now:
                continue
            if skip and id(ep) in skip:
                continue
            if best is None or ep.in_flight < best.in_flight:
                best, best_i = ep, i
                if ep.in_flight == 0:
                    break
        if best is not None:
            self._rr = (best_i + 1) % n
        return best

    def _next_wake(self, now: float) -> float | None:
        """Seconds until a resting endpoint may be probed, if any rests."""
        waits = [ep.rested_until - now for ep in self.endpoints if ep.rested_until > now]
        return max(0.0, min(waits)) if waits else None

    def _skip(self, avoid: Collection[Endpoint], now: float) -> frozenset[int]:
        """Ids of the `avoid` endpoints, unless no other endpoint is up (not resting)."""
        ids = frozenset(id(ep) for ep in avoid)
        for ep in self.endpoints:
            if id(ep) not in ids and not ep.probing and ep.rested_until <= now:
                return ids
        return frozenset()

    async def acquire(self, avoid: Collection[Endpoint] = (), priority: int = 0) -> Endpoint:
        """A slot on the least busy endpoint, waiting for one if all are full or resting.

        `avoid`: endpoints this sample already failed on. They get it again only when no other
        endpoint is up: a dead endpoint fails fast, so it always looks least busy, and without
        this one sample's retries could all go to it (or to a few dead ones in turn) and fail
        the sample although healthy endpoints were there.

        `priority`: lower numbers are served first when several callers wait (a batch gives
        each of its runs on one pool its place in the batch's order)."""
        while True:
            now = time.monotonic()
            ep = self._choose(now, self._skip(avoid, now) if avoid else frozenset())
            if ep is not None:
                ep.in_flight += 1
                if ep.consecutive_failures >= self.fail_threshold:
                    # a rested endpoint gets exactly one probe at a time: this task's request
                    ep.probe_task = asyncio.current_task()
                try:
                    if ep.bucket is not None:
                        await ep.bucket.take()
                    if self.global_bucket is not None:
                        await self.global_bucket.take()
                except BaseException:
                    self._release_slot(ep)
                    raise
                return ep
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (priority, next(self._arrivals), fut)
            heapq.heappush(self._waiters, entry)
            wake = self._next_wake(now)
            try:
                if wake is None:
                    await fut
                else:
                    await asyncio.wait_for(fut, timeout=wake + 0.001)
            except TimeoutError:
                pass
            finally:
                if not fut.done():
                    fut.cancel()
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(entry)
                        heapq.heapify(self._waiters)

    def is_probe(self, ep: Endpoint) -> bool:
        """Whether the calling task's slot on `ep` is that resting endpoint's probe."""
        return ep.probe_task is not None and ep.probe_task is asyncio.current_task()

    def others_up(self, ep: Endpoint) -> bool:
        """Whether an endpoint other than `ep` is known to answer (not failing in a row)."""
        return any(
            other is not ep and other.consecutive_failures < self.fail_threshold
            for other in self.endpoints
        )

    def _release_slot(self, ep: Endpoint) -> None:
        ep.in_flight -= 1
        # the probe's own task ends it (callers acquire and release in one task, as the
        # pipeline does); a probe whose task is gone (acquired under wait_for, which runs it in
        # a task of its own) ends with the next release rather than blocking the endpoint
        owner = ep.probe_task
        if owner is not None and (owner is asyncio.current_task() or owner.done()):
            ep.probe_task = None
        while self._waiters:
            fut = heapq.heappop(self._waiters)[2]
            if not fut.done():
                fut.set_result(None)
                break

    def abandon(self, ep: Endpoint) -> None:
        """Return a slot whose request was cancelled: says nothing about the endpoint."""
        self._release_slot(ep)

    def release(
        self,
        ep: Endpoint,
        *,
        ok: bool,
        latency: float,
        kind: str | None = None,
        health: bool = True,
        error: str | None = None,
    ) -> None:
        """Return a slot and record the outcome.

        `health=False` for failures that say nothing about the endpoint (a permanent error on a
        bad clip, a 429 that the endpoint answered promptly): they are counted but never rest it.
        """
        ep.requests += 1
        if ok:
            self.last_ok = time.monotonic()
            ep.latency_sum += latency
            ep.consecutive_failures = 0
            ep.rest_s = 0.0
            ep.rested_until = 0.0
            ep.probe_task = None  # it answers: no need to wait for the probe to let work in
        else:
            ep.errors += 1
            if error is not None:
                ep.last_error = error
            if kind:
                ep.errors_by_kind[kind] = ep.errors_by_kind.get(kind, 0) + 1
            if health:
                ep.consecutive_failures += 1
                now = time.monotonic()
                # a failed probe doubles the rest; requests already on their way when the rest
                # began fail too, but must not stretch it (4 in flight would make 2 s into 16 s)
                if ep.consecutive_failures >= self.fail_threshold and ep.rested_until <= now:
                    ep.rest_s = min(self.max_rest_s, (ep.rest_s * 2) or self.base_rest_s)
                    ep.rested_until = now + ep.rest_s
        self._release_slot(ep)

    def slot(self) -> _Slot:
        return _Slot(self)


class _Slot:
    """Async context manager around acquire/release for simple callers (health untouched)."""

    __slots__ = ("ep", "pool")

    def __init__(self, pool: EndpointPool) -> None:
        self.pool = pool
        self.ep: Endpoint | None = None

    async def __aenter__(self) -> Endpoint:
        self.ep = await self.pool.acquire()
        return self.ep

    async def __aexit__(self, *exc: object) -> None:
        assert self.ep is not None
        self.pool._release_slot(self.ep)
