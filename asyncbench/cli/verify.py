"""`asyncbench verify RESULTS_DIR [--dataset_path P]`: is this folder a submission a board
maintainer could accept? The checks live in `reporting/verify.py`; this is the command."""

from __future__ import annotations

from typing import Annotated

import typer


def verify_command(
    results_dir: Annotated[
        str, typer.Argument(help="Folder searched recursively for *.jsonl results files.")
    ] = "results",
    dataset_path: Annotated[
        str | None,
        typer.Option(
            "--dataset_path",
            "--dataset-path",
            help="The dataset the runs read (folder or hub id): every line's sample is "
            "checked to be one of its samples, unchanged since it ran",
        ),
    ] = None,
) -> None:
    """Check every results file against its sidecar (and the dataset): coverage, duplicates,
    failures, foreign or changed samples, provenance, scores recomputed; exit 0 only when
    the folder could be accepted as a submission."""
    from asyncbench.reporting.verify import verify

    code = verify(results_dir, dataset_path)
    if code:
        raise typer.Exit(code)
