"""`asyncbench dataset make SRC --out DIR`: your own audio and transcripts as a hub-layout set.

The work is `asyncbench.sources.own_audio`; this module is its options and what the user
reads: each skipped row on a line of its own, then one summary and the command to run next.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from asyncbench.core.text import one_line

dataset_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Build a dataset folder every command reads from your own audio and transcripts.",
)


@dataset_app.callback()
def _dataset() -> None:
    """Build a dataset folder every command reads from your own audio and transcripts."""


@dataset_app.command("make")
def make_command(
    src: Annotated[
        Path,
        typer.Argument(
            help="A folder of audio (any format FFmpeg reads) with its transcripts: one "
            ".tsv/.csv/.jsonl table or NeMo manifest (file + text columns), Kaldi text + "
            "wav.scp, or a .txt beside each audio file; or the table file itself",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="New folder to write the set to", show_default=False)
    ],
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="ISO 639-1 code of the speech (recorded in the card; runs use it when "
            "given no --language)",
        ),
    ] = None,
    config: Annotated[str, typer.Option("--config", help="Config name (run's --dataset)")] = (
        "default"
    ),
    split: Annotated[str, typer.Option("--split", help="Split name (run's --split)")] = "test",
) -> None:
    """Decode every clip once, write parquet + card to --out, list every row left out."""
    from asyncbench.sources.own_audio import SKIPPED_NAME, make_dataset

    start = time.perf_counter()
    made = make_dataset(src, out, config=config, split=split, language=language)
    for bad in made.bad:
        print(bad.line(), file=sys.stderr)
    skipped = f", {len(made.bad)} skipped (listed above and in {SKIPPED_NAME})" if made.bad else ""
    audio = f"{made.seconds:.1f} s" if made.seconds < 120 else f"{made.seconds / 60:.1f} min"
    print(
        f"wrote {one_line(out, 200)}: {made.rows} clips, {audio} of audio from "
        f"{made.kind}{skipped} in {time.perf_counter() - start:.1f} s"
    )
    next_args = ["asyncbench", "run", "--model_name", "PROVIDER/MODEL", "--dataset_path"]
    next_args += [str(out), "--dataset", config, "--split", split]
    print("next: " + one_line(shlex.join(next_args), 400))
