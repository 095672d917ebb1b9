"""End of a run: what happened to every sample, how fast it really was, per endpoint, and
the seed's score lines.

Two speed figures are printed side by side because under concurrency they differ by orders
of magnitude, and mixing them up is the commonest mistake in API benchmarks:

- per-request RTFx, the leaderboard's: Σ audio ÷ Σ request time. It says how fast one request
  is answered, and does not change with the number of requests in flight;
- throughput RTFx: Σ audio ÷ wall clock of this run. It says how much audio the endpoints got
  through per second, which is what 300 requests in flight buy.

Little's law ties them: mean requests in flight = requests/s × mean latency. Comparing that
with the `--max_workers` limit shows who held the run back: an in-flight mean near the limit
means the endpoints were the bottleneck; far below it, the client (audio prep, the sample
source) or the ramp-up and drain of a short run.

Everything printed is also written to `<results file stem>.summary.json` beside the results,
for reports, batch runs (a complete split is skipped on the next run) and sweeps.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncbench.core.text import lines, one_line
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.stats import (
    IMPLAUSIBLE_CHARS_PER_S,
    IMPLAUSIBLE_FLOOR_CHARS,
    RunStats,
    latency_summary,
)
from asyncbench.results.errors_top import errors_lines, errors_top
from asyncbench.results.store import ResumeState
from asyncbench.sources.dataset import SourceStats

if TYPE_CHECKING:
    from asyncbench.reporting.saturation import Warmup

SUMMARY_SUFFIX = ".summary.json"


def summary_path(results_path: Path) -> Path:
    """`results/X.jsonl` → `results/X.summary.json` (not `*.jsonl`, so scoring ignores it)."""
    return results_path.with_name(results_path.stem + SUMMARY_SUFFIX)


def read_summary(results_path: Path) -> dict[str, Any] | None:
    """The summary a previous run wrote for this results file, if any and readable."""
    try:
        data = json.loads(summary_path(results_path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def endpoint_rows(pool: EndpointPool) -> list[dict[str, Any]]:
    total = sum(ep.requests for ep in pool.endpoints) or 1
    return [
        {
            "url": ep.label,  # key-shaped query values masked
            "requests": ep.requests,
            "ok": ep.requests - ep.errors,
            "errors": ep.errors,
            "errors_by_kind": dict(sorted(ep.errors_by_kind.items(), key=lambda kv: -kv[1])),
            "mean_latency_s": ep.mean_latency if ep.requests > ep.errors else None,
            "share": ep.requests / total,
        }
        for ep in pool.endpoints
    ]


def build_summary(
    path: Path,
    stats: RunStats,
    pool: EndpointPool,
    resume: ResumeState,
    *,
    info: dict[str, Any],
    limit: int | None,
    finished: bool,
    score: Any | None,
) -> dict[str, Any]:
    """Every figure of the end-of-run summary as plain JSON-able data."""
    wall = stats.wall_s
    request_time = sum(stats.latencies)
    rps = _ratio(stats.attempts, wall)
    mean_latency = _ratio(stats.busy_s, stats.attempts)
    in_flight = _ratio(stats.busy_s, wall)
    failed_in_file = score.n_failed if score is not None else stats.failed
    return {
        "results_file": str(path),
        **info,
        "started_at": round(time.time() - wall, 3),
        "ended_at": round(time.time(), 3),
        "wall_s": wall,
        "max_workers": limit,
        "interrupted": stats.interrupted,
        # the run went through the whole split and nothing in the file is left to retry
        "complete": bool(finished and not stats.interrupted and failed_in_file == 0),
        "this_run": {
            "written": stats.done,
            "ok": stats.ok,
            "skipped_short": stats.skipped_short,
            "failed": stats.failed,
            "attempts": stats.attempts,
            "retries": stats.retries,
            "failed_by_kind": dict(stats.failed_by_kind.most_common()),
            "errors_by_kind": dict(stats.errors_by_kind.most_common()),
            "already_done": resume.finished,
            "audio_s": stats.audio_s,
            "implausible_transcripts": stats.implausible,
        },
        "latency_s": latency_summary(stats.latencies),
        "rtfx": {
            "per_request": score.rtfx if score is not None else None,
            "per_request_this_run": _ratio(stats.audio_s, request_time),
            "throughput": _ratio(stats.audio_s, wall),
        },
        "little": {
            "requests_per_s": rps,
            "mean_latency_s": mean_latency,
            "mean_in_flight": in_flight,
            "limit": limit,
            # a run with fewer samples than the limit can never fill it
            "reachable": min(limit, stats.done - stats.skipped_short) if limit else None,
            "utilisation": _ratio(in_flight or 0.0, limit or 0),
        },
        "wer": None
        if score is None
        else {
            "scheme": score.scheme,
            "wer": _finite(score.wer),
            "wer_ok_only": _finite(score.wer_ok_only),
            "samples": score.n_samples,
            "total": score.total_samples,  # the split's rows when known, else the file's
            "ok": score.n_ok,
            "skipped_short": score.n_skipped,
            "failed": score.n_failed,
            "coverage_percent": round(score.coverage, 2) if score.size_known else None,
        },
        "endpoints": endpoint_rows(pool),
    }


def _s(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def speed_lines(summary: dict[str, Any]) -> list[str]:
    """Latency percentiles, both RTFx figures (named), and the Little's-law line."""
    lines = []
    lat = summary["latency_s"]
    if lat["n"]:
        lines.append(
            f"latency over {lat['n']} ok requests: p50 {_s(lat['p50'])} s, p90 {_s(lat['p90'])} s,"
            f" p99 {_s(lat['p99'])} s, max {_s(lat['max'])} s (mean {_s(lat['mean'])} s)"
        )
    rtfx = summary["rtfx"]
    this_run = summary["this_run"]
    lines.append(
        f"per-request RTFx {_s(rtfx['per_request'], 2)} (the leaderboard's: Σ audio ÷ Σ request "
        f"time over the results file; this run alone {_s(rtfx['per_request_this_run'], 2)})"
    )
    lines.append(
        f"throughput RTFx {_s(rtfx['throughput'], 2)} (Σ audio ÷ wall clock: "
        f"{this_run['audio_s']:.1f} s of audio in {summary['wall_s']:.1f} s with up to "
        f"{summary['max_workers']} requests in flight)"
    )
    little = summary["little"]
    if little["requests_per_s"]:
        line = (
            f"Little's law: {little['requests_per_s']:.2f} requests/s × "
            f"{little['mean_latency_s']:.3f} s mean latency = {little['mean_in_flight']:.1f} "
            "requests in flight on average"
        )
        if little["utilisation"] is not None:
            used = little["utilisation"]
            line += f" of {little['limit']} allowed ({100 * used:.0f} %"
            if little["reachable"] is not None and little["reachable"] < little["limit"]:
                line += f"; only {little['reachable']} samples to send, so at most that many"
            elif used < 0.8:
                line += (
                    "; below the limit: retry back-offs, the client, audio prep or the ramp-up "
                    "and drain of a short run held the load back, not the endpoints"
                )
            line += ")"
        lines.append(line)
    return lines


def endpoint_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(24, *(len(r["url"]) for r in rows))
    out = [f"{'endpoint':<{width}} requests   share  errors  mean latency  errors by kind"]
    for r in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in r["errors_by_kind"].items())
        out.append(
            f"{r['url']:<{width}} {r['requests']:>8} {100 * r['share']:>6.1f}% {r['errors']:>7}"
            f" {_s(r['mean_latency_s']):>12}s  {kinds}"
        )
    return out


def print_summary(
    path: Path,
    stats: RunStats,
    pool: EndpointPool,
    source: SourceStats,
    resume: ResumeState,
    *,
    info: dict[str, Any] | None = None,
    limit: int | None = None,
    finished: bool = False,
    expected_samples: int | None = None,
    load: dict[str, Any] | None = None,
    warmup: Warmup | None = None,
    processes: int = 1,
    redact: Callable[[str], str] = lambda s: s,
) -> dict[str, Any]:
    """Print the summary (details to stderr, the seed's three lines to stdout), write it as
    JSON beside the results file, and return it. `load` (reporting/load.py: arrival,
    latency from the intended start, late starts, achieved rate, goodput) joins the top
    level of the summary."""
    err = sys.stderr
    wall = stats.wall_s
    print(
        f"this run: {stats.done} samples written ({stats.ok} ok, {stats.skipped_short} too short "
        f"to send, {stats.failed} failed) in {wall:.1f} s; {stats.retries} retries",
        file=err,
    )
    if stats.failed_by_kind:
        kinds = ", ".join(f"{k}: {v}" for k, v in stats.failed_by_kind.most_common())
        print(f"failed by kind: {kinds} (rerun the same command to retry them)", file=err)
    if source.dropped_empty_reference:
        print(
            f"{source.dropped_empty_reference} samples skipped: reference empty after "
            "normalisation or 'ignore time segment in scoring' (as the leaderboard does)",
            file=err,
        )
    if stats.implausible:
        print(
            f"{stats.implausible} transcripts are implausibly long for their audio (over "
            f"{IMPLAUSIBLE_CHARS_PER_S:g} characters per second, at least "
            f"{IMPLAUSIBLE_FLOOR_CHARS}): scored as they are, as the board does; check the server",
            file=err,
        )
    if resume.finished:
        print(f"{resume.finished} samples were already done in earlier runs", file=err)
    if getattr(source, "duplicate_ids", 0):
        print(
            f"{source.duplicate_ids} rows shared an id with an earlier row; "
            "keyed id#2, id#3, ... so every row is scored once",
            file=err,
        )

    score = None
    if path.exists() and path.stat().st_size > 0:
        from dataclasses import replace

        from asyncbench.scoring import score_file

        score = score_file(path, expected_samples=expected_samples)
        # the split's size unknown (nothing said it, or one shard of it): coverage `of ?`
        score = replace(score, size_known=expected_samples is not None)
    summary = build_summary(
        path,
        stats,
        pool,
        resume,
        info=info or {},
        limit=limit,
        finished=finished,
        score=score,
    )
    for line in speed_lines(summary):
        print(line, file=err)
    from asyncbench.reporting.saturation import saturation_lines, saturation_section

    # a closed loop that no rate cap paced: its throughput interval replays it (saturation.py)
    paced = pool.global_bucket is not None or any(ep.bucket is not None for ep in pool.endpoints)
    closed = load is None or (load.get("arrival") or {}).get("kind", "closed") == "closed"
    slots = limit if closed and not paced else None
    saturation = saturation_section(stats, warmup, slots)  # client_bound, loop_lag_ms, ...
    summary.update(saturation)
    for line in saturation_lines(saturation, processes):
        print(line, file=err)
    if load is not None:
        from asyncbench.reporting.load import load_lines

        summary.update(load)
        for line in load_lines(load):
            print(line, file=err)
    from asyncbench.reporting.streaming import stream_lines, stream_section

    streamed = stream_section(stats)
    if streamed is not None:
        summary.update(streamed)
        for line in stream_lines(streamed):
            print(line, file=err)
    if len(pool.endpoints) > 1 or any(ep.errors for ep in pool.endpoints):
        for line in endpoint_table(summary["endpoints"]):
            print(lines(line), file=err)
    if score is not None:
        from asyncbench.scoring import format_run_summary

        for line in format_run_summary(score)[1:]:  # coverage (and WER without failures)
            print(lines(line), file=err)
    # the server's own words for what failed, counted (the JSONL is where they were before)
    summary["errors_top"] = errors_top(path, redact) if score is not None and score.n_failed else []
    for line in errors_lines(summary["errors_top"]):
        print(lines(line), file=err)
    try:
        out = summary_path(path)
        out.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"summary written to {one_line(out)}", file=err)
    except OSError as exc:
        print(f"warning: cannot write the summary file: {exc.strerror}", file=err)

    print("Results saved at path:", one_line(path))
    if score is None:
        return summary
    print("WER:", score.wer, "%")
    print("RTFx:", round(score.rtfx, 2) if score.rtfx is not None else "n/a (no timed requests)")
    return summary
