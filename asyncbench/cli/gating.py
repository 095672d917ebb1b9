"""`--fail_if` after `asyncbench run`: each gate printed PASS/FAIL with its figure; exit 3
if any failed (the figures come from the `.summary.json` the run just wrote)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asyncbench.core.gates import GATE_FAILED, Condition, judge

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig


def run_gates(cfg: RunConfig, gates: Sequence[Condition]) -> int:
    """Print every gate's outcome on stdout; the exit code (0, or 3 if any failed)."""
    from asyncbench.reporting.load import gate_figures
    from asyncbench.reporting.summary import read_summary
    from asyncbench.runs.runner import results_path

    summary = read_summary(results_path(cfg))
    if summary is None:
        print("error: no summary to judge the --fail_if gates on", file=sys.stderr)
        return GATE_FAILED
    outcomes = judge(gates, gate_figures(summary))
    for outcome in outcomes:
        print(outcome.line())
    failed = sum(o.failed for o in outcomes)
    print(f"gates: {len(outcomes) - failed} passed, {failed} failed")
    return GATE_FAILED if failed else 0
