"""`asyncbench score`: the seed's `eval_utils.score_results` as a command.

Imported by the main CLI for `--help`, so only typer is imported here; the scorer itself
is imported when the command runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from asyncbench.core.text import lines as safe_lines


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
    csv_output: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="Print only the board's CSV summary blocks (public, extra, ml_<lang>, "
            "longform) as its score_results prints them, to paste into a submission.",
        ),
    ] = False,
    csv_layout: Annotated[
        str,
        typer.Option(
            "--csv_layout",
            "--csv-layout",
            help="With --csv, which scorer's blocks: 2026h2 (default; the board since "
            "August 2026: 8 English sets incl. Monsoon en-IN, one '<set> RTFx' column per set, "
            "ml_nl/ml_hy/ml_hi) or d1e99b2 (the older scorer's output, byte for byte).",
        ),
    ] = "2026h2",
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail_if",
            "--fail-if",
            help='Gate per model, repeatable: exit 3 if it holds, e.g. "wer>8" (composite '
            'WER %), "coverage<99.5" (% of samples finished), "rtfx<2"',
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            help="Bootstrap resamples for each WER's 95 % confidence interval (over "
            "utterances; recordings for chunked sets), seeded; 0 turns them off.",
        ),
    ] = 1000,
    prices: Annotated[
        str | None,
        typer.Option(
            "--prices",
            help="Price table (TOML, the format of asyncbench/data/prices.toml) for the "
            "cost $ column; default: the shipped table. --bootstrap 0 without --prices or "
            "--price_per_hour prints the seed's table alone (cost stays in --json).",
        ),
    ] = None,
    price_per_hour: Annotated[
        float | None,
        typer.Option("--price_per_hour", help="USD per audio hour for every model, per second."),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="A results file: the run to score where one model has several runs of a "
            "dataset under the folder (the candidates are listed when it is needed).",
        ),
    ] = None,
) -> None:
    """Score results files exactly like the Open ASR Leaderboard."""
    from asyncbench.core.errors import ConfigError
    from asyncbench.core.gates import SCORE_GATE_METRICS, parse_gates
    from asyncbench.scoring.score import collect_scores
    from asyncbench.scoring.table import print_report

    try:
        if csv_output and json_output:
            raise ConfigError("--csv and --json each print the scores alone: pass one of them")
        csv_layout = check_csv_layout(csv_layout)
        gates = parse_gates(fail_if, SCORE_GATE_METRICS)
        report = collect_scores(
            results_dir,
            model,
            scheme=scoring,
            bootstrap=bootstrap,
            prices=prices,
            price_per_hour=price_per_hour,
            priced=True,
            run=run,
        )
    except ConfigError as e:
        print(f"error: {safe_lines(e)}", file=sys.stderr)
        raise typer.Exit(ConfigError.exit_code) from None
    if csv_output:
        from asyncbench.scoring.board_csv import csv_blocks

        lines = csv_blocks(report, csv_layout)
        if not lines:
            print(
                "error: none of the scored files belongs to a family of the board's CSV "
                "(public, extra, ml_<lang>, longform): their dataset ids name no such split",
                file=sys.stderr,
            )
            raise typer.Exit(ConfigError.exit_code)
        print(safe_lines("\n".join(lines)))
        for note in report.notes:
            print(f"note: {safe_lines(note)}", file=sys.stderr)
        for problem in report.problems:
            print(f"warning: {safe_lines(problem)}", file=sys.stderr)
        return
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


CSV_LAYOUTS = ("2026h2", "d1e99b2")  # board_csv.LAYOUTS' keys, named here so --help stays light


def check_csv_layout(value: str) -> str:
    """`--csv_layout`, checked: one of CSV_LAYOUTS (case and blanks forgiven)."""
    from asyncbench.core.errors import ConfigError

    layout = value.strip().lower()
    if layout not in CSV_LAYOUTS:
        raise ConfigError(
            f"--csv_layout {value!r} is not a layout: use 2026h2 (the board's scorer since "
            "August 2026, the default) or d1e99b2 (its older scorer)"
        )
    return layout
