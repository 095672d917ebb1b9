"""The knee of a closed-loop sweep judged with each level's 95 % throughput interval.

Deterministic: the levels' figures are given, the verdicts and lines checked exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from asyncbench.cli.sweep import closed_knee, find_knee, interval_note, knee_line, sweep_table
from asyncbench.reporting.knee import (
    BELOW,
    BEST,
    UNCLEAR,
    WITHIN,
    Level,
    judge_knee,
    samples_to_decide,
)


def test_the_issues_sweep_with_intervals_still_knees_at_the_best_level() -> None:
    """0.72, 0.75, 2.81, 2.70 at 1, 2, 4, 8 in flight: the knee is 4 (the 2.81 level), not 2."""
    levels = [
        Level(0.72, 0.69, 0.75, n=200),
        Level(0.75, 0.71, 0.79, n=200),
        Level(2.81, 2.70, 2.92, n=200),
        Level(2.70, 2.58, 2.82, n=200),
    ]
    knee = judge_knee(levels, 0.10)
    assert (knee.index, knee.best, knee.upto, knee.needed) == (2, 2, None, None)
    assert knee.verdicts == [BELOW, BELOW, BEST, WITHIN]
    # at 5 % the last level cannot be told from the line, but the knee is still the best one
    knee = judge_knee(levels, 0.05)
    assert knee.index == 2 and knee.verdicts == [BELOW, BELOW, BEST, UNCLEAR]


def test_two_measurements_of_one_sweep_agree_where_points_do_not() -> None:
    """Level 2 of a server that does 10, 42 and 46/s, measured twice with ±4/s of noise: 44
    once (within 5 % of 46 by its point: the point rule calls the knee at 2) and 40 once
    (not: the point rule says the knee was not reached). With the intervals both runs say
    the same: the knee is at 2 or 3, and how many samples would decide it."""
    lucky = [Level(10, 9.5, 10.5, n=400), Level(44, 40, 48, n=400), Level(46, 45, 47, n=400)]
    unlucky = [Level(10, 9.5, 10.5, n=400), Level(40, 36, 44, n=400), Level(46, 45, 47, n=400)]
    assert find_knee([lv.rate for lv in lucky]) == 1
    assert find_knee([lv.rate for lv in unlucky]) is None
    for levels in (lucky, unlucky):
        knee = judge_knee(levels, 0.05)
        assert (knee.index, knee.upto) == (1, 2)
        assert knee.verdicts == [BELOW, UNCLEAR, BEST]
    # the gap to the line 0.95 x 46 = 43.7 against the half-width of that difference
    gap, half = 40 - 43.7, math.hypot(4, 0.95 * 1)
    assert judge_knee(unlucky, 0.05).needed == math.ceil(400 * (half / gap) ** 2) == 494
    assert samples_to_decide(Level(43.7, 40, 47.4, n=10), Level(46, 45, 47), 0.05) is None


def test_with_no_intervals_it_is_the_point_rule() -> None:
    knee = judge_knee([Level(10), Level(39), Level(40)], 0.05)
    assert (knee.index, knee.verdicts) == (1, [BELOW, WITHIN, BEST])
    assert judge_knee([Level(10), Level(20), Level(40)], 0.05).index is None
    assert judge_knee([Level(None), Level(5)], 0.05).index is None
    # every level failed: nothing came back ok, no knee and no division by zero
    rows = [_row(1, 0.0, None, None), _row(2, 0.0, None, None)]
    assert knee_line(_data(rows, 0.05)) == "knee: no level has a throughput (none came back ok)"


def test_a_level_lifted_only_by_its_clients_delay_needs_no_more_samples() -> None:
    """Level 2 measured 30/s, but its loop was late: up to 45/s. More samples cannot decide
    that (the delay is not noise), so no sample count is promised."""
    knee = judge_knee([Level(10), Level(30, lag_free=45), Level(46), Level(45)], 0.05)
    assert (knee.index, knee.upto, knee.needed, knee.by_lag) == (1, 2, None, True)
    assert knee.verdicts[1] == UNCLEAR
    rows = [_row(1, 10, None, None), _row(2, 30, None, None, samples_per_s_lag_free=45)]
    rows += [_row(4, 46, None, None), _row(8, 45, None, None)]
    data = _data(rows, 0.05)
    assert knee_line(data) == (
        "knee: concurrency 2 reaches 65 % of the best throughput (30.00 of 46.00 samples/s, at "
        "4), within 5 % once its client's own delay is taken out (up to 45.00/s); more in "
        "flight buys latency, not throughput (p90 0.200 s there)"
    )


def _row(level: float, rate: float | None, lo: float | None, hi: float | None, **kw: Any):
    row = {
        "level": level,
        "samples_per_s": rate,
        "samples_per_s_lo": lo,
        "samples_per_s_hi": hi,
        "samples_per_s_lag_free": rate,
        "interval_needed": None if lo is not None else 32,
        "interval_method": "closed-loop bootstrap",
        "ok": 16,
        "throughput_rtfx": None,
        "p50": 0.15,
        "p90": 0.2,
        "p99": None,
        "max": None,
        "wer": 0.0,
        "failed": 0,
        "errors": 0,
        "mean_in_flight": level,
        "client_bound": False,
    }
    row.update(kw)
    return row


def _data(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """What the sweep puts in sweep.json for these rows."""
    knee, extra = closed_knee(rows, threshold)
    return {
        "levels": rows,
        "kind": "concurrency",
        "knee_threshold": threshold,
        "knee_index": knee,
        **extra,
    }


def test_the_sweep_says_where_the_knee_may_lie_and_what_would_tell() -> None:
    rows = [
        _row(1, 6.4, 6.2, 6.6),
        _row(2, 13.0, 12.9, 13.2),
        _row(4, 21.07, 12.35, 29.8),
        _row(8, 25.3, None, None),
        _row(16, 25.97, None, None, interval_needed=40),
    ]
    data = _data(rows, 0.05)
    assert knee_line(data) == (
        "knee: concurrency 4 reaches 81 % of the best throughput (21.07 of 25.97 samples/s, at "
        "16), maybe within 5 %: its 95 % interval [12.35, 29.80] (16 samples) cannot tell it "
        "from 95 % of the best's 25.97, so the knee is at 4 or as late as 8; about 95 samples "
        "per level would tell (--max_samples 95); more in flight buys latency, not throughput "
        "(p90 0.200 s there)"
    )
    assert interval_note(rows, rates=False) == (
        "no 95 % throughput interval at concurrency 8 (needs 32), 16 (needs 40) samples: a "
        "closed loop's interval takes 3 requests per request in flight; those levels are judged "
        "by their point figures"
    )
    # a level right on the line: no number of samples decides it
    on_line = [_row(1, 10.0, 9.5, 10.5), _row(2, 38.0, 36.0, 40.0), _row(4, 40.0, 38.0, 42.0)]
    line = knee_line(_data(on_line, 0.05))
    assert "so the knee is at 2 or as late as 4; it sits on the line, where no number of " in line
    paced = [_row(5, 5.0, None, None, interval_needed=25, interval_method="batch means")]
    assert interval_note([*rows[:3], *paced], rates=True) == (
        "no 95 % throughput interval at request rate 5 (needs 25) samples: an interval takes 5 "
        "batches, each of at least the level's mean number in flight; those levels are judged "
        "by their point figures"
    )
    table = sweep_table(rows, rates=False)
    assert table[0].startswith("in flight samples/s    95 % interval vs best  thr RTFx")
    assert table[3].startswith("        4     21.07   [12.35, 29.80] unclear ")
    assert table[4].startswith("        8     25.30                -  within ")


def test_a_knee_beyond_doubt_reads_as_before() -> None:
    rows = [_row(1, 6.4, 6.2, 6.6), _row(2, 13.0, 12.9, 13.2), _row(4, 25.8, 25.5, 26.1)]
    rows.append(_row(8, 26.1, 25.9, 26.3))
    data = _data(rows, 0.05)
    assert knee_line(data) == (
        "knee: concurrency 4 reaches 99 % of the best throughput (25.80 of 26.10 samples/s, at "
        "8), within 5 %; more in flight buys latency, not throughput (p90 0.200 s there)"
    )
    assert interval_note(rows, rates=False) is None
    # a level measured before intervals were recorded is named as such
    old = _row(16, 26.0, None, None, interval_needed=None)
    assert interval_note([*rows, old], rates=True) == (
        "no interval recorded at request rate 16: written by an older asyncbench (remove the "
        "level's folder to measure it again); those levels are judged by their point figures"
    )
    # the best level has an interval: the unclear line quotes it
    rows[2] = _row(4, 24.6, 23.0, 26.2)
    data = _data(rows, 0.05)
    assert "cannot tell it from 95 % of the best's 26.10 [25.90, 26.30], so the knee is at 4 " in (
        knee_line(data)
    )


def test_the_reports_sweep_charts_carry_each_levels_interval() -> None:
    """RTFx moves in proportion to samples/s (every level sends the same audio), so a level's
    interval reaches as far around its RTFx; a level without one has no bar."""
    from asyncbench.reporting.interactive import sweep_chart
    from asyncbench.reporting.knee import rtfx_band
    from asyncbench.reporting.plots import sweep_figure

    rows = [_row(1, 10.0, 9.0, 12.0), _row(2, 20.0, None, None)]
    rows[0]["throughput_rtfx"], rows[1]["throughput_rtfx"] = 50.0, 100.0
    low, high = rtfx_band(rows)
    assert low[0] == pytest.approx(5.0) and high[0] == pytest.approx(10.0)
    assert (low[1], high[1]) == (None, None)
    sweep = {"levels": rows, "kind": "concurrency", "knee_level": 2, "model": "m"}
    sweep |= {"dataset": "d", "split": "s"}
    bars = sweep_chart(sweep)["data"][0]["error_y"]
    assert bars["array"][0] == pytest.approx(10.0) and bars["array"][1] is None
    assert bars["arrayminus"][0] == pytest.approx(5.0)
    assert sweep_figure(sweep).startswith(b"\x89PNG")
