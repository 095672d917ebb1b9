"""`asyncbench score`: the seed's `eval_utils.score_results` as a command.

Imported by the main CLI for `--help`, so only typer is imported here; the scorer itself
is imported when the command runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def score_command(
    results_dir: Annotated[
        str, typer.Argument(help="Folder searched recursively for *.jsonl results files.")
    ] = "results",
    model: Annotated[
        str | None,
        typer.Option("--model", help="Score only this model's files, e.g. elevenlabs/scribe_v1."),
    ] = None,
    scoring: Annotated[
        str,
        typer.Option(
            "--scoring",
            help="leaderboard (the current board, default) or legacy "
            "(Whisper normaliser + jiwer, for numbers computed in 2025).",
        ),
    ] = "leaderboard",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the scores as one JSON object instead.")
    ] = False,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail_if",
            "--fail-if",
            help='Gate per model, repeatable: exit 3 if it holds, e.g. "wer>8" (composite '
            'WER %), "coverage<99.5" (% of samples finished), "rtfx<2"',
        ),
    ] = None,
) -> None:
    """Score results files exactly like the Open ASR Leaderboard."""
    from asyncbench.core.errors import ConfigError
    from asyncbench.core.gates import SCORE_GATE_METRICS, parse_gates
    from asyncbench.scoring.score import collect_scores
    from asyncbench.scoring.table import print_report

    try:
        gates = parse_gates(fail_if, SCORE_GATE_METRICS)
        report = collect_scores(results_dir, model, scheme=scoring)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(ConfigError.exit_code) from None
    print_report(report, as_json=json_output)
    if gates:
        from asyncbench.scoring.gating import score_gates

        outcomes, code = score_gates(report, gates)
        out = sys.stderr if json_output else sys.stdout  # --json keeps stdout one object
        for model_id, outcome in outcomes:
            print(outcome.line(model_id), file=out)
        failed = sum(o.failed for _, o in outcomes)
        print(f"gates: {len(outcomes) - failed} passed, {failed} failed", file=out)
        if code:
            raise typer.Exit(code)
