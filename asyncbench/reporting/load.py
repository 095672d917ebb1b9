"""The load a run really offered, and what users saw under it: the summary's open-loop part.

- `latency_from_intended`: answer time minus the *intended* start (the schedule's send time in
  an open loop). A stalled server shows here in full, because the schedule kept sending while
  it was stuck; service time (`latency_s`, send → answer) is beside it. In a closed loop the
  intended start is when a worker took the sample, which is what closed-loop tools measure
  from, so the two numbers only differ by the wait for an endpoint slot.
- `late_starts`: sends more than `LATE_TOLERANCE_S` behind their intended time (the
  `--max_workers` cap bound, audio prep fell behind, or the loop was busy), with how late.
- `achieved_rate` against the target: requests sent per second over the sending window.
- `goodput`: of those, the ones that came back ok and met every `--slo`, per second (and audio
  seconds per second), plus the share of sent requests that met each SLO.

Percentiles are exact (every request counts; `engine.stats.percentile`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncbench.core.gates import Condition, request_meets
from asyncbench.engine.arrivals import ArrivalSpec
from asyncbench.engine.stats import RunStats, tail_summary

#: a send this much behind its intended time counts as a late start (loop wake-up jitter on
#: a busy machine stays well below it; a bound `--max_workers` cap is far above it)
LATE_TOLERANCE_S = 0.010


def load_section(
    stats: RunStats, arrivals: ArrivalSpec, slos: Sequence[Condition]
) -> dict[str, Any]:
    """Every open-loop figure of the summary as JSON-able data."""
    sent = len(stats.sent_at)
    span = (max(stats.sent_at) - min(stats.sent_at)) if sent > 1 else 0.0
    achieved = (sent - 1) / span if span > 0 else None
    window = sent / achieved if achieved else None  # the sending window, one gap per request
    late = [x for x in stats.lateness if x > LATE_TOLERANCE_S]
    good = 0
    good_audio = 0.0
    met = [0] * len(slos)
    for latency, audio in zip(stats.from_intended, stats.ok_audio, strict=True):
        every = True
        for i, slo in enumerate(slos):
            if request_meets(slo, latency, audio):
                met[i] += 1
            else:
                every = False
        if every:
            good += 1
            good_audio += audio
    return {
        "arrival": arrivals.as_dict(),
        "target_rate": arrivals.target_rate,
        "achieved_rate": achieved,
        "sent": sent,
        "latency_from_intended": {
            "n": len(stats.from_intended),
            **tail_summary(stats.from_intended),
        },
        "send_lateness_s": tail_summary(stats.lateness),
        "late_starts": {
            "count": len(late),
            "tolerance_s": LATE_TOLERANCE_S,
            "waited_for_slot": stats.slot_waits,
            "late_s": tail_summary(late),
        },
        "goodput": {
            "slos": [s.spec for s in slos],
            "requests": good,
            "requests_per_s": good / window if window else None,
            "audio_s_per_s": good_audio / window if window else None,
            # share of sent requests (a failed one meets no SLO)
            "share": good / sent if sent else None,
            "per_slo": [
                {"slo": s.spec, "met": n, "share": n / sent if sent else None}
                for s, n in zip(slos, met, strict=True)
            ],
        },
    }


def _s(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def load_lines(load: dict[str, Any]) -> list[str]:
    """What the summary prints about the offered load (open loop) and goodput (with SLOs)."""
    lines = []
    arrival = load["arrival"]
    open_loop = arrival["kind"] != "closed"
    lat = load["latency_from_intended"]
    if open_loop:
        target = load["target_rate"]
        ramp = arrival.get("ramp")
        lines.append(
            f"open loop ({arrival['kind']}, seed {arrival['seed']}): achieved "
            f"{_s(load['achieved_rate'], '.2f')} requests/s against a target of "
            f"{_s(target, 'g')}"
            + (f" (a ramp from {ramp['start']:g} over {ramp['seconds']:g} s)" if ramp else "")
            + f" over {load['sent']} sent"
        )
        if lat["n"]:
            lines.append(
                f"latency from the intended start over {lat['n']} ok requests: p50 "
                f"{_s(lat['p50'])} s, p90 {_s(lat['p90'])} s, p99 {_s(lat['p99'])} s, max "
                f"{_s(lat['max'])} s (what users feel; 'latency over' above is service time)"
            )
        late = load["late_starts"]
        lateness = load["send_lateness_s"]
        line = (
            f"late starts: {late['count']} of {load['sent']} sent more than "
            f"{1000 * late['tolerance_s']:g} ms after their intended time"
        )
        if late["count"]:
            line += f" (p99 {_s(late['late_s']['p99'])} s, max {_s(late['late_s']['max'])} s late)"
        if late["waited_for_slot"]:
            line += (
                f"; the --max_workers cap bound: {late['waited_for_slot']} waits for a free slot"
            )
        line += f"; send lateness p99 {_s(lateness['p99'], '.4f')} s"
        lines.append(line)
    good = load["goodput"]
    if good["slos"]:
        share = None if good["share"] is None else 100 * good["share"]
        lines.append(
            f"goodput under {' and '.join(good['slos'])}: {good['requests']} of {load['sent']} "
            f"requests met every SLO ({_s(share, '.1f')} %), "
            f"{_s(good['requests_per_s'], '.2f')} requests/s, "
            f"{_s(good['audio_s_per_s'], '.2f')} audio s/s"
        )
        for row in good["per_slo"]:
            share = None if row["share"] is None else 100 * row["share"]
            lines.append(f"  {row['slo']}: {row['met']} met ({_s(share, '.1f')} %)")
    return lines


def gate_figures(summary: dict[str, Any]) -> dict[str, float | None]:
    """The figures `--fail_if` gates of `asyncbench run` judge, from a run's summary."""
    wer = summary.get("wer") or {}
    load = summary  # the load figures sit at the top level of the summary
    lat = load.get("latency_from_intended") or {}
    good = load.get("goodput") or {}
    rtfx = summary.get("rtfx") or {}
    return {
        "wer": wer.get("wer"),
        "coverage": wer.get("coverage_percent"),
        "rtfx": rtfx.get("per_request"),
        "throughput_rtfx": rtfx.get("throughput"),
        "p50": lat.get("p50"),
        "p90": lat.get("p90"),
        "p99": lat.get("p99"),
        "max": lat.get("max"),
        "goodput": good.get("requests_per_s"),
        "goodput_audio": good.get("audio_s_per_s"),
        "achieved_rate": load.get("achieved_rate"),
        "late_starts": (load.get("late_starts") or {}).get("count"),
        "failed": (summary.get("this_run") or {}).get("failed"),
    }
