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
    rate_interval,
    t_quantile,
)


@pytest.mark.parametrize(
    ("df", "table"),
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (19, 2.093), (120, 1.980)],
)
def test_t_quantile_matches_the_tables(df: int, table: float) -> None:
    assert t_quantile(0.95, df) == pytest.approx(table, abs=5e-4)


def test_interval_by_hand() -> None:
    """8 completions, 1 in flight: 4 batches of 2, durations 1, 1, 2, 1 over 5 s."""
    done = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 5.0]
    iv = rate_interval(done, 0.0, 5.0, in_flight=2.0)
    assert (iv.n, iv.batches, iv.batch_size) == (8, 4, 2)
    counts, durations = np.array([2, 2, 2, 2]), np.array([1.0, 1.0, 2.0, 1.0])
    rate = counts.sum() / durations.sum()
    se = np.sqrt(((counts - rate * durations) ** 2).sum() / 3 / 4) / durations.mean()
    assert iv.rate == pytest.approx(1.6)
    assert iv.lo == pytest.approx(rate - 3.182446 * se, rel=1e-5)
    assert iv.hi == pytest.approx(rate + 3.182446 * se, rel=1e-5)


def test_a_regular_process_is_sure_of_its_rate() -> None:
    """A capacity-limited server finishes 4 at a time every 0.15 s: batches of the 4 in
    flight each take exactly 0.15 s, so the interval closes on the rate."""
    done = [0.15 * (1 + i // 4) for i in range(40)]
    iv = rate_interval(done, 0.0, 1.5, in_flight=4.0)
    assert iv.batches == 10 and iv.batch_size == 4
    assert iv.lo == pytest.approx(40 / 1.5) and iv.hi == pytest.approx(40 / 1.5)


def test_too_few_samples_say_how_many_an_interval_takes() -> None:
    iv = rate_interval([0.1 * i for i in range(1, 16)], 0.0, 1.6, in_flight=4.0)
    assert iv.lo is None and iv.hi is None and iv.batches == 0
    assert iv.needed == MIN_BATCHES * 4 == 16
    assert iv.rate == pytest.approx(15 / 1.6)
    # the batch is at least one: a run with nothing in flight on average still has one
    assert rate_interval([], 0.0, 1.0, in_flight=0.0).needed == MIN_BATCHES
    assert rate_interval([], 0.0, 0.0, in_flight=1.0).rate is None


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
def test_the_interval_covers_the_true_rate(
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
