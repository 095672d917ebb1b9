"""Where a closed-loop sweep stops gaining throughput, judged with each level's uncertainty.

The knee is the first level whose throughput comes within a threshold X (`--knee`, 5 % by
default) of the best level's. Point figures alone make that a coin toss on a busy machine or
a noisy API: one level a few % slow or fast moves the knee. So each level carries the 95 %
interval of its throughput (`rate_interval.py`, half-width h), and each level is judged by
the gap between its throughput and the line (1 − X) × the best level's:

    gap = rate − (1 − X) × best,   with 95 % half-width  H = √(h² + ((1 − X) × h_best)²)

(the interval of a difference of two independent estimates; requiring the two intervals
themselves to overlap would be needlessly blunt, Schenker & Gentleman 2001). The verdicts:

- **best**: the level with the highest throughput;
- **below**: gap + H < 0: it falls short of the best by more than X beyond doubt;
- **within**: gap − H ≥ 0: it is within X of the best beyond doubt;
- **unclear**: neither: at this many samples it cannot be told from the line.

The knee is the first level that is not below: the first whose throughput may be within X of
the best's. When that level is only unclear, the knee lies between it and the first later
level that is within (or the best), and the sweep says so, with about how many samples per
level would tell them apart: half-widths shrink as 1/√n, so n × (H / |gap|)² samples would
(a slight overestimate, since Student's t also shrinks with more batches).

A level whose own client was late (event-loop lag) could have done up to ok ÷ (wall − that
delay) (`lag_free`); reaching the line with that bound also keeps a level from being below.
A level with no interval (too few samples for four batches) is judged by its point figure
(h = 0), and the sweep names it. With no intervals at all, this is the point rule: the first
level within X of the best. Comparing every level with the best rather than with the level
before keeps one slow level between two fast ones from calling the knee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BEST, BELOW, WITHIN, UNCLEAR = "best", "below", "within", "unclear"
#: a level that would need more than this many times its samples sits on the line
MAX_FACTOR = 10_000


@dataclass(frozen=True, slots=True)
class Level:
    """What the knee needs of one level: its throughput and the bounds around it."""

    rate: float | None
    lo: float | None = None
    hi: float | None = None
    lag_free: float | None = None
    n: int = 0  # samples that came back ok at this level


@dataclass(frozen=True, slots=True)
class Knee:
    """The verdict on a sweep (indices into its levels)."""

    index: int | None  # the knee, or None: not reached (or too few levels)
    best: int | None
    verdicts: list[str | None]  # per level: best / below / within / unclear (None: no rate)
    upto: int | None = None  # an unclear knee: the first later level that is within, if any
    needed: int | None = None  # an unclear knee: samples per level that would tell
    by_lag: bool = False  # an unclear knee reaches the line only by its client's delay


def _half(level: Level) -> float:
    if level.rate is None or level.hi is None:
        return 0.0
    return level.hi - level.rate  # hi is not clipped at zero; lo may be


def _gap(level: Level, best: Level, threshold: float) -> tuple[float, float]:
    """(rate − (1 − X) × best, the 95 % half-width of that difference)."""
    assert level.rate is not None and best.rate is not None
    gap = level.rate - (1 - threshold) * best.rate
    return gap, math.hypot(_half(level), (1 - threshold) * _half(best))


def samples_to_decide(level: Level, best: Level, threshold: float) -> int | None:
    """About how many samples per level would make the gap's interval clear zero, or None
    when more samples cannot practically decide it: the level sits on the line (over
    `MAX_FACTOR` times its samples), or only its client's delay lifts it there, which is no
    noise to average away."""
    gap, half = _gap(level, best, threshold)
    n = max(level.n, best.n)
    if half <= abs(gap) or n <= 0 or abs(gap) * math.sqrt(MAX_FACTOR) <= half:
        return None
    return math.ceil(n * (half / gap) ** 2)


def judge_knee(levels: Sequence[Level], threshold: float) -> Knee:
    """Every level's verdict against the best, and the knee (see the module docstring)."""
    known = [i for i, lv in enumerate(levels) if lv.rate is not None]
    if len(known) < 2 or not any(levels[i].rate for i in known):  # none came back ok
        return Knee(None, known[0] if known else None, [None] * len(levels))
    b = max(known, key=lambda i: levels[i].rate or 0.0)
    best = levels[b]
    assert best.rate is not None
    verdicts: list[str | None] = []
    for i, lv in enumerate(levels):
        if lv.rate is None:
            verdicts.append(None)
            continue
        gap, half = _gap(lv, best, threshold)
        lifted = lv.lag_free is not None and lv.lag_free >= (1 - threshold) * best.rate
        if i == b:
            verdicts.append(BEST)
        elif gap + half < 0 and not lifted:
            verdicts.append(BELOW)
        elif gap - half >= 0:
            verdicts.append(WITHIN)
        else:
            verdicts.append(UNCLEAR)
    knee = next(i for i, v in enumerate(verdicts) if v in (BEST, WITHIN, UNCLEAR))
    if knee == len(levels) - 1 and knee == b:
        return Knee(None, b, verdicts)  # still growing at the last level
    if verdicts[knee] != UNCLEAR:
        return Knee(knee, b, verdicts)
    upto = next((i for i in range(knee + 1, len(levels)) if verdicts[i] in (BEST, WITHIN)), None)
    gap, half = _gap(levels[knee], best, threshold)
    by_lag = gap + half < 0  # not below only because of its lag-free bound
    needed = None if by_lag else samples_to_decide(levels[knee], best, threshold)
    return Knee(knee, b, verdicts, upto, needed, by_lag)


def rtfx_band(rows: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[float | None]]:
    """(below, above) each level's throughput RTFx, its 95 % interval's reach: every level
    sends the same audio, so RTFx moves in proportion to samples/s and its interval does."""
    low: list[float | None] = []
    high: list[float | None] = []
    for r in rows:
        rtfx, rate = r.get("throughput_rtfx"), r.get("samples_per_s")
        lo, hi = r.get("samples_per_s_lo"), r.get("samples_per_s_hi")
        if rtfx is None or not rate or lo is None or hi is None:
            low.append(None)
            high.append(None)
            continue
        low.append(rtfx * (1 - lo / rate))
        high.append(rtfx * (hi / rate - 1))
    return low, high
