"""How sure a throughput is: a 95 % interval for the rate at which one run's requests came
back ok (ok samples ÷ wall clock, the figure the summary and the sweep print).

A sweep compares levels by throughput. One figure per level says nothing of how far a second
run of the same level could land from it, so a slow level cannot be told from a fast one
measured on a noisy day. Two methods, by how the run sent its requests:

**A closed loop with N requests in flight** (no rate cap): a bootstrap of the run itself.
The wall clock of such a run is decided by its latencies: N slots each send their next
request when the last one comes back, so the run ends when the slowest slot is through, and
its drain (the last replies trickling in) can be a large part of a short run. The run is
replayed 400 times with latencies drawn with replacement from the ones it measured, each
replay giving n ÷ its wall clock. The spread of the logarithm of those throughputs
gives the interval around the measured figure (replays start every slot at once and have
no client overhead, so only their spread is used), with Student's t at
(n ÷ N) − 1 degrees of freedom, n ÷ N being how many requests each slot sent in turn: a run
of few rounds knows little about how its slowest slot could have gone (a small-sample
correction, checked by simulation). At least 3 rounds are needed. This gets both extremes
right where cutting the run into batches does not: a server with a near-fixed latency and
many requests in flight finishes them in waves, and its wall clock hardly varies between
runs (batches cut across waves and look very noisy), while a server with exponential
latencies has a drain that varies a lot (one drain per run: no batch sees its variation).
Simulated closed loops (fixed, exponential and lognormal latencies, 32 to 320 samples, 4
to 32 in flight; tests/test_rate_interval.py) hold the true mean throughput in 94 to 98 % of
runs, with intervals 1.1 to 1.3 times as wide as the runs' own spread.

**Paced or open-loop runs** (a rate cap, an arrival process): batch means. The run is cut at
completions into 5 to 20 consecutive batches, each of at least the run's mean number in
flight (after that many completions the requests in flight have all been replaced, so one
batch says little about the next). The spread of the inner batches' durations (the first
holds the ramp-up and the last the drain, which every run has) gives the standard error of
the run's wall clock, scaled to its n completions, and Student's t with (batches − 2) − 1
degrees of freedom the interval. Simulated renewal processes are covered 91 to 98 % of the
time.

A run too short for either has no interval and says how many samples one would take.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

#: two-sided confidence of the interval
CONFIDENCE = 0.95
#: batch means: fewest batches for an interval; most batches used
MIN_BATCHES = 5
MAX_BATCHES = 20
#: closed-loop bootstrap: fewest requests per slot; replays
MIN_ROUNDS = 3
REPLAYS = 400


@dataclass(frozen=True, slots=True)
class RateInterval:
    """A run's ok completions per second with its 95 % interval (lo/hi None: too few)."""

    rate: float | None
    lo: float | None
    hi: float | None
    n: int  # completions
    method: str  # "closed-loop bootstrap" or "batch means"
    batches: int  # batch means: batches used (0: no interval)
    batch_size: int  # batch means: completions per batch (the last one takes the rest)
    needed: int | None  # samples an interval takes, when this run had too few

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _t_mass(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with df degrees of freedom, exact for whole df: the
    finite series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    total, term = 1.0, 1.0
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        for j in range(1, (df - 3) // 2 + 1):
            term *= 2 * j / (2 * j + 1) * c2
            total += term
        return 2 / math.pi * (theta + s * math.sqrt(c2) * total)
    for j in range(1, (df - 2) // 2 + 1):
        term *= (2 * j - 1) / (2 * j) * c2
        total += term
    return s * total


def t_quantile(confidence: float, df: int) -> float:
    """The two-sided Student's t critical value: P(|T| <= t) = confidence (df 3: 3.182).
    Found by bisection on the exact distribution function; no scipy needed."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1 (got {df})")
    if df > 1000:  # within 0.1 % of the normal's, and the series would take df terms
        from statistics import NormalDist

        return NormalDist().inv_cdf((1 + confidence) / 2)
    lo, hi = 0.0, 1.0
    while _t_mass(hi, df) < confidence:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_mass(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def batch_size_for(in_flight: float) -> int:
    """Fewest completions per batch: the run's mean number of requests in flight."""
    return max(1, math.ceil(in_flight - 1e-9)) if math.isfinite(in_flight) else 1


def rate_interval(
    done_at: Sequence[float],
    started: float,
    ended: float,
    in_flight: float,
    *,
    latencies: Sequence[float] | None = None,
    slots: int | None = None,
    replays: int = REPLAYS,
) -> RateInterval:
    """The whole run's throughput (completions ÷ (ended − started)) with its 95 % interval.
    `done_at`: when each ok completion came back (same clock as started/ended). A closed
    loop passes `slots` (its requests in flight) and `latencies` (of its ok requests) and
    gets the bootstrap; otherwise batch means, whose smallest batch is `in_flight`, the
    run's mean number of requests in flight (Little's law)."""
    done = sorted(t for t in done_at if started <= t <= ended)
    n = len(done)
    wall = ended - started
    rate = n / wall if wall > 0 else None
    if slots and latencies:
        return _closed_loop(rate, n, list(latencies), slots, replays)
    return _batch_means(rate, done, started, ended, in_flight)


def _closed_loop(
    rate: float | None, n: int, latencies: list[float], slots: int, replays: int
) -> RateInterval:
    method = "closed-loop bootstrap"
    slots = max(1, min(slots, n))
    rounds = n // slots
    if rate is None or rounds < MIN_ROUNDS:
        return RateInterval(rate, None, None, n, method, 0, 0, MIN_ROUNDS * slots)
    if min(latencies) < 0 or max(latencies) <= 0:  # no clock to replay: no interval
        return RateInterval(rate, None, None, n, method, 0, 0, None)
    # a few seconds at most: fewer replays for very long runs (each costs about 2n draws)
    replayed = replay_closed_loop(latencies, n, slots, max(100, min(replays, 20_000_000 // n)))
    logs = [math.log(r) for r in replayed if r > 0]
    if len(logs) < 2:
        return RateInterval(rate, None, None, n, method, 0, 0, None)
    mean = sum(logs) / len(logs)
    spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    factor = math.exp(t_quantile(CONFIDENCE, rounds - 1) * spread)
    return RateInterval(rate, rate / factor, rate * factor, n, method, 0, 0, None)


def replay_closed_loop(latencies: Sequence[float], n: int, slots: int, replays: int) -> list[float]:
    """Throughputs of `replays` replays of a closed loop: `slots` slots send n requests in
    all, each its next one the moment the last comes back, with latencies drawn with
    replacement from `latencies` (seeded: the same run gives the same interval). Vectorised:
    each slot's request start times are the running sums of its draws, the loop sends the n
    earliest of all those starts, and the replay's wall clock is the latest of their ends."""
    import numpy as np

    rng = np.random.default_rng(0)
    pool = np.asarray(latencies, dtype=float)
    per_slot = min(n, 2 * math.ceil(n / slots) + 8)
    out = []
    for _ in range(replays):
        while True:
            draws = rng.choice(pool, size=(slots, per_slot))
            ends = np.cumsum(draws, axis=1)
            starts = (ends - draws).ravel()
            chosen = np.argpartition(starts, n - 1)[:n]
            # enough draws per slot: no slot sent every request it was given (none can send
            # more than n)
            if per_slot == n or not (chosen % per_slot == per_slot - 1).any():
                break
            per_slot = min(n, per_slot * 2)
        wall = float(ends.ravel()[chosen].max())
        out.append(n / wall if wall > 0 else 0.0)
    return out


def _batch_means(
    rate: float | None, done: list[float], started: float, ended: float, in_flight: float
) -> RateInterval:
    method = "batch means"
    n = len(done)
    size = batch_size_for(in_flight)
    if rate is None or n < MIN_BATCHES * size:
        return RateInterval(rate, None, None, n, method, 0, size, MIN_BATCHES * size)
    k = min(MAX_BATCHES, n // size)
    size = n // k
    # batch j holds completions j*size+1 .. (j+1)*size (the last one all the rest); the
    # batches tile the run from its start to its end. The first holds the ramp-up and the
    # last the drain, which are not noise (every run of these settings has them), so the
    # spread comes from the batches between them, scaled to the run's n completions.
    edges = [started] + [done[(j + 1) * size - 1] for j in range(k - 1)] + [ended]
    inner = [b - a for a, b in pairwise(edges)][1:-1]
    mean = sum(inner) / len(inner)
    var_per_completion = sum((d - mean) ** 2 for d in inner) / (len(inner) - 1) / size
    se = rate * math.sqrt(n * var_per_completion) / (ended - started)
    half = t_quantile(CONFIDENCE, len(inner) - 1) * se
    return RateInterval(rate, max(0.0, rate - half), rate + half, n, method, k, size, None)
