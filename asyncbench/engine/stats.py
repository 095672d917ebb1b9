"""Counters one run keeps while it goes: read by the progress line and the final summary."""

from __future__ import annotations

import time
from collections import Counter
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


def latency_summary(latencies: list[float]) -> dict[str, float | int | None]:
    """n, mean, p50/p90/p99 and max of request latencies in seconds (None when empty)."""
    if not latencies:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "mean": sum(ordered) / len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }
