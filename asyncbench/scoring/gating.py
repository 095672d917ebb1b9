"""`asyncbench score --fail_if "wer>8"`: gates on each model's composite figures.

A results folder holds no run timings worth gating, so `score` judges `wer` (the composite:
the mean of the per-dataset WERs, as the leaderboard), `coverage` (finished ÷ all samples over
the model's asyncbench files; none for foreign files) and `rtfx` (the composite RTFx).
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncbench.core.gates import GATE_FAILED, Condition, GateOutcome, judge
from asyncbench.scoring.score import ScoreReport


def model_figures(report: ScoreReport) -> dict[str, dict[str, float | None]]:
    """model id → the figures its gates judge."""
    out: dict[str, dict[str, float | None]] = {}
    for comp in report.composites:
        ours = [f for f in report.files if f.model_id == comp.model_id and f.ours]
        total = sum(f.total_samples for f in ours)
        done = sum(f.n_done for f in ours)
        known = all(f.size_known for f in ours)  # an unknown size is no 100 %
        out[comp.model_id] = {
            "wer": comp.wer,
            "coverage": 100 * done / total if total and known else None,
            "rtfx": comp.rtfx,
        }
    return out


def score_gates(
    report: ScoreReport, gates: Sequence[Condition]
) -> tuple[list[tuple[str, GateOutcome]], int]:
    """(each model's outcomes, the exit code: 3 if any gate failed for any model)."""
    outcomes = [
        (model, outcome)
        for model, figures in model_figures(report).items()
        for outcome in judge(gates, figures)
    ]
    return outcomes, GATE_FAILED if any(o.failed for _, o in outcomes) else 0
