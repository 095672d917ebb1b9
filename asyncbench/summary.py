"""End of a run: what happened to every sample, per endpoint, and the seed's score lines."""

from __future__ import annotations

import sys
from pathlib import Path

from asyncbench.dataset import SourceStats
from asyncbench.endpoints import EndpointPool
from asyncbench.results import ResumeState
from asyncbench.stats import RunStats


def print_summary(
    path: Path, stats: RunStats, pool: EndpointPool, source: SourceStats, resume: ResumeState
) -> None:
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
    if resume.finished:
        print(f"{resume.finished} samples were already done in earlier runs", file=err)
    if stats.attempts:
        print(
            f"{stats.requests_per_s:.1f} requests/s, mean {stats.mean_in_flight:.1f} in flight",
            file=err,
        )
    if len(pool.endpoints) > 1 or any(ep.errors for ep in pool.endpoints):
        print("endpoint                                   requests  errors  mean latency", file=err)
        for ep in pool.endpoints:
            print(
                f"{ep.url:<42} {ep.requests:>8} {ep.errors:>7} {ep.mean_latency:>12.3f}s", file=err
            )

    print("Results saved at path:", path)
    if not path.exists() or path.stat().st_size == 0:
        return
    from asyncbench.scoring import score_file

    score = score_file(path)
    print("WER:", score.wer, "%")
    print("RTFx:", round(score.rtfx, 2) if score.rtfx is not None else "n/a (no timed requests)")
