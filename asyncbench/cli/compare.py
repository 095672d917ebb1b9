"""`asyncbench compare RESULTS_DIR --model A --model B`: per-dataset WER differences with
paired-bootstrap intervals and p-values. Only typer here; the scorer loads when it runs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from asyncbench.core.text import lines


def compare_command(
    results_dir: Annotated[
        str, typer.Argument(help="Folder searched recursively for *.jsonl results files.")
    ] = "results",
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Exactly twice: the baseline, then the model compared with it (its WER "
            "minus the baseline's is shown).",
        ),
    ] = None,
    scoring: Annotated[
        str, typer.Option("--scoring", help="leaderboard (default) or legacy, as for score.")
    ] = "leaderboard",
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Paired bootstrap resamples (seeded).")
    ] = 1000,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the comparison as one JSON object.")
    ] = False,
) -> None:
    """Is the second model better than the first on each dataset and overall, beyond chance?"""
    from asyncbench.core.errors import ConfigError
    from asyncbench.scoring.compare import compare_models, comparison_as_json, format_comparison

    try:
        models = model or []
        if len(models) != 2:
            raise ConfigError(
                f"compare needs --model exactly twice (A, then B), got {len(models)}: "
                "e.g. --model deepgram/nova-3 --model openai/whisper-1"
            )
        result = compare_models(
            results_dir, models[0], models[1], scheme=scoring, resamples=bootstrap
        )
    except ConfigError as e:
        print(f"error: {lines(e)}", file=sys.stderr)
        raise typer.Exit(ConfigError.exit_code) from None
    if json_output:
        print(json.dumps(comparison_as_json(result), indent=2))
    else:
        print(lines(format_comparison(result)))
    for problem in result.problems:
        print(f"warning: {lines(problem)}", file=sys.stderr)
