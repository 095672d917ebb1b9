"""How sure a throughput is: a 95 % interval for the rate at which one run's requests came
back ok, from batch means over its completion times.

A sweep compares levels by throughput (ok samples ÷ wall clock). One figure per level says
nothing of how far a second run of the same level could land from it, so a slow level and a
fast one cannot be told from two runs of the same speed. This module gives each run's
throughput an interval without assuming a distribution for the service times.

Why batch means. The completions of a benchmark run are not independent events: with N
requests in flight the server's queue carries state from one completion to the next (a
capacity-limited server finishes requests in bursts; a slow request holds a slot for the
next ones). A Poisson interval (n events in T seconds) ignores that and is far too wide for
such regular processes; a bootstrap over single gaps between completions ignores it and is
too narrow. The method of batch means handles the dependence: cut the run at completion
boundaries into k consecutive batches, each holding at least as many completions as the run
had requests in flight on average (after that many completions the population in flight has
been replaced, so what happened in one batch says little about the next), and take the
throughput as the ratio estimator Σ count ÷ Σ duration, the renewal-reward form of a rate.
Its standard error is the spread of the batch residuals (count_j − rate × duration_j) over
the mean batch duration, and the interval uses Student's t with k − 1 degrees of freedom,
which is what keeps it honest with few batches. The batches tile the whole run, from its
start to its end, so the interval is around the same whole-run throughput the summary and
the sweep print (ramp-up and drain included: their slower batches widen it, as they should).

At most 20 batches are used (longer batches are closer to independent), and at least 4 are
needed: with fewer, Student's t is too wide to say anything (12.7 × the standard error at
2 batches). A run too short for 4 batches has no interval and says how many samples it needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

#: two-sided confidence of the interval
CONFIDENCE = 0.95
#: fewest batches for an interval; most batches used
MIN_BATCHES = 4
MAX_BATCHES = 20


@dataclass(frozen=True, slots=True)
class RateInterval:
    """A run's ok completions per second with its 95 % interval (lo/hi None: too few)."""

    rate: float | None
    lo: float | None
    hi: float | None
    n: int  # completions
    batches: int  # 0 when there is no interval
    batch_size: int  # completions per batch (the last one takes the remainder)
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
    done_at: list[float], started: float, ended: float, in_flight: float
) -> RateInterval:
    """The whole run's throughput (completions ÷ (ended − started)) with its batch-means 95 %
    interval. `done_at`: when each ok completion came back (same clock as started/ended);
    `in_flight`: the run's mean number of requests in flight (Little's law), which sets the
    smallest batch."""
    done = sorted(t for t in done_at if started <= t <= ended)
    n = len(done)
    wall = ended - started
    rate = n / wall if wall > 0 else None
    size = batch_size_for(in_flight)
    if rate is None or n < MIN_BATCHES * size:
        return RateInterval(rate, None, None, n, 0, size, MIN_BATCHES * size)
    k = min(MAX_BATCHES, n // size)
    size = n // k
    # batch j holds completions j*size+1 .. (j+1)*size (the last one all the rest); the
    # batches tile the run from its start to its end
    edges = [started] + [done[(j + 1) * size - 1] for j in range(k - 1)] + [ended]
    counts = [size] * (k - 1) + [n - (k - 1) * size]
    durations = [b - a for a, b in pairwise(edges)]
    residual = sum((c - rate * d) ** 2 for c, d in zip(counts, durations, strict=True))
    mean_duration = wall / k
    se = math.sqrt(residual / (k - 1) / k) / mean_duration
    half = t_quantile(CONFIDENCE, k - 1) * se
    return RateInterval(rate, max(0.0, rate - half), rate + half, n, k, size, None)
