"""Is the client the bottleneck, how far can each latency percentile be trusted, and what
was the throughput once the run was warm: the summary's saturation part.

A benchmark client that runs out of CPU measures itself. Its event loop gets to each reply
late, so every latency it reports holds that delay, and it sends fewer requests than it
says it keeps in flight. The engine's stall watch ticks on the loop about every 0.1 s and
notes how late each tick fired (`RunStats.loop_lags`) and what share of the time since the
last tick the loop's thread spent on the CPU (`RunStats.loop_busy`). The run was
client-bound when the loop had no idle time for at least half the run (median busy share
90 % or more: however short each callback, the client could not have sent more), or when
the 99th percentile of the lag is both large in itself and a fair share of the median
latency (a loop held up, by the CPU or by a blocking call). The summary then says so.

Tail percentiles carry their validity: the distribution-free 95 % interval of each
percentile from the order statistics of the sample, or, when the sample is too small to
bound it from above (a p99 from 40 requests is its largest value or near it), how many
requests it needs (`engine.stats.needed_for_bound`, LoadGen's reasoning).

Throughput is printed twice: over the whole run, and steady, between the end of the warmup
(`--warmup 5s` or `--warmup 200` requests) and the start of the drain (the moment the last
sample was handed out, after which fewer and fewer requests are in flight). The whole-run
figure carries its 95 % interval (`rate_interval.py`), which a sweep judges its knee by.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.engine.stats import RunStats, percentile, percentile_bounds
from asyncbench.reporting.rate_interval import rate_interval

#: client-bound when the loop's p99 lag is at least this (seconds) ...
CLIENT_LAG_S = 0.010
#: ... and at least this share of the median latency (a 10 ms lag on 5 s requests is noise)
CLIENT_LAG_SHARE = 0.10
#: ... or when the loop's thread was on the CPU this share of the time for half the run
BUSY_SHARE = 0.90
#: tail percentiles whose validity is printed
TAILS = (50, 90, 99)


@dataclass(frozen=True, slots=True)
class Warmup:
    """How much of the run's start the steady throughput leaves out."""

    seconds: float | None = None
    requests: int | None = None

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g} s"
        return f"{self.requests} requests" if self.requests else "none"


def parse_warmup(spec: str | None) -> Warmup:
    """`--warmup 5s` (seconds) or `--warmup 200` (requests back ok); None or "0": none."""
    if spec is None:
        return Warmup()
    text = spec.strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*s", text)
    if m:
        seconds = float(m.group(1))
        return Warmup(seconds=seconds) if seconds > 0 else Warmup()
    if text.isdigit():
        return Warmup(requests=int(text)) if int(text) else Warmup()
    raise ConfigError(
        f"--warmup {spec!r}: give seconds such as 5s, or a number of requests such as 200"
    )


def _ms(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": 1000 * percentile(ordered, 50),
        "p99": 1000 * percentile(ordered, 99),
        "max": 1000 * ordered[-1],
    }


def steady_throughput(stats: RunStats, warmup: Warmup, slots: int | None = None) -> dict[str, Any]:
    """ok samples per second over the whole run (with its 95 % interval: `slots` is the
    number of requests in flight of a closed loop no rate cap paced, rate_interval.py) and
    between warmup and drain."""
    wall = stats.wall_s
    done = sorted(stats.done_at)
    whole = len(done) / wall if wall > 0 else None
    end = stats.drain_from if stats.drain_from is not None else stats.ended
    if warmup.seconds is not None:
        start: float | None = stats.started + warmup.seconds
    elif warmup.requests:
        start = done[warmup.requests - 1] if len(done) >= warmup.requests else None
    else:
        start = stats.started
    steady = window = None
    n = 0
    # each loop's own delay: the shards' loops ran side by side, so their lags summed over
    # loops would count the same wall seconds once per process (and exceed the run)
    delay = sum(stats.loop_lags) / max(1, stats.loops)
    if start is not None and end is not None and end > start:
        window = end - start
        n = sum(1 for t in done if start < t <= end)
        steady = n / window if n >= 2 else None
    return {
        "whole_per_s": whole,
        "steady_per_s": steady,
        "steady_n": n,
        "steady_window_s": window,
        "warmup": {"seconds": warmup.seconds, "requests": warmup.requests},
        # what the run could have reached had its own loop not been late (the sweep's
        # upper bound on a level's throughput)
        "client_delay_s": delay,
        "hi_per_s": len(done) / (wall - delay) if wall - delay > 0 else None,
        # the whole-run figure's 95 % interval (rate_interval.py)
        "whole_interval": rate_interval(
            done,
            stats.started,
            stats.started + wall,
            stats.mean_in_flight,
            latencies=stats.latencies,
            slots=slots,
        ).to_json(),
    }


