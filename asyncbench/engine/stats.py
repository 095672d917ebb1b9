"""Counters one run keeps while it goes: read by the progress line and the final summary."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class RunStats:
    total: int | None = None  # samples this run expects to finish (None: not known up front)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    done: int = 0
    ok: int = 0
    failed: int = 0
    skipped_short: int = 0
    retries: int = 0
    attempts: int = 0
    errors_by_kind: Counter[str] = field(default_factory=Counter)  # every failed attempt
    failed_by_kind: Counter[str] = field(default_factory=Counter)  # samples that ended failed
    latencies: list[float] = field(default_factory=list)  # successful requests, seconds
    busy_s: float = 0.0  # sum of every attempt's latency (Little's law: mean in flight)
    audio_s: float = 0.0  # audio seconds of samples transcribed ok
    interrupted: str | None = None
    # Send timing, monotonic seconds (reporting/load.py turns them into the summary's
    # latency_from_intended, late_starts, achieved_rate and goodput):
    sent_at: list[float] = field(default_factory=list)  # each sent sample's first send
    lateness: list[float] = field(default_factory=list)  # t_sent - t_intended, same order
    slot_waits: int = 0  # open loop: times the dispatcher found every --max_workers slot taken
    from_intended: list[float] = field(default_factory=list)  # ok samples: t_end - t_intended
    ok_audio: list[float] = field(default_factory=list)  # their durations, same order
    # streamed samples (core/streaming.py): each ok line's stream fields, and the lateness
    # of every chunk sent on the real-time schedule (reporting/streaming.py reads them)
    streams: list[dict[str, float | int | None]] = field(default_factory=list)
    chunk_lateness: list[float] = field(default_factory=list)
    # the client's own health (reporting/saturation.py): how late each tick of the event
    # loop's watch fired (seconds), when each ok sample came back (monotonic), and when each
    # engine handed out its last sample (a list, so --processes merges it like the others;
    # the drain starts at the latest: fewer and fewer requests in flight from then on; the
    # driver of a sharded run keeps the one its shards' concurrency says, sharded.drain_start)
    loop_lags: list[float] = field(default_factory=list)
    loop_busy: list[float] = field(default_factory=list)  # per tick: share of it on the CPU
    done_at: list[float] = field(default_factory=list)
    handed_out_at: list[float] = field(default_factory=list)
    # event loops whose counters these are: 1 for a run, the shards' sum once --processes or
    # Ray merges them (their loops ran side by side, so their lags overlap in wall time)
    loops: int = 1
    # once shards are merged: each loop's own (lag p99 s, busy p50) from its own ticks, so one
    # saturated process is not averaged away by an idle one (reporting/saturation.py)
    per_loop: list[tuple[float | None, float | None]] = field(default_factory=list)

    @property
    def drain_from(self) -> float | None:
        return max(self.handed_out_at, default=None)

    #: clips whose dataset length (audio_length_s) was unusable or off by more than 1 % from
    #: the decoded audio: cost, RTFx and audio hours use the decoded length (warned once)
    length_off: int = 0

    # ok transcripts far longer than their audio could hold (a server's runaway or filler
    # reply): still scored as the board scores them, but counted so the summary says so
    implausible: int = 0

    @property
    def wall_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def mean_in_flight(self) -> float:
        wall = self.wall_s
        return self.busy_s / wall if wall > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        wall = self.wall_s
        return self.attempts / wall if wall > 0 else 0.0


#: characters per second of audio beyond any speech (fast speech is about 20)...
IMPLAUSIBLE_CHARS_PER_S = 60.0
#: ...and a floor, so a short clip with a long but real sentence is not counted
IMPLAUSIBLE_FLOOR_CHARS = 500


def implausibly_long(text: str, duration: float) -> bool:
    """Whether a transcript is longer than any speech in `duration` seconds could be."""
    return len(text) > max(IMPLAUSIBLE_FLOOR_CHARS, IMPLAUSIBLE_CHARS_PER_S * duration)


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of an already sorted list, interpolated linearly between
    the two nearest ranks (numpy's default), so p50 of [1, 2] is 1.5. Exact: every sample
    counts, nothing is binned or sketched."""
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def tail_summary(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99 and max of `values` (None when empty): the tail figures every latency-like
    section of the summary reports, computed one way."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }


def latency_summary(latencies: list[float]) -> dict[str, float | int | None]:
    """n, mean, p50/p90/p99 and max of request latencies in seconds (None when empty)."""
    ordered = sorted(latencies)  # summed in order, as before: the mean is the same to the bit
    mean = sum(ordered) / len(ordered) if ordered else None
    return {"n": len(ordered), "mean": mean, **tail_summary(ordered)}


#: two-sided confidence of the percentile intervals
CONFIDENCE = 0.95


def _rank_bounds(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """1-based ranks (lo, hi) of the order statistics that bracket the q-quantile (0-1) with
    `confidence`, distribution-free: P(x_(lo) <= true quantile <= x_(hi)) >= confidence,
    from the binomial count of samples below the quantile. lo = 0 or hi = n + 1 means the
    sample has no such bound (too few requests). Exact up to 20,000 samples, the normal
    approximation above."""
    tail = (1 - confidence) / 2
    if n > 20_000:
        z = _z(1 - tail)
        mid, spread = n * q, z * math.sqrt(n * q * (1 - q))
        return max(0, math.floor(mid - spread)), min(n + 1, math.ceil(mid + spread) + 1)
    log_q, log_r = math.log(q), math.log1p(-q)
    log_n = math.lgamma(n + 1)
    cdf = 0.0  # P(B <= k), B ~ Binomial(n, q): samples below the true quantile
    lo, hi = 0, n + 1
    for k in range(n + 1):
        log_choose = log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        cdf += math.exp(log_choose + k * log_q + (n - k) * log_r)
        if cdf <= tail:
            lo = k + 1  # P(B < lo) <= tail: x_(lo) is below the quantile often enough
        if cdf >= 1 - tail:
            hi = k + 1  # P(B <= hi - 1) >= 1 - tail
            break
    return lo, hi


def _z(p: float) -> float:
    """The standard normal quantile."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def needed_for_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """The fewest requests whose sample has an upper confidence bound on the q-quantile: the
    largest of n values must exceed it with probability 1 - tail, so 1 - q^n >= 1 - tail
    (p99: 367 at 95 %). Below that, the sample's p99 is only its largest value or near it.
    MLPerf's LoadGen refuses a run with too few queries for its percentile on the same
    reasoning."""
    tail = (1 - confidence) / 2
    return math.ceil(math.log(tail) / math.log(q))


def percentile_bounds(ordered: list[float], pct: float) -> dict[str, float | int | None]:
    """The pct-th percentile of a sorted sample with its distribution-free 95 % interval, or,
    when the sample is too small to bound it from above, how many requests it needs."""
    n = len(ordered)
    q = pct / 100
    value = percentile(ordered, pct) if ordered else None
    need = needed_for_bound(q)
    if n == 0:
        return {"value": None, "lo": None, "hi": None, "n": 0, "needed": need}
    lo_rank, hi_rank = _rank_bounds(n, q)
    return {
        "value": value,
        "lo": ordered[lo_rank - 1] if lo_rank >= 1 else None,
        "hi": ordered[hi_rank - 1] if hi_rank <= n else None,
        "n": n,
        "needed": need if hi_rank > n else None,
    }
