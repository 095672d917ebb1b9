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
            "(Whisper normaliser + jiwer, for numbers computed in 2025). Files of the "
            "multilingual track (fleurs_de, mcv_fr, mls_it, ... or a sidecar language) are "
            "scored with the board's multilingual scheme either way.",
        ),
    ] = "leaderboard",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the scores as one JSON object instead.")
    ] = False,
) -> None:
    """Score results files exactly like the Open ASR Leaderboard."""
    from asyncbench.errors import ConfigError
    from asyncbench.scoring.score import collect_scores
    from asyncbench.scoring.table import print_report

    try:
        report = collect_scores(results_dir, model, scheme=scoring)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(ConfigError.exit_code) from None
    print_report(report, as_json=json_output)
