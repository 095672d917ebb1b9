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
#: `--stream` (server-sent events, core/sse.py): per line, then p50/p90/p99 over the lines
SSE_METRICS = ("first_delta_s", "delta_gap_p50_s", "delta_gap_p99_s")
USAGE = ("input_tokens", "input_audio_tokens", "output_tokens", "total_tokens")


def _quantiles(streams: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    return {
        name: latency_summary([float(v) for s in streams if (v := s.get(name)) is not None])
        for name in names
    }


def stream_section(stats: RunStats) -> dict[str, Any] | None:
    """{"streaming": {...}} for a run with WebSocket-streamed samples and {"sse": {...}} for
    one with `--stream` samples, else None."""
    sse = [s for s in stats.streams if "first_delta_s" in s]
    live = [s for s in stats.streams if "first_delta_s" not in s]
    out: dict[str, Any] = {}
    if live:
        section: dict[str, Any] = {"samples": len(live), **_quantiles(live, METRICS)}
        partials = [int(s.get("partials") or 0) for s in live]
        section["partials_mean"] = sum(partials) / len(partials)
        section["chunk_lateness_s"] = latency_summary(stats.chunk_lateness)
        out["streaming"] = section
    if sse:
        deltas = [int(s.get("deltas") or 0) for s in sse]
        usage = {
            name: sum(int(s[f"usage_{name}"]) for s in sse if s.get(f"usage_{name}") is not None)
            for name in USAGE
            if any(s.get(f"usage_{name}") is not None for s in sse)
        }
        out["sse"] = {
            "samples": len(sse),
            **_quantiles(sse, SSE_METRICS),
            "deltas_mean": sum(deltas) / len(deltas),
            "usage": usage,
        }
    return out or None


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{1000 * value:.1f} ms"


def stream_lines(section: dict[str, Any]) -> list[str]:
    """The sections as the summary prints them (stderr)."""
    out = live_lines(section["streaming"]) if "streaming" in section else []
    return out + (sse_lines(section["sse"]) if "sse" in section else [])


def quantile_lines(s: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """One `name p50 p90 p99 max` line per figure that has values."""
    return [
        f"  {name:<18} p50 {_ms(q['p50'])}  p90 {_ms(q['p90'])}  p99 {_ms(q['p99'])}"
        f"  max {_ms(q['max'])}"
        for name in names
        if (q := s[name])["n"]
    ]


def sse_lines(s: dict[str, Any]) -> list[str]:
    out = [
        f"stream (server-sent events): {s['samples']} replies, {s['deltas_mean']:.1f} deltas each",
        *quantile_lines(s, SSE_METRICS),
    ]
    if s["usage"]:
        counts = ", ".join(f"{name} {value}" for name, value in s["usage"].items())
        out.append(f"  usage (sum): {counts}")
    return out


def live_lines(s: dict[str, Any]) -> list[str]:
    out = [
        f"streaming: {s['samples']} streams, {s['partials_mean']:.1f} partials per stream",
        *quantile_lines(s, METRICS),
    ]
    late = s["chunk_lateness_s"]
    if late["n"]:
        out.append(
            f"  chunk send lateness p50 {_ms(late['p50'])}  p99 {_ms(late['p99'])}  "
            f"max {_ms(late['max'])} over {late['n']} chunks"
        )
    return out
