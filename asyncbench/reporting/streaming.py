"""The summary's streaming section: how a voice agent would feel the run.

Percentiles (p50/p90/p99, exact) of each ok sample's `first_partial_s`, `first_final_s` and
`final_after_end_s` (core/streaming.py), partials per sample, and the lateness of every chunk
sent on the real-time schedule: the instrument's own accuracy, so a loaded client that could
not keep the pace shows instead of skewing the latencies silently.
"""

from __future__ import annotations

from typing import Any

from asyncbench.engine.stats import RunStats, latency_summary

METRICS = ("first_partial_s", "first_final_s", "final_after_end_s")


def stream_section(stats: RunStats) -> dict[str, Any] | None:
    """{"streaming": {...}} for a run with streamed samples, else None."""
    if not stats.streams:
        return None
    section: dict[str, Any] = {"samples": len(stats.streams)}
    for name in METRICS:
        values = [float(v) for s in stats.streams if (v := s.get(name)) is not None]
        section[name] = latency_summary(values)
    partials = [int(s.get("partials") or 0) for s in stats.streams]
    section["partials_mean"] = sum(partials) / len(partials)
    section["chunk_lateness_s"] = latency_summary(stats.chunk_lateness)
    return {"streaming": section}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{1000 * value:.1f} ms"


def stream_lines(section: dict[str, Any]) -> list[str]:
    """The section as the summary prints it (stderr)."""
    s = section["streaming"]
    out = [f"streaming: {s['samples']} streams, {s['partials_mean']:.1f} partials per stream"]
    for name in METRICS:
        q = s[name]
        if q["n"]:
            out.append(
                f"  {name:<18} p50 {_ms(q['p50'])}  p90 {_ms(q['p90'])}  p99 {_ms(q['p99'])}"
                f"  max {_ms(q['max'])}"
            )
    late = s["chunk_lateness_s"]
    if late["n"]:
        out.append(
            f"  chunk send lateness p50 {_ms(late['p50'])}  p99 {_ms(late['p99'])}  "
            f"max {_ms(late['max'])} over {late['n']} chunks"
        )
    return out