def saturation_section(
    stats: RunStats, warmup: Warmup | None = None, slots: int | None = None
) -> dict[str, Any]:
    """Every saturation figure of the summary as JSON-able data (top-level keys); `slots`:
    the requests in flight of a closed loop that no rate cap paced (None: paced or open)."""
    lag = _ms(stats.loop_lags)
    ordered = sorted(stats.latencies)
    p50 = percentile(ordered, 50) if ordered else None
    busy = sorted(stats.loop_busy)
    busy_p50 = percentile(busy, 50) if busy else None
    # shards merged (--processes, Ray): each loop judged on its own ticks, and the run is
    # client-bound when any loop was (its share of the samples carries its delay)
    loops = stats.per_loop or [(None if lag["p99"] is None else lag["p99"] / 1000, busy_p50)]
    bound = sum(1 for lag_p99, busy_share in loops if _bound(lag_p99, busy_share, p50))
    return {
        "client_bound": bound > 0,
        "client_bound_loops": [bound, len(loops)],
        "loop_lag_ms": lag,
        "loop_busy": {
            "n": len(busy),
            "p50": busy_p50,
            "mean": sum(busy) / len(busy) if busy else None,
        },
        "dispatch_lateness_ms": _ms([max(0.0, x) for x in stats.lateness]),
        "latency_validity": {f"p{q}": percentile_bounds(ordered, q) for q in TAILS},
        "throughput": steady_throughput(stats, warmup or Warmup(), slots),
    }


def _bound(lag_p99_s: float | None, busy_p50: float | None, latency_p50: float | None) -> bool:
    """One event loop's verdict: late by a large share of the median latency, or on the CPU
    nearly all the time."""
    lagging = bool(
        lag_p99_s is not None
        and lag_p99_s >= CLIENT_LAG_S
        and (latency_p50 is None or lag_p99_s >= CLIENT_LAG_SHARE * latency_p50)
    )
    return lagging or (busy_p50 is not None and busy_p50 >= BUSY_SHARE)


def loop_health(stats: RunStats) -> tuple[float | None, float | None]:
    """One loop's (lag p99 in s, busy-share p50), kept when its shard's counters are merged."""
    lags, busy = sorted(stats.loop_lags), sorted(stats.loop_busy)
    return (
        percentile(lags, 99) if lags else None,
        percentile(busy, 50) if busy else None,
    )


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def client_line(section: dict[str, Any], processes: int = 1) -> str:
    """One line: the client-bound verdict with figures, or the client's clean bill."""
    lag = section["loop_lag_ms"]
    late = section["dispatch_lateness_ms"]
    if lag["n"] == 0:
        return "client: no loop-lag samples (the run was shorter than one tick of 0.1 s)"
    busy = (section.get("loop_busy") or {}).get("p50")
    # on the CPU for little of the time yet late: it waited for a CPU (a loaded machine) or
    # for a blocking call; on the CPU nearly all the time: it had no more to give
    busy_text = "" if busy is None else f", loop thread on the CPU {100 * busy:.0f} % of the time"
    loops = section.get("client_bound_loops") or [0, 1]
    if section["client_bound"] and loops[1] > 1:  # merged shards: say how many loops were
        return (
            f"client-bound: {loops[0]} of {loops[1]} event loops (loop lag p99 over all "
            f"{_f(lag['p99'], '.0f')} ms, max {_f(lag['max'], '.0f')} ms{busy_text}); their "
            "latencies include client delay and fewer requests were in flight than it seems; "
            f"try --processes {processes + 1}"
        )
    if section["client_bound"]:
        return (
            f"client-bound: loop lag p99 {_f(lag['p99'], '.0f')} ms (max "
            f"{_f(lag['max'], '.0f')} ms){busy_text}; latency includes up to "
            f"{_f(lag['p99'], '.0f')} ms of client delay and fewer requests were in flight "
            f"than it seems; try --processes {processes + 1}"
        )
    return (
        f"client: not the bottleneck (loop lag p50 {_f(lag['p50'], '.1f')} ms, p99 "
        f"{_f(lag['p99'], '.1f')} ms, max {_f(lag['max'], '.1f')} ms{busy_text}; sends late "
        f"by p99 {_f(late['p99'], '.1f')} ms)"
    )


def validity_line(section: dict[str, Any]) -> str | None:
    """The latency percentiles with their 95 % intervals, or how many requests each needs."""
    parts = []
    for name, b in section["latency_validity"].items():
        if b["value"] is None:
            continue
        if b["needed"] is not None:
            more = b["needed"] - b["n"]
            parts.append(
                f"{name} {b['value']:.3f} s is not a {name} from {b['n']} requests (needs "
                f"{b['needed']}, {more} more)"
            )
        else:
            lo = _f(b["lo"], ".3f")
            parts.append(f"{name} {b['value']:.3f} s [{lo}, {b['hi']:.3f}]")
    if not parts:
        return None
    return "latency 95 % intervals: " + "; ".join(parts)


def throughput_line(section: dict[str, Any]) -> str | None:
    t = section["throughput"]
    if t["whole_per_s"] is None:
        return None
    warm = t["warmup"]
    warmup = Warmup(warm["seconds"], warm["requests"])
    line = f"throughput: {t['whole_per_s']:.2f} ok samples/s over the whole run"
    interval = t.get("whole_interval") or {}
    if interval.get("lo") is not None:
        line += f", 95 % interval [{interval['lo']:.2f}, {interval['hi']:.2f}]"
    elif interval.get("needed"):
        line += f" (no 95 % interval: that takes {interval['needed']} samples)"
    if t["steady_per_s"] is not None:
        line += (
            f"; {t['steady_per_s']:.2f}/s steady ({t['steady_n']} samples in "
            f"{t['steady_window_s']:.1f} s, warmup {warmup} and drain left out)"
        )
    else:
        line += f"; steady: n/a (fewer than 2 samples came back between warmup {warmup} and drain)"
    return line


def saturation_lines(section: dict[str, Any], processes: int = 1) -> list[str]:
    lines = [client_line(section, processes)]
    for line in (validity_line(section), throughput_line(section)):
        if line is not None:
            lines.append(line)
    return lines
