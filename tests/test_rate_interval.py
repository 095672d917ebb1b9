"""A run's throughput with its 95 % interval (batch means over completion times).

Deterministic: the processes are simulated from fixed seeds, and the interval is checked
against a hand computation, Student's t against its printed tables, and its coverage
against the true rate of processes whose rate is known exactly.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from asyncbench.reporting.rate_interval import (
    MIN_BATCHES,
    MIN_ROUNDS,
    rate_interval,
    t_quantile,
)


@pytest.mark.parametrize(
    ("df", "table"),
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (19, 2.093), (120, 1.980)],
)
def test_t_quantile_matches_the_tables(df: int, table: float) -> None:
    assert t_quantile(0.95, df) == pytest.approx(table, abs=5e-4)


def test_batch_means_by_hand() -> None:
    """12 completions, 2 in flight: 6 batches of 2. The first (ramp-up) and last (drain)
    batches leave the spread alone; the 4 between them give it."""
    done = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 4.2, 4.5, 5.0, 5.5, 7.0]
    iv = rate_interval(done, 0.0, 7.5, in_flight=2.0)
    assert (iv.method, iv.n, iv.batches, iv.batch_size) == ("batch means", 12, 6, 2)
    inner = np.array([2.0 - 1.0, 3.0 - 2.0, 4.2 - 3.0, 5.0 - 4.2])
    rate = 12 / 7.5
    se = rate * np.sqrt(12 * inner.var(ddof=1) / 2) / 7.5
    assert iv.rate == pytest.approx(rate)
    assert iv.lo == pytest.approx(rate - 3.182446 * se, rel=1e-5)
    assert iv.hi == pytest.approx(rate + 3.182446 * se, rel=1e-5)


def test_a_regular_process_is_sure_of_its_rate() -> None:
    """A capacity-limited server finishes 4 at a time every 0.15 s: batches of the 4 in
    flight each take exactly 0.15 s, so the interval closes on the rate."""
    done = [0.15 * (1 + i // 4) for i in range(40)]
    iv = rate_interval(done, 0.0, 1.5, in_flight=4.0)
    assert iv.batches == 10 and iv.batch_size == 4
    assert iv.lo == pytest.approx(40 / 1.5) and iv.hi == pytest.approx(40 / 1.5)
    # replayed as a closed loop of 4 with its latencies (all 0.15 s): the same, exactly
    iv = rate_interval(done, 0.0, 1.5, in_flight=4.0, latencies=[0.15] * 40, slots=4)
    assert iv.method == "closed-loop bootstrap"
    assert iv.lo == pytest.approx(40 / 1.5) and iv.hi == pytest.approx(40 / 1.5)


def test_too_few_samples_say_how_many_an_interval_takes() -> None:
    iv = rate_interval([0.1 * i for i in range(1, 20)], 0.0, 2.0, in_flight=4.0)
    assert iv.lo is None and iv.hi is None and iv.batches == 0
    assert iv.needed == MIN_BATCHES * 4 == 20
    assert iv.rate == pytest.approx(19 / 2.0)
    # the batch is at least one: a run with nothing in flight on average still has one
    assert rate_interval([], 0.0, 1.0, in_flight=0.0).needed == MIN_BATCHES
    assert rate_interval([], 0.0, 0.0, in_flight=1.0).rate is None
    # latencies of zero (a clock too coarse to see them) leave nothing to replay
    iv = rate_interval([0.1] * 12, 0.0, 1.0, 2.0, latencies=[0.0] * 12, slots=2)
    assert (iv.rate, iv.lo, iv.needed) == (12.0, None, None)
    iv = rate_interval([0.1] * 12, 0.0, 1.0, 2.0, latencies=[0.0] * 11 + [0.5], slots=2)
    assert iv.lo is not None and iv.lo <= 12.0 <= iv.hi
    # a closed loop needs 3 requests per slot: 16 at 8 in flight is 2 rounds
    iv = rate_interval([0.1] * 16, 0.0, 1.0, 8.0, latencies=[0.1] * 16, slots=8)
    assert (iv.lo, iv.needed) == (None, MIN_ROUNDS * 8) and MIN_ROUNDS * 8 == 24


def _closed_loop(seed: int, n: int, servers: int, service: Callable[[random.Random], float]):
    """Completion times of a server with `servers` workers kept busy all the time (a closed
    loop with at least that many in flight): the sum of `servers` renewal processes, whose
    rate is exactly servers ÷ mean service time."""
    rnd = random.Random(seed)
    free = [service(rnd) for _ in range(servers)]
    heapq.heapify(free)
    done: list[float] = []
    while len(done) < n:
        t = heapq.heappop(free)
        done.append(t)
        heapq.heappush(free, t + service(rnd))
    return done


@pytest.mark.parametrize(
    ("name", "service", "mean", "n", "floor"),
    [
        ("uniform", lambda r: r.uniform(0.5, 1.5), 1.0, 100, 0.92),
        ("uniform", lambda r: r.uniform(0.5, 1.5), 1.0, 400, 0.92),
        ("exponential", lambda r: r.expovariate(1.0), 1.0, 100, 0.92),
        # heavy tails with few samples: the small-sample bias of n / t_n shows
        ("lognormal", lambda r: r.lognormvariate(0, 1.0), math.exp(0.5), 100, 0.88),
        ("lognormal", lambda r: r.lognormvariate(0, 1.0), math.exp(0.5), 400, 0.90),
    ],
)
def test_batch_means_cover_the_true_rate(
    name: str, service: Callable[[random.Random], float], mean: float, n: int, floor: float
) -> None:
    """Over 300 simulated runs, the 95 % interval holds the true rate about 95 % of the time
    (not far below: it would be overconfident; not 100 %: it would be needlessly wide)."""
    true = 4 / mean
    covered = 0
    for seed in range(300):
        done = _closed_loop(seed, n, 4, service)
        iv = rate_interval(done, 0.0, done[-1], in_flight=8.0)
        assert iv.lo is not None and iv.hi is not None
        covered += iv.lo <= true <= iv.hi
    assert floor <= covered / 300 <= 0.995, (name, covered)


def _closed_loop_run(seed: int, n: int, slots: int, service: Callable[[random.Random], float]):
    """A whole closed-loop run: `slots` requests sent at once, each slot sending its next
    when its reply comes back, n in all, then the drain. (completion times, latencies)"""
    rnd = random.Random(seed)
    latencies = [service(rnd) for _ in range(slots)]
    heap = list(latencies)
    heapq.heapify(heap)
    done: list[float] = []
    while heap:
        t = heapq.heappop(heap)
        done.append(t)
        if len(latencies) < n:
            latencies.append(service(rnd))
            heapq.heappush(heap, t + latencies[-1])
    return done, latencies


@pytest.mark.parametrize(
    ("name", "service", "slots", "n", "floor"),
    [
        # a near-fixed latency: requests finish in waves, the wall clock hardly varies
        ("fixed", lambda r: r.uniform(0.28, 0.32), 32, 320, 0.9),
        # exponential latencies: the drain varies a lot from run to run
        ("exponential", lambda r: r.expovariate(1 / 0.3), 32, 320, 0.88),
        ("exponential", lambda r: r.expovariate(1.0), 4, 40, 0.9),
        ("lognormal", lambda r: r.lognormvariate(0, 1.0), 8, 32, 0.9),
    ],
)
def test_the_closed_loop_bootstrap_covers_the_mean_throughput(
    name: str,
    service: Callable[[random.Random], float],
    slots: int,
    n: int,
    floor: float,
) -> None:
    """Over 120 simulated runs, ramp-up and drain included, the interval holds the mean
    whole-run throughput about 95 % of the time, and is about as wide as the runs' own
    spread (batch means here: over twice as wide on a fixed latency's waves, and 77 % coverage
    with exponential latencies, whose drain no batch sees vary)."""
    runs = [_closed_loop_run(seed, n, slots, service) for seed in range(120)]
    rates = [n / done[-1] for done, _ in runs]
    mean, spread = float(np.mean(rates)), float(np.std(rates, ddof=1))
    covered, halves = 0, []
    for done, latencies in runs:
        iv = rate_interval(
            done, 0.0, done[-1], slots, latencies=latencies, slots=slots, replays=100
        )
        assert iv.lo is not None and iv.hi is not None
        covered += iv.lo <= mean <= iv.hi
        halves.append((iv.hi - iv.lo) / 2)
    assert covered / 120 >= floor, (name, covered)
    # not needlessly wide either: within a small factor of the runs' own 95 % spread
    ratio = float(np.mean(halves)) / (1.96 * spread)
    assert 0.5 < ratio < 2.5, (name, ratio)
