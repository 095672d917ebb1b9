"""Command line: `asyncbench run|score|serve|demo ...` (and `run_eval.py`, the seed's entry).

Only light modules are imported here so that `--help` answers at once; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Benchmark speech-to-text endpoints on the Open ASR Leaderboard English sets.",
)


def main() -> None:
    app()
